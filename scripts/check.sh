#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check: set up everything on a fresh machine, lint and build rust_gup
# and its selftests, boot the test kernel and run the harness in it.
#
# Four boots: the suite on the test kernel, and its migration tests on the
# test kernel with ZONE_MOVABLE and CMA; then both again on the debug
# kernel (KASAN, kmemleak, lockdep, DEBUG_VM, DEBUG_ATOMIC_SLEEP, fault
# injection; scripts/kernel/debug.config), where any report fails a test.
#
# Environment:
#   VMTESTS_ARGS    arguments for run_vmtests.sh, e.g. -t "device": one
#                   boot of the test kernel with just that
#   CHECK_DEBUG     0: leave out the debug kernel's boot (default 1)
#   CHECK_TIMEOUT   seconds a guest may run (default 3000)
#   KDIR            test against this kernel tree instead of the project's
#                   (no debug boot then: the debug kernel is the project's)
#
# Ends with one line "N passed, N failed, N skipped" (top-level tests; a
# test the plan announced but that never reported counts as failed) and
# exits non-zero if a test failed, the guest did not finish, the kernel
# splatted, or FOLL_PIN counters were left unbalanced.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

start=$SECONDS
elapsed() { echo "$((SECONDS - start)) s"; }

"$TOPDIR/scripts/deps.sh"
kdir=${KDIR:-$("$TOPDIR/scripts/kernel.sh" test)}
mk() { make -C "$TOPDIR" --no-print-directory KDIR="$kdir" "$@"; }
debug=0
if [ -z "${KDIR:-}" ] && [ -z "${VMTESTS_ARGS:-}" ] && [ "${CHECK_DEBUG:-1}" = 1 ]; then
	debug=1
	debug_kdir=$("$TOPDIR/scripts/kernel.sh" debug)
fi

step "lint: rustfmt and clippy ($(elapsed))"
mk lint

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
boot() {
	local part=$TOPDIR/build/check-$1.log vm=$TOPDIR/scripts/vm
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
	[ $status = 0 ] || rc=$status
}
if [ -n "${VMTESTS_ARGS:-}" ]; then
	step "test: booting the test kernel ($(elapsed))"
	# shellcheck disable=SC2086 # VMTESTS_ARGS is split on purpose
	boot main -- run_vmtests.sh $VMTESTS_ARGS
else
	step "test: booting the test kernel ($(elapsed))"
	boot main -- run_vmtests.sh -x migration
	step "test: booting with movablecore=768M cma=64M for the migration test ($(elapsed))"
	boot zones --append movablecore=768M --append cma=64M -- run_vmtests.sh -t migration
fi

if [ $debug = 1 ]; then
	# An out-of-tree module is built in its source directory, and the
	# debug kernel needs objects of its own: build a copy of the sources
	# (build products and .git left out, as .gitignore says) against it.
	step "build: module, selftests, initramfs for the debug kernel ($(elapsed))"
	dsrc=$TOPDIR/build/debug-src
	mkdir -p "$dsrc"
	rsync -a --delete --exclude=/.git/ --filter=':- .gitignore' "$TOPDIR/" "$dsrc/"
	make -C "$dsrc" --no-print-directory KDIR="$debug_kdir" WERROR=1 initramfs
	step "test: booting the debug kernel (KASAN, kmemleak, lockdep, ...; about 30 minutes) ($(elapsed))"
	boot debug --from "$dsrc" --flavour debug -- run_vmtests.sh -x migration
	step "test: the debug kernel with movablecore=768M cma=64M for the migration tests ($(elapsed))"
	boot debug-zones --from "$dsrc" --flavour debug --append movablecore=768M --append cma=64M \
		-- run_vmtests.sh -t migration
fi

# The harness's own lines are the unindented TAP ones; kernel lines carry
# a timestamp and the tests' output is indented as comments.
# On the project's own kernels every test can run: a skip there means a
# kernel option went missing (32-bit processes, kmemleak, ...), and fails.
tr -d '\r' <"$log" | awk -v rc="$rc" -v took="$(elapsed)" -v strict="$([ -z "${KDIR:-}" ] && echo 1)" '
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
		printf "check: finished in %s, guest exit status %d\n", took, rc
		printf "%d passed, %d failed, %d skipped\n", pass, fail, skip
		exit (rc != 0 || fail > 0 || plan == 0)
	}'
