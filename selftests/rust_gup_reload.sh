#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Unload and load rust_gup repeatedly: every cycle must remove the device
# and the module completely, and rmmod must be refused while the device is
# open. Afterwards unreclaimable slab memory must not have grown by more
# than noise: a registration leaked per cycle (a struct device, its sysfs
# nodes, the miscdevice) would cost several KiB each time.
#
#   rust_gup_reload.sh [CYCLES]     (default 50; needs root)

DIR=$(dirname "$0")
. "$DIR/ktap_helpers.sh"
MODULE=$DIR/rust_gup.ko
CYCLES=${1:-50}
# A one-off allocation (a kmalloc cache growing) is fine; growth with the
# cycle count is not.
SLAB_SLACK_KB=256

sunreclaim_kb() {
	awk '/^SUnreclaim:/ { print $2 }' /proc/meminfo
}

loaded() {
	[ -d /sys/module/rust_gup ]
}

cycle() {
	rmmod rust_gup || { echo "# rmmod failed"; return 1; }
	if loaded || [ -e /dev/rust_gup ]; then
		echo "# module or device node left after rmmod"
		return 1
	fi
	insmod "$MODULE" || { echo "# insmod failed"; return 1; }
	[ -c /dev/rust_gup ] || { echo "# no /dev/rust_gup after insmod"; return 1; }
	exec 3</dev/rust_gup || { echo "# open failed"; return 1; }
	if rmmod rust_gup 2>/dev/null; then
		echo "# rmmod succeeded while /dev/rust_gup was open"
		exec 3<&-
		return 1
	fi
	exec 3<&-
	return 0
}

# Under KASAN freed slab objects sit in its quarantine, so SUnreclaim grows
# without a leak: the slab check is not made there (the debug kernel's
# kmemleak test checks leaks), rather than reported as a skip.
kasan=0
grep -q ' kasan_report$' /proc/kallsyms && kasan=1

ktap_print_header
ktap_set_plan $((3 - kasan))

if [ "$(id -u)" != 0 ]; then
	ktap_skip_all "needs root"
	exit "$KSFT_SKIP"
fi
loaded || insmod "$MODULE" || ktap_exit_fail_msg "cannot load $MODULE"

# One warm-up cycle fills caches that the first load allocates.
cycle || ktap_exit_fail_msg "warm-up cycle failed"
before=$(sunreclaim_kb)

ok=1
i=0
while [ $i -lt "$CYCLES" ]; do
	cycle || { ok=0; break; }
	i=$((i + 1))
done
[ $ok = 1 ] && ktap_test_pass "$CYCLES unload/load cycles" ||
	ktap_test_fail "$CYCLES unload/load cycles (failed in cycle $((i + 1)))"

exec 3</dev/rust_gup
rmmod rust_gup 2>/dev/null
rc=$?
exec 3<&-
[ $rc != 0 ] && loaded && ktap_test_pass "rmmod refused while the device is open" ||
	ktap_test_fail "rmmod refused while the device is open"

after=$(sunreclaim_kb)
ktap_print_msg "SUnreclaim before ${before} kB, after ${after} kB, over $CYCLES cycles"
if [ $kasan = 1 ]; then
	ktap_print_msg "slab growth not measured under KASAN (kmemleak checks leaks)"
elif [ $((after - before)) -le $SLAB_SLACK_KB ]; then
	ktap_test_pass "no slab growth over $CYCLES cycles"
else
	ktap_test_fail "no slab growth over $CYCLES cycles (+$((after - before)) kB)"
fi

loaded || insmod "$MODULE"
ktap_finished
