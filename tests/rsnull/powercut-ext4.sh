#!/usr/bin/env bash
# rsnull power cuts under ext4 (tests/lib/powercut.sh says how).
. "$(dirname "$0")/../lib/ktap.sh"
. "$(dirname "$0")/../lib/modules.sh"
. "$(dirname "$0")/../lib/powercut.sh"

test_power_cuts() { power_cuts ext4; }

ktap_test "rsnull power cuts: ext4 replays and keeps fsynced files" test_power_cuts
