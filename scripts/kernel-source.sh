#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Print the path of the source tarball of a supported kernel, fetching it
# first when needed.
#
#   scripts/kernel-source.sh [KERNEL]     KERNEL: 6.12 (default) or 7.3
#
# 6.12 is Debian's linux-source-6.12 from the machine's own suites
# (scripts/deps.sh installs it). Mainline is the newest linux-source-7.*
# Debian ships, from a suite the machine's apt sources do not list: the
# package pinned in scripts/lib.sh is downloaded from the same archive as
# the configured sources, with a private apt state under the cache, and
# unpacked there. The system's sources and package state are not touched.
#
# Exit status 77 when the archive no longer has the pinned package (or its
# suite): callers skip the mainline kernel with that message rather than
# fail. Not reaching the archive is an error like any other. Moving the
# pin forward: Documentation/rust_gup.rst, "Moving the mainline pin".
set -euo pipefail
. "$(dirname "$0")/lib.sh"

kernel=${1:-$KERNEL}
case $kernel in
6.12)
	echo /usr/src/linux-source-6.12.tar.xz
	exit 0
	;;
"$MAINLINE_KERNEL") ;;
*) die "no kernel '$kernel' (supported: $SUPPORTED_KERNELS)" ;;
esac

pkg=linux-source-$MAINLINE_KERNEL
dir=$CACHE_DIR/source/$pkg-$MAINLINE_VERSION
tarball=$dir/usr/src/$pkg.tar.xz
if [ -f "$dir/.unpacked" ]; then
	echo "$tarball"
	exit 0
fi

# The archive: the first deb URI of the configured sources that is not a
# security suite (deb822 .sources files, then one-line .list files).
archive=$(
	{
		awk '
			/^[ \t]*$/ { if (uris != "" && suites !~ /-security/) print uris; uris = suites = ""; next }
			tolower($1) == "uris:" { uris = $2 }
			tolower($1) == "suites:" { suites = $0 }
			END { if (uris != "" && suites !~ /-security/) print uris }
		' /etc/apt/sources.list.d/*.sources 2>/dev/null
		grep -hE '^deb[ \t]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
			sed -E 's/\[[^]]*\]//' | awk '$3 !~ /-security/ { print $2 }'
	} | grep -m1 -E '^(https?|file|mirror)://' || true
)
[ -n "$archive" ] || die "no Debian archive in the apt sources under /etc/apt to fetch $pkg from"

skip() {
	printf '%s\n' \
		"##############################################################################" \
		"## SKIP: cannot fetch $pkg $MAINLINE_VERSION from $MAINLINE_SUITE" \
		"## ($1)." \
		"## The archive has probably moved on from the pinned version: move the pin" \
		"## in scripts/lib.sh forward (Documentation/rust_gup.rst, \"Moving the" \
		"## mainline pin\"). The $MAINLINE_KERNEL kernel's tests are skipped." \
		"##############################################################################" >&2
	rm -rf "$apt_dir" "$dir"
	exit 77
}

apt_dir=$CACHE_DIR/source/apt
rm -rf "$apt_dir"
mkdir -p "$apt_dir/lists/partial" "$apt_dir/cache/archives/partial" "$dir"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $archive $MAINLINE_SUITE main" \
	>"$apt_dir/sources.list"
apt_opts=(-q -o "Dir::Etc::sourcelist=$apt_dir/sources.list" -o Dir::Etc::sourceparts=/dev/null
	-o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache"
	-o APT::Sandbox::User=root)

# Only an archive that moved on is a skip: the suite is gone, or it no
# longer has the pinned version. Not reaching the archive is an error.
step "fetching $pkg $MAINLINE_VERSION from $archive $MAINLINE_SUITE"
apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1 || true
if ! ls "$apt_dir"/lists/*_Packages* >/dev/null 2>&1; then
	grep -qE 'does not have a Release file|404' "$apt_dir/update.log" &&
		skip "the archive has no $MAINLINE_SUITE"
	cat "$apt_dir/update.log" >&2
	die "could not read $MAINLINE_SUITE from $archive (see above)"
fi
apt-cache "${apt_opts[@]}" madison "$pkg" | grep -qF "| $MAINLINE_VERSION |" ||
	skip "$MAINLINE_SUITE has no $pkg $MAINLINE_VERSION"
(cd "$apt_dir" && apt-get "${apt_opts[@]}" download "$pkg=$MAINLINE_VERSION") >"$apt_dir/download.log" 2>&1 ||
	{ cat "$apt_dir/download.log" >&2; die "downloading $pkg $MAINLINE_VERSION failed (see above)"; }
dpkg-deb -x "$apt_dir/${pkg}_"*.deb "$dir"
[ -f "$tarball" ] || die "$pkg $MAINLINE_VERSION has no $tarball"
rm -rf "$apt_dir"
touch "$dir/.unpacked"
# Only the pinned version is kept.
for old in "$CACHE_DIR"/source/linux-source-*; do
	[ "$old" = "$dir" ] || rm -rf "$old"
done
echo "$tarball"
