#!/usr/bin/env bash
# Build (or reuse) the project's kernel and print its build directory (KDIR).
#
#   scripts/kernel.sh [debug|release]     default: debug
#
# The source is Debian's linux-source-6.12; the config is `allnoconfig` plus
# scripts/kconfig/base.config plus the profile's fragment. The build lives
# under $RSFS_CACHE/kernel/<profile>-<key>, where key hashes the source
# package version, the fragments and the toolchain, so a later run (or CI on
# the same machine) reuses it and any change rebuilds it.
set -euo pipefail
. "$(dirname "$0")/env.sh"

profile=${1:-debug}
frag_dir=$RSFS_TOP/scripts/kconfig
[ -f "$frag_dir/$profile.config" ] || die "unknown kernel profile '$profile'"
[ -f "$RSFS_KSRC_TARBALL" ] || die "$RSFS_KSRC_TARBALL missing: run scripts/setup.sh"

src_ver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
key=$( { echo "$src_ver"; cat "$frag_dir/base.config" "$frag_dir/$profile.config";
         /usr/bin/rustc --version; bindgen --version; clang --version | head -1; } |
       sha256sum | cut -c1-12)
src=$RSFS_CACHE/src/linux-source-6.12-$src_ver
out=$RSFS_CACHE/kernel/$profile-$key

if [ -f "$out/.rsfs-built" ]; then
    echo "$out"
    exit 0
fi

if [ ! -f "$src/.rsfs-extracted" ]; then
    log "extracting $RSFS_KSRC_TARBALL"
    rm -rf "$src" && mkdir -p "$src"
    tar -xJf "$RSFS_KSRC_TARBALL" -C "$src" --strip-components=1
    touch "$src/.rsfs-extracted"
fi

mkdir -p "$out"
kmake=("${RSFS_KMAKE[@]}" -C "$src" O="$out")
log "configuring $profile kernel in $out"
"${kmake[@]}" -s allnoconfig >/dev/null
"$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" \
    "$frag_dir/base.config" "$frag_dir/$profile.config" >/dev/null
"${kmake[@]}" -s olddefconfig >/dev/null

# merge_config only warns when Kconfig drops a value; a dropped option here
# (RUST above all) means a missing dependency, so stop now, not after the build.
missing=0
while IFS= read -r line; do
    case "$line" in CONFIG_*=*) ;; *) continue ;; esac
    opt=${line%%=*} val=${line#*=}
    if [ "$val" = n ]; then
        grep -q "^$opt=" "$out/.config" && { log "$opt should be off"; missing=1; }
    else
        grep -qx "$line" "$out/.config" || { log "$line did not stick"; missing=1; }
    fi
done < <(cat "$frag_dir/base.config" "$frag_dir/$profile.config")
[ $missing = 0 ] || die "kernel config incomplete (see above); is the toolchain installed? ('make rustavailable')"

log "building $profile kernel ($(nproc) jobs); a cold build takes a while"
start=$(date +%s)
"${kmake[@]}" -j"$(nproc)" -s bzImage modules >"$out/build.log" 2>&1 ||
    { tail -40 "$out/build.log" >&2; die "kernel build failed; full log in $out/build.log"; }
log "kernel built in $(( $(date +%s) - start )) s"
touch "$out/.rsfs-built"
echo "$out"
