#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) the rust_gup test kernel and print its tree's path.
#
#   scripts/kernel.sh [FLAVOUR]     FLAVOUR: test (default), debug or kcsan
#
# The tree is Debian's linux-source-6.12, configured from tinyconfig,
# kvm_guest.config and the flavour's fragments under scripts/kernel/
# (test: test.config; debug: test.config and debug.config; kcsan:
# test.config and kcsan.config), built with
# LLVM=1 and CONFIG_RUST=y. It is cached under $CACHE_DIR/kernel/, keyed on everything
# that affects it: the source package, the fragment, the build recipe below,
# and the Rust, bindgen and clang versions. Same inputs, no rebuild.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-test}
case $flavour in
test) fragments=(test.config) ;;
debug) fragments=(test.config debug.config) ;;
kcsan) fragments=(test.config kcsan.config) ;;
*) die "no kernel flavour '$flavour' (test, debug or kcsan)" ;;
esac
fragments=("${fragments[@]/#/$TOPDIR/scripts/kernel/}")

"$TOPDIR/scripts/deps.sh"

# The build steps, as part of the cache key: change this string whenever a
# change to this script changes what is built.
RECIPE="tinyconfig+kvm_guest.config+fragment; LLVM=1; bzImage modules headers_install"

tarball=/usr/src/linux-source-6.12.tar.xz
src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$(
	{
		echo "linux-source-6.12 $src_version"
		echo "$RECIPE"
		cat "${fragments[@]}"
		rustc --version
		"$BINDGEN" --version
		clang --version | head -1
	} | sha256sum | cut -c1-16
)
base=$CACHE_DIR/kernel/$flavour-$key
tree=$base/linux
stamp=$base/.built

if [ -f "$stamp" ]; then
	step "test kernel ($flavour) is cached: $tree"
	echo "$tree"
	exit 0
fi

# Only the newest build of a flavour is kept: each tree is about 1.5 GiB.
for old in "$CACHE_DIR"/kernel/"$flavour"-*; do
	[ -e "$old" ] && [ "$old" != "$base" ] && { step "removing stale kernel cache $old"; rm -rf "$old"; }
done

kmake() {
	make -C "$tree" ARCH=x86_64 LLVM=1 BINDGEN="$BINDGEN" "$@"
}

if [ ! -f "$tree/Makefile" ]; then
	step "unpacking linux-source-6.12 ($src_version) into $base"
	rm -rf "$base"
	mkdir -p "$base"
	tar -C "$base" -xf "$tarball"
	mv "$base"/linux-source-6.12 "$tree"
fi

kmake -s rustavailable >&2 || die "Rust is not available for this kernel tree (see above)"

step "configuring: tinyconfig + kvm_guest.config + ${fragments[*]##*/}"
kmake -s tinyconfig >&2
(cd "$tree" && scripts/kconfig/merge_config.sh -m -O . .config \
	kernel/configs/kvm_guest.config "${fragments[@]}" >/dev/null)
kmake -s olddefconfig >&2

# merge_config.sh only warns when Kconfig drops a requested option.
bad=$(cat "${fragments[@]}" | grep -E '^CONFIG_[A-Z0-9_]+=|^# CONFIG_[A-Z0-9_]+ is not set$' | while read -r want; do
	name=${want#\# }
	name=${name%%[= ]*}
	if [ "${want#\#}" != "$want" ]; then
		# "is not set" also holds when the option is absent.
		! grep -qE "^$name=" "$tree/.config" || echo "  $want (got: $(grep -E "^$name=" "$tree/.config"))"
	else
		grep -qxF "$want" "$tree/.config" || echo "  $want (got: $(grep -E "^(# )?$name[= ]" "$tree/.config" || echo unset))"
	fi
done)
[ -z "$bad" ] || die "the kernel config did not take these options:"$'\n'"$bad"

minutes=12
[ "$flavour" = debug ] && minutes=17
step "building the $flavour kernel with $(nproc) jobs (about $minutes minutes on 2 cores; log: $base/build.log)"
start=$SECONDS
if ! kmake -j"$(nproc)" bzImage modules >"$base/build.log" 2>&1; then
	tail -40 "$base/build.log" >&2
	die "kernel build failed; full log: $base/build.log"
fi
kmake -s headers_install >&2
step "kernel built in $((SECONDS - start)) s"
touch "$stamp"
echo "$tree"
