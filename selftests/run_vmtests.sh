#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the rust_gup selftests in the test VM, run_vmtests.sh style: one TAP
# line per test, each test's own output indented as TAP comments.
#
# After every test the harness checks what the test itself cannot: the
# FOLL_PIN counters in /proc/vmstat are balanced again, the kernel log shows
# no splat (on a KCSAN kernel, no data race in the project's modules; see
# kcsan_reports), and the test's own subtests (its TAP lines) all reported,
# at least one of them ran, and each test it selects by name ran. Any of
# these fails the test. With -S a skip fails too, a subtest's included.

DIR=$(cd "$(dirname "$0")" && pwd)
PATH=$DIR:$PATH
TIMEOUT=${RUST_GUP_TEST_TIMEOUT:-300}

usage() {
	cat <<EOT
usage: ${0##*/} [-t "CATEGORY..."] [-x "CATEGORY..."] [-e "CATEGORY..."] [-n "COUNT..."]
       [-S] [-l] [-h]

  -t  run only these categories (space-separated); default: all
  -x  leave these categories out
  -e  fail unless this kernel lists these categories (the ones listed
      only on a kernel with their option: dma-api, kmemleak, races)
  -n  the page counts of the gup matrices (gup_test, compat32);
      default: "1 512 123", as the kernel's run_vmtests.sh
  -S  strict: a skip is a failure, a subtest's as well as a test's (for
      the project's own kernels and boots, which make every environment
      the tests need)
  -l  list the tests of the selected categories and exit
  -h  this help

Categories:
  device    /dev/rust_gup: node, open/release, version and stats ioctls
  abi       the gup_test ABI equals the test kernel's mm/gup_test.h
  pin       pin/get semantics through the query command, access through
            a set, bad-input table
  remote    the remote ops on the file's owner: a child, an SCM_RIGHTS
            receiver, accounting to the owner, writes and reads through
            the pins, the owner's exit, a kernel worker, a pid-named
            process (CAP_SYS_PTRACE), owner exit racing remote pins
  gup_test  the gup matrix on /dev/rust_gup, as run_vmtests.sh runs it:
            {THP, no THP, hugetlb} x {-u -U -a -b -L} x {-w -W}
            x {shared, private} x {-n 1, 512, 123} (-n changes the counts)
  compat    the same CLI against the kernel's C gup_test, one run per command
  compat32  32-bit processes (compat_ioctl; skipped on a kernel that cannot
            run them): the ABI of both builds, the gup_test commands with
            their 32-bit numbers next to the C gup_test's answer, the
            bad-input table, the gup matrix and a fuzzer pass, built -m32
  longterm  FOLL_LONGTERM: registrations (pinned_vm, RLIMIT_MEMLOCK, release),
            fork/COW, the file-backed matrix
  migration FOLL_LONGTERM migrates out of ZONE_MOVABLE and CMA (pinned by
            the caller, remotely by a child, by a kernel worker, a memfd
            pin), and the
            migration invalidates HMM mirrors; needs a boot with movablecore=
            and cma= (make check does a second boot)
  memfd     folio pins of a memfd (memfd_pin_folios): shmem, THP shmem,
            hugetlbfs, one pin per folio, the same pages as GUP of a shared
            mapping, seals, truncation, registrations, bad input
  p2p       FOLL_PCI_P2PDMA against the NVMe CMB published as p2pmem, and
            DMA mapping for the NVMe controllers next to O_DIRECT; the
            provider's unbind revoking held P2PDMA sets, racing PIN and
            DMA_MAP
  mirror    the HMM mirror (hmm_range_fault, mmu interval notifier): entries
            invalidated by munmap, MADV_DONTNEED, mprotect, fork/COW, THP
            split, owner exit; device access; races; bad input; no pins
  fuzz      100,000 ioctls with random and edge-case arguments from 4 threads,
            while buffers are remapped, mprotected, dropped and forked and
            files closed underneath (fixed seed)
  dma-api   on a kernel with DMA_API_DEBUG (the debug flavour): errors the
            DMA API's checks counted in the tests above (listed only there)
  faults    SIGKILL while pinning or mirroring, munmap of a pinned range,
            close during ioctls, pins past memory, maximal sets released,
            a page's reference count bounded
  fail-nth  on a kernel with fault injection (the debug flavour): fail-nth
            injection into the module's allocations (listed only there)
  sample    the sample drivers (samples/rust_gup_sample.rs, rust_gup_mr.rs)
  module    unload and load rust_gup repeatedly, leak and busy checks;
            unload while a kernel worker's job still runs
  kmemleak  on a kernel with kmemleak (the debug flavour): objects leaked by
            the tests run before it (listed only on such a kernel)
  races     on a kernel with KCSAN (the kcsan flavour): the concurrency tests
            again, under the data-race detector, and the fuzzer measuring
            its coverage of the module (KCOV) with fault injection (listed
            only on such a kernel)

On a KCSAN kernel a data-race report fails the test that triggered it when
the first frame of either racing access is in the project's modules (a
race of unknown origin: any frame of its one stack); a report whose
accesses are both in the core kernel is shown and counted, not failed.

Each test may run for RUST_GUP_TEST_TIMEOUT seconds (default 300); the
fuzz category's time limit is 4/5 of it.
EOT
}

