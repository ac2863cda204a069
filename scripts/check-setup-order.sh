#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# make check's guard for the documented entry points' set-up order: each
# must install what it needs before it looks for a tool, so that it works
# on a fresh machine. Run on the host, before the boots; prints TAP.
#
# scripts/vm and scripts/bench run from a copy of the tree whose set-up
# steps are stubs: deps.sh records that it ran and only then makes QEMU
# and cpio reachable, kernel.sh and the build record and fake their
# results, and a fake QEMU "runs" the command. The PATH holds every tool of
# this machine but QEMU and cpio. A script that looks for a tool before it
# sets up fails, as it would on a fresh machine.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

tmp=$(mktemp -d /tmp/rust_gup-setup-order.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# Every program on this PATH, but QEMU and cpio.
sysbin=$tmp/sysbin
mkdir -p "$sysbin"
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	for f in "$d"/*; do
		n=${f##*/}
		case $n in qemu-system-* | cpio) continue ;; esac
		[ -x "$f" ] && [ ! -e "$sysbin/$n" ] && ln -s "$f" "$sysbin/$n"
	done
done
real_cpio=$(command -v cpio) || die "cpio is needed to run this check"

# A tree with the real entry point and stubbed set-up steps.
fake_tree() {
	local t=$1
	mkdir -p "$t/scripts" "$t/bin" "$t/kernel/arch/x86/boot"
	cp "$TOPDIR/scripts/vm" "$TOPDIR/scripts/bench" "$TOPDIR/scripts/lib.sh" \
		"$TOPDIR/scripts/splat-patterns" "$t/scripts/"
	: >"$t/kernel/arch/x86/boot/bzImage"
	cat >"$t/scripts/deps.sh" <<EOF
#!/bin/sh
echo deps >>"$t/order"
ln -sf "$t/fake-qemu" "$t/bin/qemu-system-x86_64"
ln -sf "$real_cpio" "$t/bin/cpio"
EOF
	cat >"$t/scripts/kernel.sh" <<EOF
#!/bin/sh
echo kernel >>"$t/order"
echo "$t/kernel"
EOF
	cat >"$t/Makefile" <<EOF
initramfs:
	echo build >>"$t/order"
	mkdir -p build && : >build/initramfs.cpio
EOF
	# The guest's side of scripts/vm's protocol; for scripts/bench, a
	# result row for each implementation in the shared directory.
	cat >"$t/fake-qemu" <<EOF
#!/bin/sh
echo qemu >>"$t/order"
for a in "\$@"; do
	case \$a in
	local,path=*)
		dir=\${a#local,path=}
		dir=\${dir%%,*}
		printf '%s\n' impl,cmd,pages_type,size_mib,per_call,threads,repeat,pages,calls,get_ns,put_ns,wall_ns \
			c,pin_fast,4k,2,512,1,0,512,1,200000,100000,300000 \
			rust,pin_fast,4k,2,512,1,0,512,1,200000,100000,300000 >"\$dir/raw.csv"
		;;
	esac
done
echo "RUST_GUP: command start"
echo "RUST_GUP: vmstat nr_foll_pin_acquired=1 nr_foll_pin_released=1"
echo "RUST_GUP: exit status 0"
EOF
	chmod +x "$t/scripts/deps.sh" "$t/scripts/kernel.sh" "$t/fake-qemu"
}

n=0
failed=0
# check NAME COMMAND...: runs COMMAND in a fresh fake tree; it must succeed
# with the set-up steps in order before QEMU.
check() {
	local name=$1 t=$tmp/$1 rc order
	shift
	n=$((n + 1))
	fake_tree "$t"
	(cd "$t" && PATH=$t/bin:$sysbin "$@" "$t") >"$t/out" 2>&1
	rc=$?
	order=$(tr '\n' ' ' <"$t/order" 2>/dev/null)
	sed 's/^/# /' "$t/out"
	if [ $rc = 0 ] && [ "$order" = "deps kernel build qemu " ]; then
		echo "ok $n setup order: $name"
	else
		echo "not ok $n setup order: $name (exit $rc; steps: ${order:-none}; want: deps kernel build qemu)"
		failed=1
	fi
}

run_vm() { "$1/scripts/vm" --timeout 20 -- true; }
run_bench() { "$1/scripts/bench" --quick --out "$1/results"; }

echo "TAP version 13"
echo "1..2"
check scripts-vm run_vm
check scripts-bench run_bench
exit $failed
