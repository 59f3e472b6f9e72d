# shellcheck shell=bash
# Loading and unloading the project's modules and their peers in the VM.

RSNULL_KO=${RSNULL_KO:-$RSFS_TOP/rsnull.ko}
RSNULL_CFS=/sys/kernel/config/rsnull

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

# rsnull_unload: unmount what is mounted from an rsnull disk, remove the
# configfs devices, rmmod (a failed test may have left any of them).
rsnull_unload() {
    module_loaded rsnull || return 0
    local src mnt _ d
    while read -r src mnt _; do
        case $src in /dev/rsnull*) umount "$mnt" 2>/dev/null || umount -l "$mnt" ;; esac
    done < <(tac /proc/self/mounts)
    for d in "$RSNULL_CFS"/*/; do
        [ -d "$d" ] || continue
        echo 0 >"$d/power"
        rmdir "$d"
    done
    rmmod rsnull
}

# The size of a block device in bytes.
dev_bytes() { blockdev --getsize64 "$1"; }

# random_file PATH MIB: a file of random data.
random_file() { head -c "$(( $2 << 20 ))" /dev/urandom >"$1"; }

# ---- configfs devices (/sys/kernel/config/rsnull) ---------------------------

# rsnull_cfs_dir NAME: the device's configfs directory.
rsnull_cfs_dir() { echo "$RSNULL_CFS/$1"; }

# rsnull_cfs_new NAME [ATTR=VALUE...]: a new configfs device with these
# attributes, powered on. Loads rsnull with nr_devices=0 if it is not loaded.
# Sets RSNULL_DEV to its /dev path.
rsnull_cfs_new() {
    local name=$1 kv d; shift
    module_loaded rsnull || insmod "$RSNULL_KO" nr_devices=0 || fail "insmod rsnull nr_devices=0 failed"
    d=$RSNULL_CFS/$name
    mkdir "$d" || fail "mkdir $d failed"
    for kv in "$@"; do
        echo "${kv#*=}" >"$d/${kv%%=*}" || fail "$name: cannot set ${kv%%=*} to ${kv#*=}"
    done
    rsnull_cfs_power "$name" 1
}

# rsnull_cfs_power NAME 0|1: cut or restore the power; sets RSNULL_DEV.
rsnull_cfs_power() {
    local d=$RSNULL_CFS/$1
    echo "$2" >"$d/power" || fail "$1: echo $2 > power failed"
    RSNULL_DEV=/dev/rsnull$(<"$d/index")
    if [ "$2" = 1 ]; then
        udevadm settle 2>/dev/null || true
        [ -b "$RSNULL_DEV" ] || fail "$1: no $RSNULL_DEV after power-on"
    fi
}

# rsnull_cfs_rm NAME: power off and remove a configfs device.
rsnull_cfs_rm() {
    local d=$RSNULL_CFS/$1
    [ -d "$d" ] || return 0
    echo 0 >"$d/power"
    rmdir "$d" || fail "rmdir $d failed"
}

# rsnull_cfs_clean: remove every configfs device, then unload rsnull.
rsnull_cfs_clean() { rsnull_unload; }
