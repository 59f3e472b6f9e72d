#!/usr/bin/env bash
# Runs inside the VM (scripts/vm.sh starts it): runs the command and leaves
# its exit status in STATUSDIR/rc, a host directory shared with the guest.
# virtme-ng cannot pass the status back itself on these kernels (it finds no
# script I/O port and falls back to the console).
#
#   scripts/vm-guest-exec.sh STATUSDIR CMD...
statusdir=$1; shift
"$@"
echo $? >"$statusdir/rc"
