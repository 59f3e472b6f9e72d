// SPDX-License-Identifier: GPL-2.0
/* rsfs's copy of the kext C helpers (each module links its own). */
#include "../kext/helpers.c"
