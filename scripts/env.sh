# Common settings for the project's scripts. Source it; it defines no side effects.
# shellcheck shell=bash

RSFS_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RSFS_CACHE=${RSFS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rsfs}
# cargo-installed bindgen, and pip-installed vng wherever this python puts scripts.
PATH="$HOME/.cargo/bin:$HOME/.local/bin:$PATH"
if command -v python3 >/dev/null; then
    PATH="$PATH:$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)"
fi
export PATH

# The kernel toolchain: Debian's rustc (it has rust-src), clang/lld, bindgen.
RSFS_KMAKE=(make LLVM=1 RUSTC=/usr/bin/rustc BINDGEN=bindgen)

# The kernel source we build: Debian's linux-source-6.12 package.
RSFS_KSRC_TARBALL=/usr/src/linux-source-6.12.tar.xz

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