# The migration boot's tests: that it has what it is for (ZONE_MOVABLE,
# CMA), then the long-term pins: the caller's, a child's remote one, a
# kernel worker's, a memfd's.
MIGRATION_TESTS="migration_boot_has_zone_movable_and_cma
longterm_migrates_out_of_movable_and_cma
remote_longterm_migrates_out_of_movable_and_cma
worker_longterm_migrates_out_of_movable_and_cma
memfd_pin_migrates_out_of_movable_and_cma"
MIRROR_MIGRATION_TEST=migration_invalidates

# One line per test: its category, then its command line.
all_tests() {
	echo "device rust_gup_device"
	echo "abi rust_gup_abi"
	echo "pin rust_gup_pin"
	echo "remote rust_gup_remote -T unload_while_a_worker_runs"
	gup_matrix gup_test rust_gup_test
	for cmd in -u -U -a -b -L; do
		echo "compat rust_gup_test -D /sys/kernel/debug/gup_test $cmd -n 512 -r 2"
	done
	echo "longterm rust_gup_longterm.sh$(printf ' -T %s' $MIGRATION_TESTS)"
	echo "migration rust_gup_longterm$(printf ' -t %s' $MIGRATION_TESTS)"
	echo "p2p rust_gup_p2p -F unbind -F unbind_race -F unpin_revoked"
	# Provider removal: each unbinds and rebinds the provider (a minute or
	# more on the debug kernel), so each has a line, and its time, of its own.
	for held in pinned mapped_for_provider mapped_for_other longterm_registration mixed; do
		echo "p2p rust_gup_p2p -r unbind.$held.revokes_what_it_holds"
	done
	echo "p2p rust_gup_p2p -f unbind_race"
	echo "p2p rust_gup_p2p -f unpin_revoked"
	echo "memfd rust_gup_memfd"
	echo "mirror rust_gup_mirror -T $MIRROR_MIGRATION_TEST"
	echo "migration rust_gup_mirror -t $MIRROR_MIGRATION_TEST"
	# Its time limit (a call that hangs or crawls fails it) is 4/5 of the
	# test's, so that it reports before the harness kills it.
	echo "fuzz rust_gup_fuzz -s 1 -n 100000 -T $((TIMEOUT * 4 / 5))"
	echo "compat32 rust_gup_abi32"
	echo "compat32 rust_gup_compat32"
	echo "compat32 rust_gup_pin32"
	gup_matrix compat32 rust_gup_test32
	echo "compat32 rust_gup_fuzz32 -s 2 -n 20000 -T 120"
	# On a DMA_API_DEBUG kernel, what the DMA API's checks counted in the
	# tests that map (p2p, fuzz); before faults, whose fail-nth can turn
	# those checks off.
	has /sys/kernel/debug/dma-api && echo "dma-api rust_gup_dma_api.sh"
	# Two maximal sets (2^22 pages each) taken and released: minutes on
	# the debug kernel, so a line and a time limit of its own.
	echo "faults rust_gup_faults -T large_releases_reschedule -T fail_nth"
	echo "faults rust_gup_faults -t large_releases_reschedule"
	has /proc/self/fail-nth && echo "fail-nth rust_gup_faults -t fail_nth"
	echo "sample with_module.sh rust_gup_sample rust_gup_sample_test"
	echo "sample with_module.sh rust_gup_mr rust_gup_mr_test"
	echo "module rust_gup_remote -t unload_while_a_worker_runs"
	echo "module rust_gup_reload.sh"
	# Last: on a kmemleak kernel, what the tests above leaked.
	has /sys/kernel/debug/kmemleak && echo "kmemleak rust_gup_kmemleak.sh"
	has /sys/kernel/debug/kcsan && races
	true
}

