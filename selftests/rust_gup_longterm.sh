#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Run rust_gup_longterm (with its arguments) with an ext2 file system on
# the VM's NVMe namespace, for the file-backed cases on a disk file system.
# The namespace is a fresh image in every boot (scripts/vm).
DIR=$(dirname "$0")
DEV=${RUST_GUP_DISK_DEV:-/dev/nvme0n1}
MNT=/mnt/rust_gup_disk

mkdir -p "$MNT"
if [ ! -b "$DEV" ]; then
	# Not the project's VM: the disk cases skip, the others run.
	echo "# no block device $DEV: the ext2 file cases are skipped"
elif mke2fs -q -F "$DEV" >/dev/null 2>&1 && mount -t ext2 "$DEV" "$MNT"; then
	export RUST_GUP_DISK_DIR="$MNT"
else
	# The disk is there: a file system that cannot be made on it is an
	# error, not a reason to run less.
	echo "# cannot make and mount an ext2 file system on $DEV" >&2
	exit 1
fi
"$DIR/rust_gup_longterm" "$@"
rc=$?
umount "$MNT" 2>/dev/null
exit $rc
