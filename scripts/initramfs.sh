#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Pack the test VM's initramfs: busybox, /init, the rust_gup module, the
# selftests and the harness, and the kernel's test_hmm module; on a kernel
# with KCOV, the module's coverage sites (scripts/kcov-sites).
#
#   scripts/initramfs.sh KDIR BUILD_DIR    writes BUILD_DIR/initramfs.cpio
#
# The archive is made with the kernel's own gen_init_cpio, from a list, so
# device nodes need no root and the result does not depend on file order.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kdir=$1
build=$2
list=$build/initramfs.list
mkdir -p "$build"

cc -O2 -o "$build/gen_init_cpio" "$kdir/usr/gen_init_cpio.c"
rm -f "$build/rust_gup.kcov"
if grep -q '^CONFIG_KCOV=y' "$kdir/.config"; then
	"$TOPDIR/scripts/kcov-sites" "$TOPDIR/rust_gup.ko" "$build/rust_gup.kcov"
fi

busybox=$(command -v busybox || true)
[ -x /bin/busybox ] && busybox=/bin/busybox
file "$busybox" 2>/dev/null | grep -q 'statically linked' ||
	[ "$(ldd "$busybox" 2>&1)" = "	not a dynamic executable" ] ||
	die "$busybox is not static: install busybox-static"

{
	for d in /bin /dev /proc /sys /tmp /etc /etc/rust_gup /host /root /opt /opt/rust_gup; do
		echo "dir $d 755 0 0"
	done
	echo "nod /dev/console 600 0 0 c 5 1"
	echo "file /bin/busybox $busybox 755 0 0"
	echo "file /init $TOPDIR/scripts/guest/init 755 0 0"
	echo "file /opt/rust_gup/rust_gup.ko $TOPDIR/rust_gup.ko 644 0 0"
	for m in rust_gup_sample rust_gup_mr; do
		echo "file /opt/rust_gup/$m.ko $TOPDIR/$m.ko 644 0 0"
	done
	hmm=$(find "$kdir/lib" -name test_hmm.ko -print -quit)
	[ -n "$hmm" ] && echo "file /opt/rust_gup/test_hmm.ko $hmm 644 0 0"
	echo "file /opt/rust_gup/ktap_helpers.sh $kdir/tools/testing/selftests/kselftest/ktap_helpers.sh 644 0 0"
	echo "file /opt/rust_gup/splat-patterns $TOPDIR/scripts/splat-patterns 644 0 0"
	[ -e "$build/rust_gup.kcov" ] && echo "file /opt/rust_gup/rust_gup.kcov $build/rust_gup.kcov 644 0 0"
	for f in "$build"/selftests/*; do
		echo "file /opt/rust_gup/${f##*/} $f 755 0 0"
	done
} >"$list"

"$build/gen_init_cpio" "$list" >"$build/initramfs.cpio.tmp"
mv "$build/initramfs.cpio.tmp" "$build/initramfs.cpio"
step "initramfs: $build/initramfs.cpio ($(du -h "$build/initramfs.cpio" | cut -f1))"