# Whether this kernel has the file a category needs; every kernel's list
# with ALL_KERNELS=1 (excluded_elsewhere).
has() {
	[ "${ALL_KERNELS:-0}" = 1 ] || [ -e "$1" ]
}

# On a KCSAN kernel: the tests where threads, processes or the provider's
# unbind race the module.
races() {
	echo "races rust_gup_device -t concurrent_open_release"
	echo "races rust_gup_faults -t close_during_ioctl -t sigkill_mid_pin"
	echo "races rust_gup_remote -t owner_exit_races_remote_pins"
	echo "races rust_gup_mirror -t races_with_invalidation"
	echo "races rust_gup_p2p -f unbind_race -r dma.unbind_revokes"
	# Four threads on one file and one buffer, a GUP call per page: the
	# pins and releases through the module's C helpers, racing.
	echo "races rust_gup_test -u -j 4 -n 1 -m 4 -r 20 -q"
	echo "races rust_gup_test -a -j 4 -n 1 -m 4 -r 20 -q"
	# The fuzzer's threads, with its coverage of the module (KCOV) and
	# fault injection into its calls; every command must succeed and
	# every documented errno come back.
	# On a kernel with KCOV the sites file must be there (the initramfs
	# packs it when the module has coverage sites): the fuzzer fails
	# without it.
	sites=
	has /sys/kernel/debug/kcov && sites=$DIR/rust_gup.kcov
	echo "races rust_gup_fuzz -s 3 -n 60000 -T 270 -f -r${sites:+ -c $sites}"
}

# Data-race reports in a dmesg excerpt: "module TITLE" when the first frame
# of either racing access is one of the project's modules (rust_gup, its
# samples; C helpers included), "core TITLE" when neither is. A race of
# unknown origin has one stack, the reader's: "module" when any of its
# frames is the project's, the writer being unnamed.
kcsan_reports() {
	awk '
		/BUG: KCSAN: / {
			title = $0; sub(/.*BUG: KCSAN: /, "", title)
			mod = 0; unknown = 0
			next
		}
		title != "" && /race at unknown origin/ { unknown = 1 }
		title != "" && /(read|write)[^:]* of [0-9]+ bytes by / { frame = 1; next }
		title != "" && /\+0x[0-9a-f]+\/0x[0-9a-f]+/ {
			if ((frame || unknown) && $0 ~ /\[rust_gup/) mod = 1
			frame = 0
			next
		}
		title != "" && /==========/ {
			print (mod ? "module " : "core ") title
			title = ""
		}'
}

# Judges the data-race reports of "$rcfile.dmesg": shows the core kernel's
# (prefixed with $1) and counts them in core_races; module_race is the
# title of the first race in the project's modules, if any.
judge_races() {
	races=$(kcsan_reports <"$rcfile.dmesg")
	echo "$races" | sed -n "s/^core /# kernel: $1KCSAN in the core kernel (not failed): /p"
	core_races=$((core_races + $(echo "$races" | grep -c "^core ")))
	module_race=$(echo "$races" | sed -n 's/^module //p' | head -1)
}

# The matrix of the kernel's run_vmtests.sh (run_gup_matrix), on rust_gup:
# gup_matrix CATEGORY PROGRAM. hugetlb runs use half of the hugetlb pages
# the VM reserves.
gup_matrix() {
	hugetlb_mb=$(awk '/^HugePages_Total:/ { t = $2 } /^Hugepagesize:/ { s = $2 }
			  END { print int(t * s / 1024 / 2) }' /proc/meminfo)
	for huge in -t -T "-H -m $hugetlb_mb"; do
		for cmd in -u -U -a -b -L; do
			for write in -w -W; do
				for share in -S ""; do
					for n in $COUNTS; do
						echo "$1 $2 -q $huge $cmd $write ${share:+$share }-n $n"
					done
				done
			done
		done
	done
}

CATEGORIES=
EXCLUDE=
EXPECT=
COUNTS="1 512 123"
LIST=0
STRICT=0
while getopts "t:x:e:n:Slh" opt; do
	case $opt in
	t) CATEGORIES=$OPTARG ;;
	x) EXCLUDE=$OPTARG ;;
	e) EXPECT=$OPTARG ;;
	n) COUNTS=$OPTARG ;;
	S) STRICT=1 ;;
	l) LIST=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
