# shellcheck shell=bash
# Loading and unloading the project's modules and their peers in the VM.

RSNULL_KO=${RSNULL_KO:-$RSFS_TOP/rsnull.ko}

# rsnull_load [PARAM=VALUE...]: load rsnull fresh with these parameters.
rsnull_load() {
    rsnull_unload
    insmod "$RSNULL_KO" "$@"
    udevadm settle 2>/dev/null || true
    [ -b /dev/rsnull0 ] || fail "insmod rsnull $* created no /dev/rsnull0"
}

rsnull_unload() {
    if grep -q '^rsnull ' /proc/modules; then
        rmmod rsnull
    fi
}

# The size of a block device in bytes.
dev_bytes() { blockdev --getsize64 "$1"; }

# random_file PATH MIB: a file of random data.
random_file() { head -c "$(( $2 << 20 ))" /dev/urandom >"$1"; }
