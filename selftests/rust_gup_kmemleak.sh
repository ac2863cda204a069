#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Leak check for a debug kernel (CONFIG_DEBUG_KMEMLEAK): run_vmtests.sh
# calls "rust_gup_kmemleak.sh start" before the first test and runs
# "rust_gup_kmemleak.sh" as the last test. Any object kmemleak reports
# then fails it.
KMEMLEAK=/sys/kernel/debug/kmemleak

[ -e $KMEMLEAK ] || { echo "# no $KMEMLEAK: not a kmemleak kernel"; exit 4; }

if [ "$1" = start ]; then
	# Scan only when asked, and forget what boot left behind: only what
	# the tests leak is reported at the end.
	echo scan=off >$KMEMLEAK && echo scan >$KMEMLEAK && echo clear >$KMEMLEAK
	exit
fi

# kmemleak reports objects older than 5 s, and a pointer can sit in a
# register or a stack for one scan: scan twice, as its documentation says.
# kmemleak turns itself off on an error of its own (an allocation it could
# not track, ...), with only a log line, and then forgets its objects: an
# empty list would pass. A scan it refuses (EPERM) says so.
sleep 6
if ! { echo scan >$KMEMLEAK && echo scan >$KMEMLEAK; } 2>/dev/null; then
	echo "# kmemleak refused to scan: it is disabled; what the log says of it:"
	dmesg | grep -i kmemleak | tail -5 | sed 's/^/# /'
	exit 1
fi
n=$(grep -c '^unreferenced object' $KMEMLEAK)
echo "# kmemleak: $n unreferenced objects after the tests"
if [ "$n" != 0 ]; then
	head -60 $KMEMLEAK | sed 's/^/# /'
	exit 1
fi
exit 0
