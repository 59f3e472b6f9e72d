// SPDX-License-Identifier: GPL-2.0

//! Bitmaps: bit `i` is bit `i % 8` (least significant first) of byte `i / 8`.
//!
//! The same functions serve a single bitmap block or a whole bitmap held in
//! one buffer.

use super::FormatError;

fn locate(bit: u64) -> Option<(usize, u8)> {
    let byte = usize::try_from(bit / 8).ok()?;
    Some((byte, 1u8 << (bit % 8)))
}

/// Returns bit `bit` of `map`.
pub fn bitmap_get(map: &[u8], bit: u64) -> Result<bool, FormatError> {
    let (byte, mask) = locate(bit).ok_or(FormatError::OutOfRange)?;
    match map.get(byte) {
        Some(b) => Ok(b & mask != 0),
        None => Err(FormatError::OutOfRange),
    }
}

/// Sets bit `bit` of `map` to `value`, returning its previous value.
pub fn bitmap_set(map: &mut [u8], bit: u64, value: bool) -> Result<bool, FormatError> {
    let (byte, mask) = locate(bit).ok_or(FormatError::OutOfRange)?;
    match map.get_mut(byte) {
        Some(b) => {
            let old = *b & mask != 0;
            if value {
                *b |= mask;
            } else {
                *b &= !mask;
            }
            Ok(old)
        }
        None => Err(FormatError::OutOfRange),
    }
}

/// Sets bits `start .. end` of `map` to `value` (clamped to the map).
pub fn bitmap_set_range(map: &mut [u8], start: u64, end: u64, value: bool) {
    let limit = (map.len() as u64).saturating_mul(8);
    let end = if end < limit { end } else { limit };
    let mut bit = start;
    while bit < end {
        // Whole bytes at once where possible.
        if bit & 7 == 0 && end.saturating_sub(bit) >= 8 {
            if let Some(b) = usize::try_from(bit / 8).ok().and_then(|i| map.get_mut(i)) {
                *b = if value { 0xff } else { 0 };
            }
            bit = bit.saturating_add(8);
        } else {
            let _ = bitmap_set(map, bit, value);
            bit = bit.saturating_add(1);
        }
    }
}

/// The first clear bit in `start .. end` of `map` (clamped to the map).
pub fn bitmap_find_zero(map: &[u8], start: u64, end: u64) -> Option<u64> {
    let limit = (map.len() as u64).saturating_mul(8);
    let end = if end < limit { end } else { limit };
    let mut bit = start;
    while bit < end {
        let (byte, mask) = locate(bit)?;
        let b = *map.get(byte)?;
        if bit & 7 == 0 && b == 0xff {
            bit = bit.saturating_add(8);
            continue;
        }
        if b & mask == 0 {
            return Some(bit);
        }
        bit = bit.saturating_add(1);
    }
    None
}

/// Number of clear bits in `0 .. end` of `map` (clamped to the map).
pub fn bitmap_count_zeros(map: &[u8], end: u64) -> u64 {
    let limit = (map.len() as u64).saturating_mul(8);
    let end = if end < limit { end } else { limit };
    let full = usize::try_from(end / 8).unwrap_or(usize::MAX);
    let mut zeros: u64 = map
        .iter()
        .take(full)
        .map(|b| u64::from(b.count_zeros()))
        .fold(0u64, |acc, z| acc.saturating_add(z));
    let mut bit = (full as u64).saturating_mul(8);
    while bit < end {
        if let Ok(false) = bitmap_get(map, bit) {
            zeros = zeros.saturating_add(1);
        }
        bit = bit.saturating_add(1);
    }
    zeros
}
