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

# module_loaded NAME: the module is loaded (a builtin test: a loaded
# module, unlike a built-in one, has an initstate in sysfs).
module_loaded() { [ -e "/sys/module/$1/initstate" ]; }

rsnull_unload() {
    if module_loaded rsnull; then
        rmmod rsnull
    fi
}

# The size of a block device in bytes.
dev_bytes() { blockdev --getsize64 "$1"; }

# random_file PATH MIB: a file of random data.
random_file() { head -c "$(( $2 << 20 ))" /dev/urandom >"$1"; }