counts=0
for n in $COUNTS; do
	case $n in
	*[!0-9]* | 0*)
		echo "${0##*/}: -n: not a page count: $n" >&2
		exit 2
		;;
	esac
	counts=$((counts + 1))
done
[ $counts -gt 0 ] || { echo "${0##*/}: -n needs at least one page count" >&2; exit 2; }
case $TIMEOUT in
'' | *[!0-9]* | 0*)
	echo "${0##*/}: RUST_GUP_TEST_TIMEOUT: not a number of seconds: $TIMEOUT" >&2
	exit 2
	;;
esac

selected_tests() {
	all_tests | while read -r category cmd; do
		case " $EXCLUDE " in
		*" $category "*) continue ;;
		esac
		case " ${CATEGORIES:-$category} " in
		*" $category "*) echo "$category $cmd" ;;
		esac
	done
}

# The kselftest_harness name filters of a command line, "OPTION NAME" a
# line: none for the programs whose -t, -f and -r are options of their own
# (rust_gup_test, rust_gup_fuzz, rust_gup_abi), or the scripts that take
# no filters; rust_gup_longterm.sh hands its arguments to
# rust_gup_longterm.
name_filters() {
	set -- $1
	case $1 in
	rust_gup_test* | rust_gup_fuzz* | rust_gup_abi* | with_module.sh | *.sh)
		[ "$1" = rust_gup_longterm.sh ] || return 0 ;;
	esac
	shift
	while [ $# -ge 2 ]; do
		case $1 in
		-[tTfFrRvV]) echo "$1 $2"; shift 2 ;;
		*) shift ;;
		esac
	done
}

# Each test a line leaves out by name (-T, -F, -R) is one another line
# selects by the same name (-t, -f, -r; a fixture also by -r lines of its
# variants): a renamed test fails the line that selects it, not run in the
# wrong place unseen.
excluded_elsewhere() {
	ALL_KERNELS=1 all_tests | while read -r category cmd; do
		name_filters "$cmd"
	done | awk '
		$1 ~ /^-[TFR]$/ { out[tolower($1) " " $2] = $0 }
		$1 ~ /^-[tfr]$/ { in_[$0] = 1 }
		$1 == "-r" { split($2, part, "."); in_["-f " part[1]] = 1 }
		END {
			for (k in out)
				if (!(k in in_))
					printf "%s: left out by name but selected by no line\n", out[k]
		}'
}

if [ $LIST = 1 ]; then
	selected_tests
	exit 0
fi

# FOLL_PIN pins outstanding; per-CPU deltas are folded in first.
pins() {
	echo 1 >/proc/sys/vm/stat_refresh
	awk '/^nr_foll_pin_acquired / { a = $2 } /^nr_foll_pin_released / { r = $2 }
	     END { print a - r }' /proc/vmstat
}

nr=$(selected_tests | wc -l)
[ "$nr" -gt 0 ] || { echo "no test in categories: $CATEGORIES" >&2; exit 2; }
for category in $EXPECT; do
	all_tests | grep -q "^$category " && continue
	echo "-e $category: this kernel does not list it (its kernel option went missing?)" >&2
	exit 2
