// SPDX-License-Identifier: GPL-2.0

//! Little-endian field access at explicit byte offsets.
//!
//! Every accessor is total: an offset that does not fit the buffer reads as
//! zero and writes nothing. The format code only uses constant offsets that
//! fit, or offsets it has bounds-checked itself, so this never hides a bug in
//! practice; it just means there is no panic path at all.

pub(super) fn get_u8(b: &[u8], off: usize) -> u8 {
    match b.get(off) {
        Some(v) => *v,
        None => 0,
    }
}

pub(super) fn get_u16(b: &[u8], off: usize) -> u16 {
    match off.checked_add(2).and_then(|end| b.get(off..end)) {
        Some(&[b0, b1]) => u16::from_le_bytes([b0, b1]),
        _ => 0,
    }
}

pub(super) fn get_u32(b: &[u8], off: usize) -> u32 {
    match off.checked_add(4).and_then(|end| b.get(off..end)) {
        Some(&[b0, b1, b2, b3]) => u32::from_le_bytes([b0, b1, b2, b3]),
        _ => 0,
    }
}

pub(super) fn get_u64(b: &[u8], off: usize) -> u64 {
    match off.checked_add(8).and_then(|end| b.get(off..end)) {
        Some(&[b0, b1, b2, b3, b4, b5, b6, b7]) => {
            u64::from_le_bytes([b0, b1, b2, b3, b4, b5, b6, b7])
        }
        _ => 0,
    }
}

pub(super) fn get_i64(b: &[u8], off: usize) -> i64 {
    get_u64(b, off) as i64
}

/// Copies `dst.len()` bytes starting at `off` into `dst` (zeros if out of range).
pub(super) fn get_bytes(b: &[u8], off: usize, dst: &mut [u8]) {
    match off.checked_add(dst.len()).and_then(|end| b.get(off..end)) {
        Some(src) => {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = *s;
            }
        }
        None => {
            for d in dst.iter_mut() {
                *d = 0;
            }
        }
    }
}

pub(super) fn put_bytes(b: &mut [u8], off: usize, src: &[u8]) {
    if let Some(dst) = off
        .checked_add(src.len())
        .and_then(|end| b.get_mut(off..end))
    {
        for (d, s) in dst.iter_mut().zip(src) {
            *d = *s;
        }
    }
}

pub(super) fn put_u8(b: &mut [u8], off: usize, v: u8) {
    if let Some(d) = b.get_mut(off) {
        *d = v;
    }
}

pub(super) fn put_u16(b: &mut [u8], off: usize, v: u16) {
    put_bytes(b, off, &v.to_le_bytes());
}

pub(super) fn put_u32(b: &mut [u8], off: usize, v: u32) {
    put_bytes(b, off, &v.to_le_bytes());
}

pub(super) fn put_u64(b: &mut [u8], off: usize, v: u64) {
    put_bytes(b, off, &v.to_le_bytes());
}

pub(super) fn put_i64(b: &mut [u8], off: usize, v: i64) {
    put_u64(b, off, v as u64);
}

/// Zeroes `len` bytes starting at `off` (as much as fits).
pub(super) fn zero(b: &mut [u8], off: usize, len: usize) {
    let end = match off.checked_add(len) {
        Some(end) if end <= b.len() => end,
        _ => b.len(),
    };
    if let Some(dst) = b.get_mut(off..end) {
        for d in dst.iter_mut() {
            *d = 0;
        }
    }
}
