// SPDX-License-Identifier: GPL-2.0

//! CRC-32C (Castagnoli), as used by every rsfs checksum.
//!
//! Reflected polynomial `0x82F63B78`, initial value `!0`, final xor `!0`: the
//! standard CRC-32C (iSCSI, ext4, btrfs). `crc32c(b"123456789") == 0xE3069283`.
//! The lookup table is built at compile time by a `const fn`.

/// The reflected CRC-32C polynomial.
pub const CRC32C_POLY: u32 = 0x82F6_3B78;

// Evaluated at compile time only: its indexing and arithmetic cannot fail at
// run time (a panic here would be a build error).
const fn make_table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut k = 0;
        while k < 8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ CRC32C_POLY
            } else {
                c >> 1
            };
            k += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

static CRC32C_TABLE: [u32; 256] = make_table();

/// An incremental CRC-32C computation.
///
/// `Crc32c::new().update(a).update(b).finish()` equals `crc32c(a ++ b)`.
#[derive(Clone, Copy, Debug)]
pub struct Crc32c {
    state: u32,
}

impl Crc32c {
    /// Starts a new checksum.
    pub const fn new() -> Self {
        Crc32c { state: !0 }
    }

    /// Feeds `data` into the checksum.
    #[must_use]
    pub fn update(mut self, data: &[u8]) -> Self {
        let mut crc = self.state;
        for &byte in data {
            let idx = ((crc ^ u32::from(byte)) & 0xff) as usize;
            let t = match CRC32C_TABLE.get(idx) {
                Some(t) => *t,
                None => 0,
            };
            crc = t ^ (crc >> 8);
        }
        self.state = crc;
        self
    }

    /// Returns the final checksum value.
    pub const fn finish(self) -> u32 {
        !self.state
    }
}

impl Default for Crc32c {
    fn default() -> Self {
        Self::new()
    }
}

/// Returns the standard CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    Crc32c::new().update(data).finish()
}
