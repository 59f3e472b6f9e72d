// SPDX-License-Identifier: GPL-2.0

//! A reproducible data pattern that depends on the absolute file offset.
//!
//! The byte at offset `o` of pattern `seed` is byte `o % 8` of
//! `mix(mix(seed) ^ (o / 8))`. A range written with one seed verifies only
//! with that seed at that same offset: data that landed in the wrong block,
//! an older version of a range, or zeros where data should be, all show up
//! as mismatches. [`Pattern::Zero`] is the content of holes.

/// SplitMix64's finaliser: a cheap, well-mixing 64-bit permutation.
pub fn mix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What a range of a file should contain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// All zeros (a hole, or truncated-away data).
    Zero,
    /// The seeded pattern.
    Seeded(u64),
}

impl Pattern {
    /// Parses a seed argument: `zero` or a number.
    pub fn parse(s: &str) -> Option<Pattern> {
        if s == "zero" {
            Some(Pattern::Zero)
        } else {
            s.parse().ok().map(Pattern::Seeded)
        }
    }

    fn word(key: u64, index: u64) -> u64 {
        mix(key ^ index)
    }

    /// Fills `buf` with the pattern's bytes for file offsets
    /// `offset .. offset + buf.len()`.
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let seed = match self {
            Pattern::Zero => {
                buf.fill(0);
                return;
            }
            Pattern::Seeded(s) => *s,
        };
        let key = mix(seed);
        let mut o = offset;
        let mut i = 0;
        while i < buf.len() {
            let w = Self::word(key, o / 8).to_le_bytes();
            let start = (o % 8) as usize;
            let n = (8 - start).min(buf.len() - i);
            buf[i..i + n].copy_from_slice(&w[start..start + n]);
            i += n;
            o += n as u64;
        }
    }

    /// The index in `buf` (holding file offsets `offset ..`) of the first
    /// byte that differs from the pattern, and how many bytes differ.
    pub fn compare(&self, offset: u64, buf: &[u8]) -> Option<(usize, usize)> {
        let mut want = vec![0u8; buf.len()];
        self.fill(offset, &mut want);
        let mut first = None;
        let mut count = 0;
        for (i, (a, b)) in buf.iter().zip(want.iter()).enumerate() {
            if a != b {
                first.get_or_insert(i);
                count += 1;
            }
        }
        first.map(|f| (f, count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_seeds() {
        assert_eq!(Pattern::parse("zero"), Some(Pattern::Zero));
        assert_eq!(Pattern::parse("42"), Some(Pattern::Seeded(42)));
        assert_eq!(Pattern::parse("x"), None);
    }

    #[test]
    fn depends_only_on_absolute_offset() {
        let p = Pattern::Seeded(7);
        let mut whole = vec![0u8; 10000];
        p.fill(0, &mut whole);
        // Any sub-range, at any alignment, is the same bytes.
        for (start, len) in [(0, 1), (1, 7), (3, 13), (4095, 2), (777, 5000), (9999, 1)] {
            let mut part = vec![0u8; len];
            p.fill(start as u64, &mut part);
            assert_eq!(part, whole[start..start + len], "{start}+{len}");
            assert_eq!(p.compare(start as u64, &part), None);
        }
    }

    #[test]
    fn detects_wrong_offset_seed_and_zeros() {
        let p = Pattern::Seeded(1);
        let mut buf = vec![0u8; 8192];
        p.fill(4096, &mut buf);
        assert_eq!(p.compare(4096, &buf), None);
        // The same bytes one block off, under another seed, or zeroed do not verify.
        assert!(p.compare(0, &buf).is_some());
        assert!(p.compare(8192, &buf).is_some());
        assert!(Pattern::Seeded(2).compare(4096, &buf).is_some());
        assert_eq!(p.compare(4096, &vec![0u8; 8192]).map(|(f, _)| f), Some(0));
        assert_eq!(Pattern::Zero.compare(0, &[0u8; 100]), None);
        // The first differing byte and the count are reported.
        buf[100] ^= 1;
        buf[5000] ^= 0xff;
        assert_eq!(p.compare(4096, &buf), Some((100, 2)));
    }

    #[test]
    fn is_not_trivially_repetitive() {
        let mut a = vec![0u8; 4096];
        let mut b = vec![0u8; 4096];
        Pattern::Seeded(3).fill(0, &mut a);
        Pattern::Seeded(3).fill(4096, &mut b);
        assert_ne!(a, b);
        assert!(a.iter().filter(|x| **x == 0).count() < 100);
    }
}
