# SPDX-License-Identifier: GPL-2.0
#
# Shared settings for the rust_gup scripts. Sourced, not run.

# The toolchain the test kernel and the module are built with. The kernel
# tree lives outside the repo, so a rust-toolchain.toml would not reach it.
RUST_TOOLCHAIN=${RUST_TOOLCHAIN:-1.95.0}
export RUSTUP_TOOLCHAIN=$RUST_TOOLCHAIN
BINDGEN_VERSION=0.73.2

TOPDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE_DIR=${RUST_GUP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust_gup}
TOOLS_DIR=$CACHE_DIR/tools/bindgen-$BINDGEN_VERSION
BINDGEN=$TOOLS_DIR/bin/bindgen
export PATH=$HOME/.cargo/bin:$PATH

step() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
