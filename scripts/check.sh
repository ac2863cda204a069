#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check and make check-full: set up everything on a fresh machine,
# lint and build rust_gup and its selftests, boot the test kernels and run
# the harness in them.
#
# make check boots four times: the suite on the 6.12 test kernel, and its
# migration tests on the test kernel with ZONE_MOVABLE and CMA; the same
# two on the mainline (7.3) test kernel. When the pinned mainline source
# can no longer be fetched, its boots are skipped with a loud message and
# counted as one skipped test (scripts/kernel-source.sh). make check-full
# (CHECK_DEBUG=1 CHECK_KCSAN=1) adds two boots of the debug kernel (KASAN,
# kmemleak, lockdep, DEBUG_VM, UBSAN, DEBUG_OBJECTS, fault injection, ...;
# scripts/kernel/debug.config), the suite and the migration tests, where
# any report fails a test, and one of the 6.12 KCSAN kernel
# (scripts/kernel/kcsan.config): the concurrency tests and the fuzzer's
# coverage, where a data race in the module fails a test. The split keeps
# make check on a fresh machine (two kernel builds) under an hour.
#
# Environment:
#   VMTESTS_ARGS    arguments for run_vmtests.sh, e.g. -t "device": one
#                   boot of the test kernel with just that
#   CHECK_DEBUG     1: the debug kernel's boots too (default 0; make
#                   check-full sets it)
#   CHECK_KCSAN     1: the KCSAN kernel's boot too (default 0; make
#                   check-full sets it)
#   CHECK_MAINLINE  0: leave out the mainline kernel's boots (default 1)
#   CHECK_TIMEOUT   seconds a guest may run (default 3000)
#   KDIR            test against this kernel tree instead of the project's
#                   (no debug, KCSAN or mainline boot then: those kernels
#                   are the project's)
#
# Ends with the subtests per category of each boot, then one line "N
# passed, N failed, N skipped" (top-level tests; a test the plan announced
# but that never reported counts as failed), and exits non-zero if a test
# failed, the guest did not finish, the kernel splatted, or FOLL_PIN
# counters were left unbalanced. On the project's own kernels the harness
# runs with -S: a skip, a subtest's included, fails its test.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

# It runs each supported kernel itself: a KERNEL from the environment does
# not choose one.
export KERNEL=6.12

start=$SECONDS
elapsed() { echo "$((SECONDS - start)) s"; }

"$TOPDIR/scripts/deps.sh"
kdir=${KDIR:-$("$TOPDIR/scripts/kernel.sh" test)}
mk() { make -C "$TOPDIR" --no-print-directory KDIR="$kdir" "$@"; }
# The other kernels, each with its tree: flavour_kdir[FLAVOUR], where
# mainline is the mainline test kernel.
declare -A flavour_kdir=()
mainline_skipped=0
if [ -z "${KDIR:-}" ] && [ -z "${VMTESTS_ARGS:-}" ]; then
	if [ "${CHECK_MAINLINE:-1}" = 1 ]; then
		status=0
		flavour_kdir[mainline]=$(KERNEL=$MAINLINE_KERNEL "$TOPDIR/scripts/kernel.sh" test) || status=$?
		case $status in
		0) ;;
		77)
			unset 'flavour_kdir[mainline]'
			mainline_skipped=1
			;;
		*) die "the Linux $MAINLINE_KERNEL test kernel could not be built" ;;
		esac
	fi
	if [ "${CHECK_DEBUG:-0}" = 1 ]; then
		flavour_kdir[debug]=$("$TOPDIR/scripts/kernel.sh" debug)
	fi
	if [ "${CHECK_KCSAN:-0}" = 1 ]; then
		flavour_kdir[kcsan]=$("$TOPDIR/scripts/kernel.sh" kcsan)
	fi
fi

step "lint: rustfmt and clippy ($(elapsed))"
mk lint
step "test: the layer's rules, broken on purpose, do not compile ($(elapsed))"
mk compile-fail