done
# Checked before anything runs: the list is the script's own.
orphans=$(excluded_elsewhere)
[ -z "$orphans" ] || { echo "$orphans" >&2; exit 2; }

# The subtest results in a test's output (its own TAP lines, not indented),
# "PASS FAIL SKIP PLANNED NAMES": PLANNED the sum of its plans ("1..N"), -1
# with no plan; NAMES the file of the subtests that reported.
subtests() {
	awk -v names="$2" '
		BEGIN { planned = -1 }
		/^1\.\.[0-9]+/ { planned = (planned < 0 ? 0 : planned) + substr($1, 4) }
		/^(not )?ok [0-9]+ / {
			name = $0; sub(/^(not )?ok [0-9]+ /, "", name); sub(/ #.*/, "", name)
			print name >names
		}
		/^ok [0-9]+ .*# SKIP/ { s++; next }
		/^ok [0-9]+ / { p++; next }
		/^not ok [0-9]+ / { f++ }
		END { printf "%d %d %d %d\n", p, f, s, planned }' "$1"
}

# The name filters of "$1" that selected no subtest of those named in "$2":
# -t TEST, -f FIXTURE, -v VARIANT, -r FIXTURE[.VARIANT].TEST, as
# kselftest_harness matches them (FIXTURE.VARIANT.TEST in its TAP lines).
unmatched_filters() {
	name_filters "$1" | while read -r opt name; do
		case $opt in
		-t) grep -q -E "^[^.]+(\.[^.]+)?\.$name\$" "$2" ;;
		-f) grep -q -E "^$name\." "$2" ;;
		-v) grep -q -E "^[^.]+\.$name\.[^.]+\$" "$2" ;;
		-r) grep -q -x -F "$name" "$2" ;;
		*) continue ;;
		esac || echo "$opt $name"
	done
}

echo "TAP version 13"
echo "1..$nr"
n=0 pass=0 fail=0 skip=0 core_races=0
rcfile=$(mktemp)
case " $(selected_tests | cut -d' ' -f1 | tr '\n' ' ') " in
*" kmemleak "*) rust_gup_kmemleak.sh start ;;
esac
# What boot and the module's load printed: splats there fail the run in
# scripts/vm's console watch, but KCSAN reports are left to this harness.
dmesg -c >"$rcfile.dmesg"
judge_races "before the first test, "
boot_race=$module_race
[ -n "$boot_race" ] && echo "# kernel: before the first test: BUG: KCSAN: $boot_race"

# Whether this kernel runs 32-bit processes (CONFIG_IA32_EMULATION, not
# disabled): the shell answers 126 when it cannot execute the program.
ia32=1
"$DIR/rust_gup_abi32" >/dev/null 2>&1
[ $? = 126 ] && ia32=0

selected_tests >"$rcfile.list"
while read -r category cmd; do
	n=$((n + 1))
	name="selftests: rust_gup: $cmd"
	echo "# $name ($category)"
	if [ "$category" = compat32 ] && [ $ia32 = 0 ]; then
		echo "$category 0 0 1" >>"$rcfile.sub"
		if [ $STRICT = 1 ]; then
			fail=$((fail + 1))
			echo "not ok $n $name # this kernel does not run 32-bit processes (-S: a skip fails)"
		else
			skip=$((skip + 1))
			echo "ok $n $name # SKIP this kernel does not run 32-bit processes"
		fi
		continue
	fi
	t0=$(cut -d' ' -f1 /proc/uptime)
	# shellcheck disable=SC2086 # the command line is split on purpose
	{ timeout -s KILL "$TIMEOUT" $cmd 2>&1; echo $? >"$rcfile"; } </dev/null |
		tee "$rcfile.out" | sed 's/^/# /'
	rc=$(cat "$rcfile")
	echo "# took $(awk -v t0="$t0" '{ printf "%.1f", $1 - t0 }' /proc/uptime) s"

	why=
	[ "$rc" = 137 ] && why="timed out after ${TIMEOUT}s"
	# What its subtests reported; a program without TAP lines of its own
	# counts as one subtest, its exit code's.
	read -r sub_pass sub_fail sub_skip planned <<EOT
