#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build (or reuse) a rust_gup test kernel and print its tree's path.
#
#   [KERNEL=6.12|7.3] scripts/kernel.sh [FLAVOUR]
#
# FLAVOUR: test (default), debug or kcsan; the debug and KCSAN flavours are
# 6.12's. KERNEL (default 6.12): the 6.12 LTS, Debian's linux-source-6.12,
# or mainline, the newest linux-source-7.* Debian ships
# (scripts/kernel-source.sh fetches it; exit status 77 when it cannot).
#
# The tree is configured from tinyconfig, kvm_guest.config and the
# flavour's fragments under scripts/kernel/ (test: test.config and the
# version's own, 6.12.config or 7.3.config; debug adds debug.config, kcsan
# kcsan.config), built with the version's clang (LLVM=-N, scripts/lib.sh)
# and CONFIG_RUST=y. It is cached under $CACHE_DIR/kernel/, keyed on
# everything that affects it: the source package, the fragments, the build
# recipe below, and the Rust, bindgen and clang versions. Same inputs, no
# rebuild.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

flavour=${1:-test}
case $flavour in
test) fragments=(test.config) ;;
debug) fragments=(test.config debug.config) ;;
kcsan) fragments=(test.config kcsan.config) ;;
*) die "no kernel flavour '$flavour' (test, debug or kcsan)" ;;
esac
llvm=$(kernel_llvm "$KERNEL")
[ "$KERNEL" = 6.12 ] || [ "$flavour" = test ] ||
	die "the $flavour flavour is 6.12's; Linux $KERNEL has the test flavour"
fragments=("${fragments[0]}" "$KERNEL.config" "${fragments[@]:1}")
fragments=("${fragments[@]/#/$TOPDIR/scripts/kernel/}")

"$TOPDIR/scripts/deps.sh"

# The build steps, as part of the cache key: change this string whenever a
# change to this script changes what is built.
RECIPE="tinyconfig+kvm_guest.config+fragments; LLVM=-N, LIBCLANG_PATH; bzImage modules headers_install"

if [ "$KERNEL" = 6.12 ]; then
	src_version=$(dpkg-query -W -f='${Version}' linux-source-6.12)
else
	src_version=$MAINLINE_VERSION
fi
export LIBCLANG_PATH=/usr/lib/llvm-$llvm/lib
key=$(
	{
		echo "linux-source-$KERNEL $src_version"
		echo "$RECIPE"
		cat "${fragments[@]}"
		rustc --version
		"$BINDGEN" --version
		"clang-$llvm" --version | head -1
	} | sha256sum | cut -c1-16
)
name=$KERNEL-$flavour
base=$CACHE_DIR/kernel/$name-$key
tree=$base/linux
stamp=$base/.built

if [ -f "$stamp" ]; then
	step "test kernel ($name) is cached: $tree"
	echo "$tree"
	exit 0
fi

# Only the newest build of a kernel and flavour is kept: each tree is
# 1.5 to 3 GiB. (6.12 trees named by flavour alone are from before 7.3.)
# A mainline tree of a version no longer pinned goes too.
old_names=("$CACHE_DIR/kernel/$name"-*)
if [ "$KERNEL" = 6.12 ]; then
	old_names+=("$CACHE_DIR/kernel/$flavour"-*)
else
	for old in "$CACHE_DIR"/kernel/[0-9]*-"$flavour"-*; do
		case ${old##*/} in 6.12-* | "$KERNEL"-*) ;; *) old_names+=("$old") ;; esac
	done
fi
for old in "${old_names[@]}"; do
	[ -e "$old" ] && [ "$old" != "$base" ] && { step "removing stale kernel cache $old"; rm -rf "$old"; }
done

kmake() {
	make -C "$tree" ARCH=x86_64 LLVM=-"$llvm" BINDGEN="$BINDGEN" "$@"
}

if [ ! -f "$tree/Makefile" ]; then
	# Fetched only now: a cached kernel needs no source, and is used even
	# after the archive has moved on from its version.
	tarball=$("$TOPDIR/scripts/kernel-source.sh" "$KERNEL")
	step "unpacking linux-source-$KERNEL ($src_version) into $base"
	rm -rf "$base"
	mkdir -p "$base"
	tar -C "$base" -xf "$tarball"
	mv "$base/linux-source-$KERNEL" "$tree"
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

# Measured alone on 2 cores: 6.12's test kernel 17 minutes, 7.3's 21.
minutes=17
[ "$KERNEL" = 6.12 ] || minutes=21
step "building the $name kernel with $(nproc) jobs (about $minutes minutes on 2 cores; log: $base/build.log)"
start=$SECONDS
if ! kmake -j"$(nproc)" bzImage modules >"$base/build.log" 2>&1; then
	tail -40 "$base/build.log" >&2
	die "kernel build failed; full log: $base/build.log"
fi
kmake -s headers_install >&2
step "kernel built in $((SECONDS - start)) s"
touch "$stamp"
echo "$tree"
