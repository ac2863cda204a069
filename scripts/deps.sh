#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what rust_gup needs, and only what is missing: Debian packages,
# the pinned Rust toolchain with rust-src, and a pinned bindgen-cli. Safe to
# run again; it says what it installs. Every entry point runs it first
# (make, make check, make bench, make vm, scripts/vm, scripts/bench).
#
#   scripts/deps.sh          everything: build, test kernel, VM, benchmark
#   scripts/deps.sh build [N]
#                            only what building the module and the
#                            selftests against an existing tree needs,
#                            with clang N (the tree's; default: Debian's)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

what=${1:-all}
# The LLVM toolchain of a kernel built with LLVM=-N, and the libclang its
# bindgen pass loads.
llvm_pkgs() { echo "clang-$1 llvm-$1 lld-$1 libclang-$1-dev"; }
apt_pkgs=(
	# The module with LLVM=1, and the selftests: static glibc binaries,
	# 64-bit and 32-bit (gcc -m32).
	make clang llvm lld libclang-dev gcc libc6-dev gcc-multilib rsync
)
case $what in
build)
	if [ -n "${2:-}" ] && apt-cache show "clang-$2" >/dev/null 2>&1; then
		# shellcheck disable=SC2207 # package names do not contain spaces
		apt_pkgs+=($(llvm_pkgs "$2"))
	elif [ -n "${2:-}" ]; then
		step "Debian has no clang-$2 (the tree's clang): the module is built with the default clang"
	fi
	;;
all)
	# shellcheck disable=SC2207
	apt_pkgs+=(
		# Each supported kernel's clang (scripts/lib.sh).
		$(for k in $SUPPORTED_KERNELS; do llvm_pkgs "$(kernel_llvm "$k")"; done)
		# The kernel's own build tools.
		flex bison bc libelf-dev libssl-dev cpio kmod xz-utils
		# Guest userspace and the VM.
		busybox-static qemu-system-x86 python3
		# The benchmark's plot.
		gnuplot-nox
		# The kernel source the test kernel is built from.
		linux-source-6.12
	)
	;;
*) die "usage: scripts/deps.sh [build [N]]" ;;
esac

missing=()
for p in "${apt_pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
if ((${#missing[@]})); then
	step "installing Debian packages: ${missing[*]}"
	[ "$(id -u)" = 0 ] || die "need root to install: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v rustup >/dev/null || die "rustup not found: install Rust with rustup first"
if ! rustup toolchain list | grep -q "^$RUST_TOOLCHAIN"; then
	step "installing Rust toolchain $RUST_TOOLCHAIN"
	rustup toolchain install --profile minimal "$RUST_TOOLCHAIN"
fi
for c in rust-src rustfmt clippy; do
	if ! rustup component list --installed --toolchain "$RUST_TOOLCHAIN" | grep -q "^$c"; then
		step "installing rustup component $c for $RUST_TOOLCHAIN"
		rustup component add --toolchain "$RUST_TOOLCHAIN" "$c"
	fi
done

if ! "$BINDGEN" --version 2>/dev/null | grep -q "bindgen $BINDGEN_VERSION\$"; then
	step "installing bindgen-cli $BINDGEN_VERSION into $TOOLS_DIR"
	cargo "+$RUST_TOOLCHAIN" install --quiet --locked --root "$TOOLS_DIR" \
		"bindgen-cli@$BINDGEN_VERSION"
fi