$(subtests "$rcfile.out" "$rcfile.names")
EOT
	if [ "$planned" = 0 ]; then
		why="$why${why:+, }it ran no test (a name filter or a plan of 0)"
	elif [ "$planned" -gt 0 ] && [ $((sub_pass + sub_fail + sub_skip)) -lt "$planned" ] &&
	     [ "$rc" != 137 ]; then
		why="$why${why:+, }$((planned - sub_pass - sub_fail - sub_skip)) of $planned subtests did not report"
	fi
	if [ "$planned" != 0 ]; then
		touch "$rcfile.names"
		unmatched=$(unmatched_filters "$cmd" "$rcfile.names" | tr '\n' ' ')
		[ -z "$unmatched" ] || why="$why${why:+, }no test ran for ${unmatched% }"
	fi
	rm -f "$rcfile.names"
	if [ $((sub_pass + sub_fail + sub_skip)) = 0 ]; then
		case $rc in
		0) sub_pass=1 ;;
		4) sub_skip=1 ;;
		*) sub_fail=1 ;;
		esac
	fi
	if [ $STRICT = 1 ] && [ "$sub_skip" -gt 0 ]; then
		why="$why${why:+, }$sub_skip skipped (-S: a skip fails)"
		grep -E '^ok [0-9]+ .*# SKIP' "$rcfile.out" | sed 's/^/# skipped: /'
	fi
	leaked=$(pins)
	[ "$leaked" = 0 ] || why="$why${why:+, }$leaked pins not released (nr_foll_pin_acquired - released)"
	dmesg -c >"$rcfile.dmesg"
	# A KCSAN report is judged whole (kcsan_reports), not by its first line.
	splat=$(grep -v "BUG: KCSAN: " "$rcfile.dmesg" | grep -E -f "$DIR/splat-patterns" | head -5)
	judge_races ""
	[ -n "$module_race" ] && splat="$splat${splat:+
}BUG: KCSAN: $module_race"
	if [ -n "$splat" ]; then
		echo "$splat" | sed 's/^/# kernel: /'
		why="$why${why:+, }kernel splat"
	fi

	if [ -n "$why" ] || { [ "$rc" != 0 ] && [ "$rc" != 4 ]; }; then
		fail=$((fail + 1))
		# A test that failed with its subtests passed (a check after
		# them, or the harness's) counts one failed subtest.
		[ "$sub_fail" != 0 ] || sub_fail=1
		echo "not ok $n $name # exit=$rc${why:+ $why}"
	elif [ "$rc" = 4 ]; then
		skip=$((skip + 1))
		echo "ok $n $name # SKIP"
	else
		pass=$((pass + 1))
		note=
		[ "$sub_skip" = 0 ] || note=" # $sub_skip of its subtests skipped"
		echo "ok $n $name$note"
	fi
	echo "$category $sub_pass $sub_fail $sub_skip" >>"$rcfile.sub"
done <"$rcfile.list"

# Subtests per category (scripts/check.sh adds them up over its boots).
sort -s -k1,1 "$rcfile.sub" | awk '
	$1 != cat { if (cat != "") out(); cat = $1; p = f = s = 0 }
	{ p += $2; f += $3; s += $4 }
	END { if (cat != "") out() }
	function out() { printf "# subtests: %s pass:%d fail:%d skip:%d\n", cat, p, f, s }'
rm -f "$rcfile" "$rcfile.list" "$rcfile.dmesg" "$rcfile.out" "$rcfile.sub"

[ -e /sys/kernel/debug/kcsan ] &&
	echo "# KCSAN: $core_races data-race reports in the core kernel (shown above), none failed"
# A race in the module at boot or load belongs to no test: it fails the run.
[ -n "$boot_race" ] &&
	echo "# FAIL: a data race in the module before the first test (see the top)"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail = 0 ] && [ -z "$boot_race" ]
