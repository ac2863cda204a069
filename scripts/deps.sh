#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what rust_gup needs to build and boot its test kernel, and only
# what is missing: Debian packages, the pinned Rust toolchain with rust-src,
# and a pinned bindgen-cli. Safe to run again; it says what it installs.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

apt_pkgs=(
	# Kernel build with LLVM=1, plus the kernel's own build tools.
	make clang llvm lld libclang-dev flex bison bc libelf-dev libssl-dev
	cpio kmod xz-utils rsync
	# Guest userspace, the VM and the selftests (static glibc binaries).
	busybox-static qemu-system-x86 gcc libc6-dev python3
	# The benchmark's plot.
	gnuplot-nox
	# The kernel source the test kernel is built from.
	linux-source-6.12
)

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
