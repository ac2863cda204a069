# SPDX-License-Identifier: GPL-2.0
#
# Shared settings for the rust_gup scripts. Sourced, not run.

# The toolchain the test kernel and the module are built with. The kernel
# tree lives outside the repo, so a rust-toolchain.toml would not reach it.
RUST_TOOLCHAIN=${RUST_TOOLCHAIN:-1.95.0}
export RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN
BINDGEN_VERSION=0.73.2

# The kernels rust_gup supports, and the one a script works on (KERNEL=).
# 6.12 is the LTS, Debian's linux-source-6.12 from the machine's own suites.
# Mainline is the newest linux-source-7.* Debian ships, from a suite the
# machine need not list (scripts/kernel-source.sh), pinned here: the
# package version and its suite. Moving the pin forward:
# Documentation/rust_gup.rst, "Moving the mainline pin".
MAINLINE_KERNEL=7.3
MAINLINE_SUITE=trixie-backports
MAINLINE_VERSION=7.3.4-1~bpo13+1
SUPPORTED_KERNELS="6.12 $MAINLINE_KERNEL"
KERNEL=${KERNEL:-6.12}

# The clang (LLVM=-N) each kernel is built with, and whose libclang bindgen
# loads: Debian 12's default clang 14 for 6.12; mainline needs LLVM 17.0.1
# or newer (its scripts/min-tool-version.sh), so Debian 12's clang-19.
kernel_llvm() {
	case $1 in
	6.12) echo 14 ;;
	"$MAINLINE_KERNEL") echo 19 ;;
	*) die "no kernel '$1' (supported: $SUPPORTED_KERNELS)" ;;
	esac
}

TOPDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${RUST_GUP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust_gup}
TOOLS_DIR=$CACHE_DIR/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$TOOLS_DIR/bin/bindgen
export PATH=$HOME/.cargo/bin:$PATH

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
