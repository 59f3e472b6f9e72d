#!/usr/bin/env bash
# Install everything the project needs, then build (or reuse) the debug
# kernel. Idempotent: on a machine that has it all, it only checks.
#
#   scripts/setup.sh            toolchain + debug kernel
#   scripts/setup.sh --tools    toolchain only
set -euo pipefail
. "$(dirname "$0")/env.sh"

APT_PACKAGES=(
    rustc-web rust-web-src clang libclang-dev lld llvm
    linux-source-6.12 qemu-system-x86 busybox-static
    fio stress-ng xfsprogs f2fs-tools e2fsprogs
    flex bison bc libelf-dev libssl-dev cpio kmod python3-pip
    gnuplot-nox jq
    libseccomp-dev libcap-ng-dev
)
BINDGEN_VERSION=0.69.5
# virtiofsd (Rust, crates.io): vng shares the host's root with the VM over
# virtio-fs when it finds it, else over 9p without a cache, where every exec
# rereads the binary from the host (rsfs-testutil: 0.6 s per exec under TCG
# with the debug kernel, against 0.15 s over virtio-fs).
VIRTIOFSD_VERSION=1.14.0
VIRTME_NG_VERSION=1.42

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing Debian packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if ! bindgen --version 2>/dev/null | grep -q " $BINDGEN_VERSION\$"; then
    command -v cargo >/dev/null || die "cargo not found: install Rust (rustup) first"
    log "installing bindgen-cli $BINDGEN_VERSION from crates.io"
    cargo install --locked --quiet bindgen-cli --version "$BINDGEN_VERSION"
fi

if ! virtiofsd --version 2>/dev/null | grep -q " $VIRTIOFSD_VERSION\$"; then
    log "installing virtiofsd $VIRTIOFSD_VERSION from crates.io"
    # Not fatal: without it the VMs still run, over 9p, only slower.
    cargo install --locked --quiet virtiofsd --version "$VIRTIOFSD_VERSION" ||
        log "warning: virtiofsd did not install; the VMs will share files over 9p"
fi

if ! vng --version 2>/dev/null | grep -q "$VIRTME_NG_VERSION"; then
    log "installing virtme-ng $VIRTME_NG_VERSION from PyPI"
    python3 -m pip install --quiet --disable-pip-version-check "virtme-ng==$VIRTME_NG_VERSION"
fi

[ "${1:-}" = --tools ] && exit 0

# The kernel checks the Rust toolchain itself when configuring; kernel.sh
# stops with a clear error if CONFIG_RUST did not stick.
"$RSFS_TOP/scripts/kernel.sh" debug >/dev/null
log "setup complete"