# The harness's output and this one's are counted together at the end.
log=$TOPDIR/build/check.log
mkdir -p "$TOPDIR/build"
rm -f "$log"
step "test: the entry points set up before they look for tools ($(elapsed))"
env -u KDIR "$TOPDIR/scripts/check-setup-order.sh" | tee "$log" || true

step "build: module, selftests, initramfs ($(elapsed))"
mk WERROR=1 initramfs

# The test kernel boots twice: the tests, then the migration tests with
# ZONE_MOVABLE and a CMA area. It gets a boot of its own because with
# movablecore= the boot-time hugetlb pool lands in ZONE_MOVABLE, where
# long-term pins of private hugetlb mappings fail (the kernel finds no
# non-movable huge page to migrate them to), which the other tests would
# trip over. VMTESTS_ARGS, when given, replaces both with one boot.
rc=0
failed_boots=()
boots=()
# The project's kernels make every environment the tests need: there a
# skip is a failure (run_vmtests.sh -S). A KDIR of the user's is not.
strict=()
[ -n "${KDIR:-}" ] || strict=(-S)
boot() {
	local name=$1 part=$TOPDIR/build/check-$1.log vm=$TOPDIR/scripts/vm
	shift
	if [ "$1" = --from ]; then
		vm=$2/scripts/vm
		shift 2
	fi
	set +e
	"$vm" --no-build --timeout "${CHECK_TIMEOUT:-3000}" --log "$part" "$@"
	local status=$?
	set -e
	cat "$part" >>"$log"
	boots+=("$name")
	[ $status != 0 ] || return 0
	rc=$status
	# Said again at the end, where a short tail of the output shows it.
	local why=
	[ $status != 124 ] || why=" (it did not finish; the last test started: $(
		sed -n 's/^# selftests: rust_gup: //p' "$part" | tail -1))"
	failed_boots+=("check: the $name boot ended with status $status$why")
	# With its failed tests (the console watch's verdicts are above).
	local line
	while IFS= read -r line; do
		failed_boots+=("check:   $line")
	done < <(tr -d '\r' <"$part" | grep -E '^not ok [0-9]+ ' | head -8)
}
if [ -n "${VMTESTS_ARGS:-}" ]; then
	step "test: booting the test kernel ($(elapsed))"
	# shellcheck disable=SC2086 # VMTESTS_ARGS is split on purpose
	boot main -- run_vmtests.sh "${strict[@]}" $VMTESTS_ARGS
else
	step "test: booting the test kernel ($(elapsed))"
	boot main -- run_vmtests.sh "${strict[@]}" -x migration
	step "test: booting with movablecore=768M cma=64M for the migration test ($(elapsed))"
	boot zones --append movablecore=768M --append cma=64M -- run_vmtests.sh "${strict[@]}" -t migration
fi

# An out-of-tree module is built in its source directory, and each other
# kernel needs objects of its own: build a copy of the sources (build
# products and .git left out, as .gitignore says) against it, in $src.
# (Not a command substitution: set -e would not stop a failed build there,
# and the boot would take the copy's initramfs of an earlier run.) Files
# are compared by content and a changed one gets the time of the copy, not
# the source's: a source older than the copy's object of an edited
# version must still be rebuilt.
# The mainline copy is linted and its compile-fail cases built too: its
# layer compiles other cfgs.
flavour_src() {
	src=$TOPDIR/build/$1-src
	step "build: module, selftests, initramfs for the $1 kernel ($(elapsed))"
	mkdir -p "$src"
	rsync -rlp --checksum --delete --exclude=/.git/ --filter=':- .gitignore' "$TOPDIR/" "$src/"
	if [ "$1" = mainline ]; then
		make -C "$src" --no-print-directory KDIR="${flavour_kdir[$1]}" lint
		make -C "$src" --no-print-directory KDIR="${flavour_kdir[$1]}" compile-fail
	fi
	make -C "$src" --no-print-directory KDIR="${flavour_kdir[$1]}" WERROR=1 initramfs
}
if [ -n "${flavour_kdir[mainline]:-}" ]; then
	flavour_src mainline
	export KERNEL=$MAINLINE_KERNEL
	step "test: booting the Linux $KERNEL test kernel ($(elapsed))"
	boot mainline --from "$src" -- run_vmtests.sh -S -x migration
	step "test: Linux $KERNEL with movablecore=768M cma=64M for the migration test ($(elapsed))"
	boot mainline-zones --from "$src" --append movablecore=768M --append cma=64M \
		-- run_vmtests.sh -S -t migration
	KERNEL=6.12
