#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run the rust_gup selftests in the test VM, run_vmtests.sh style: one TAP
# line per test, each test's own output indented as TAP comments.
#
# After every test the harness checks two things the test itself cannot:
# the FOLL_PIN counters in /proc/vmstat are balanced again, and the kernel
# log shows no splat. Either one fails the test.

DIR=$(cd "$(dirname "$0")" && pwd)
PATH=$DIR:$PATH
TIMEOUT=${RUST_GUP_TEST_TIMEOUT:-300}

usage() {
	cat <<EOT
usage: ${0##*/} [-t "CATEGORY..."] [-l] [-h]

  -t  run only these categories (space-separated); default: all
  -l  list the tests of the selected categories and exit
  -h  this help

Categories:
  device   /dev/rust_gup: node, open/release, version and stats ioctls
  module   unload and load rust_gup repeatedly, leak and busy checks

Each test may run for RUST_GUP_TEST_TIMEOUT seconds (default 300).
EOT
}

# One line per test: its category, then its command line.
all_tests() {
	echo "device rust_gup_device"
	echo "module rust_gup_reload.sh"
}

CATEGORIES=
LIST=0
while getopts "t:lh" opt; do
	case $opt in
	t) CATEGORIES=$OPTARG ;;
	l) LIST=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

selected_tests() {
	all_tests | while read -r category cmd; do
		case " ${CATEGORIES:-$category} " in
		*" $category "*) echo "$category $cmd" ;;
		esac
	done
}

if [ $LIST = 1 ]; then
	selected_tests
	exit 0
fi

pins() {
	awk '/^nr_foll_pin_acquired / { a = $2 } /^nr_foll_pin_released / { r = $2 }
	     END { print a - r }' /proc/vmstat
}

nr=$(selected_tests | wc -l)
[ "$nr" -gt 0 ] || { echo "no test in categories: $CATEGORIES" >&2; exit 2; }

echo "TAP version 13"
echo "1..$nr"
n=0 pass=0 fail=0 skip=0
rcfile=$(mktemp)
dmesg -c >/dev/null

selected_tests >"$rcfile.list"
while read -r category cmd; do
	n=$((n + 1))
	name="selftests: rust_gup: $cmd"
	echo "# $name ($category)"
	# shellcheck disable=SC2086 # the command line is split on purpose
	{ timeout -s KILL "$TIMEOUT" $cmd 2>&1; echo $? >"$rcfile"; } </dev/null | sed 's/^/# /'
	rc=$(cat "$rcfile")

	why=
	[ "$rc" = 137 ] && why="timed out after ${TIMEOUT}s"
	leaked=$(pins)
	[ "$leaked" = 0 ] || why="$why${why:+, }$leaked pins not released (nr_foll_pin_acquired - released)"
	splat=$(dmesg -c | grep -E -f "$DIR/splat-patterns" | head -5)
	if [ -n "$splat" ]; then
		echo "$splat" | sed 's/^/# kernel: /'
		why="$why${why:+, }kernel splat"
	fi

	if [ -n "$why" ] || { [ "$rc" != 0 ] && [ "$rc" != 4 ]; }; then
		fail=$((fail + 1))
		echo "not ok $n $name # exit=$rc${why:+ $why}"
	elif [ "$rc" = 4 ]; then
		skip=$((skip + 1))
		echo "ok $n $name # SKIP"
	else
		pass=$((pass + 1))
		echo "ok $n $name"
	fi
done <"$rcfile.list"
rm -f "$rcfile" "$rcfile.list"

echo "# Totals: pass:$pass fail:$fail xfail:0 xpass:0 skip:$skip error:0"
[ $fail = 0 ]
