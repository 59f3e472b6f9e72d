// SPDX-License-Identifier: GPL-2.0

//! Records for concurrent `O_APPEND` writers.
//!
//! Writer `w` appends records `0 .. count`, each one `write(2)` of
//! `size` bytes: a header `W<w> S<seq> ` and a filler that depends on both,
//! ending in a newline. With `O_APPEND` every write lands whole at the end of
//! the file, so after all writers finish the file must hold exactly every
//! record once, each intact, and each writer's records in its own order.

/// Smallest record size (room for the header and some filler).
pub const MIN_RECORD: usize = 32;

/// The bytes of record `seq` of writer `writer`, `size` bytes long.
pub fn record(writer: u32, seq: u32, size: usize) -> Vec<u8> {
    let mut r = format!("W{writer:05} S{seq:010} ").into_bytes();
    let mut i = r.len();
    while r.len() < size - 1 {
        let x = (writer as usize) * 31 + (seq as usize) * 7 + i;
        r.push(b'a' + (x % 26) as u8);
        i += 1;
    }
    r.push(b'\n');
    r.truncate(size);
    r
}

fn parse_header(rec: &[u8]) -> Option<(u32, u32)> {
    let h = std::str::from_utf8(rec.get(..19)?).ok()?;
    // "W<5 digits> S<10 digits> "
    let w = h.strip_prefix('W')?.get(..5)?.parse().ok()?;
    let s = h.get(8..18)?.parse().ok()?;
    (h.get(6..8)? == " S" && h.get(18..19)? == " ").then_some((w, s))
}

/// Checks a file written by `writers` writers of `count` records of
/// `size` bytes each. Returns a description of the first problem.
pub fn check(data: &[u8], writers: u32, count: u32, size: usize) -> Result<(), String> {
    let want_len = writers as usize * count as usize * size;
    if data.len() != want_len {
        return Err(format!(
            "file is {} bytes, expected {want_len} ({writers} writers x {count} records x {size} bytes)",
            data.len()
        ));
    }
    let mut next = vec![0u32; writers as usize];
    for (i, rec) in data.chunks(size).enumerate() {
        let at = i * size;
        let (w, s) = parse_header(rec)
            .ok_or_else(|| format!("record at byte {at}: no valid header (torn or misplaced write)"))?;
        if w >= writers || s >= count {
            return Err(format!("record at byte {at}: writer {w} seq {s} out of range"));
        }
        if rec != record(w, s, size).as_slice() {
            return Err(format!("record at byte {at} (writer {w} seq {s}): contents damaged"));
        }
        let n = &mut next[w as usize];
        if s != *n {
            return Err(format!(
                "record at byte {at}: writer {w} seq {s}, expected seq {} (lost, doubled or reordered)",
                *n
            ));
        }
        *n += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interleaved(writers: u32, count: u32, size: usize) -> Vec<u8> {
        let mut v = Vec::new();
        for s in 0..count {
            for w in 0..writers {
                v.extend(record(w, s, size));
            }
        }
        v
    }

    #[test]
    fn records_have_the_size_and_header() {
        for size in [MIN_RECORD, 100, 512] {
            let r = record(3, 17, size);
            assert_eq!(r.len(), size);
            assert_eq!(parse_header(&r), Some((3, 17)));
            assert_eq!(r.last(), Some(&b'\n'));
        }
        assert_ne!(record(1, 2, 64), record(2, 1, 64));
    }

    #[test]
    fn accepts_any_interleaving() {
        assert_eq!(check(&interleaved(3, 10, 64), 3, 10, 64), Ok(()));
        let mut sequential = Vec::new();
        for w in [2, 0, 1] {
            for s in 0..10 {
                sequential.extend(record(w, s, 64));
            }
        }
        assert_eq!(check(&sequential, 3, 10, 64), Ok(()));
    }

    #[test]
    fn finds_lost_torn_doubled_and_reordered_records() {
        let good = interleaved(2, 5, 64);
        // Lost: the file is short.
        assert!(check(&good[..good.len() - 64], 2, 5, 64).is_err());
        // Torn: one byte changed in the filler, or a header cut.
        let mut torn = good.clone();
        torn[64 * 3 + 40] = b'#';
        assert!(check(&torn, 2, 5, 64).unwrap_err().contains("damaged"));
        let mut cut = good.clone();
        cut[64 * 2..64 * 2 + 5].copy_from_slice(b"\0\0\0\0\0");
        assert!(check(&cut, 2, 5, 64).unwrap_err().contains("header"));
        // Doubled: a record replaces another of the same writer.
        let mut doubled = good.clone();
        let first = record(0, 0, 64);
        doubled[128..192].copy_from_slice(&first);
        assert!(check(&doubled, 2, 5, 64).is_err());
        // Reordered within one writer.
        let mut swapped = good.clone();
        swapped[..64].copy_from_slice(&record(0, 1, 64));
        swapped[128..192].copy_from_slice(&record(0, 0, 64));
        assert!(check(&swapped, 2, 5, 64).unwrap_err().contains("expected seq"));
    }
}