fi
if [ -n "${flavour_kdir[debug]:-}" ]; then
	flavour_src debug
	# Each gup matrix (gup_test, compat32) once, with 123 pages, not three
	# times: there the debug kernel checks the same code paths, and the
	# three counts took 24 of its 37 minutes (the test kernel runs them all).
	step "test: booting the debug kernel (KASAN, kmemleak, lockdep, ...; about 25 minutes) ($(elapsed))"
	# Its tests get twice the time (the fuzzer took 100 to 165 s here, and
	# CI runs 1.3 to 1.5 times slower).
	# Its own categories must be listed (-e): a kernel option that went
	# missing would otherwise leave them out unseen.
	boot debug --from "$src" --flavour debug -- \
		env RUST_GUP_TEST_TIMEOUT=600 run_vmtests.sh -S -e "dma-api fail-nth kmemleak" -x migration -n 123
	step "test: the debug kernel with movablecore=768M cma=64M for the migration tests ($(elapsed))"
	boot debug-zones --from "$src" --flavour debug --append movablecore=768M --append cma=64M \
		-- run_vmtests.sh -S -t migration
fi
if [ -n "${flavour_kdir[kcsan]:-}" ]; then
	flavour_src kcsan
	step "test: booting the KCSAN kernel for the concurrency tests and the fuzzer's coverage ($(elapsed))"
	boot kcsan --from "$src" --flavour kcsan -- run_vmtests.sh -S -e races -t races
fi

# The harness's own lines are the unindented TAP ones; kernel lines carry
# a timestamp and the tests' output is indented as comments.
# On the project's own kernels every test can run: a skip there means a
# kernel option went missing (32-bit processes, kmemleak, ...), and fails.
if [ "$mainline_skipped" = 1 ]; then
	step "SKIPPED: the Linux $MAINLINE_KERNEL kernel's boots (its pinned source could not be fetched; see above)"
fi
# The subtests per category, boot by boot (run_vmtests.sh prints them).
for name in "${boots[@]}"; do
	tr -d '\r' <"$TOPDIR/build/check-$name.log" |
		sed -n 's/^# subtests: //p' | awk -v boot="$name" '
		{ p += substr($2, 6); f += substr($3, 6); s += substr($4, 6); line = line "  " $0 "\n" }
		END { printf "check: %s boot, subtests: pass:%d fail:%d skip:%d\n%s", boot, p, f, s, line }'
done
for line in "${failed_boots[@]}"; do
	echo "$line"
done
tr -d '\r' <"$log" | awk -v rc="$rc" -v took="$(elapsed)" -v strict="$([ -z "${KDIR:-}" ] && echo 1)" \
	-v mainline_skipped="$mainline_skipped" '
	/^1\.\.[0-9]+$/ { plan += substr($0, 4) }
	/^ok [0-9]+ .*# SKIP/ { skip++; next }
	/^ok [0-9]+ / { pass++ }
	/^not ok [0-9]+ / { fail++ }
	END {
		missing = plan - pass - fail - skip
		if (missing > 0) {
			printf "check: %d of %d planned tests did not report\n", missing, plan
			fail += missing
		}
		if (strict && skip > 0) {
			printf "check: %d tests skipped on the project'"'"'s own kernels\n", skip
			fail += skip
			skip = 0
		}
		# Not a missing option: an archive that moved on (one skip).
		skip += mainline_skipped
		printf "check: finished in %s, guest exit status %d\n", took, rc
		printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
		exit (rc != 0 || fail > 0 || plan == 0)
	}'
