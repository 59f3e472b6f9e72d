// SPDX-License-Identifier: GPL-2.0

//! The rule for one file's size and bytes after a crash.
//!
//! A file's history is a list of [`Event`]s (writes and truncates, by op
//! index). Acknowledgements come in two kinds: a *full* one (fsync,
//! fdatasync or syncfs returned at op A: every event before A is durable)
//! and *range* ones (an `O_DSYNC`/`O_SYNC` write returned: its own bytes are
//! durable, and the size that reaches them). The events after A, up to the
//! last op started, may each have happened or not, writes even in part.
//!
//! So, with M the file as the events up to A left it:
//!
//! - **size**: one the file had at A or after a later event (metadata is
//!   ordered: a journal replays a prefix, and ext4 does too), or a multiple
//!   of 4 KiB inside the range an extending write added (ext4 and rsfs
//!   raise the on-disk size as the data of each block lands); and no
//!   smaller than every acknowledged state needs (M's size, unless a later
//!   truncate may have shrunk it; the end of an acknowledged `O_DSYNC`
//!   write likewise).
//! - **each byte**: M's byte (zero past M's end), or the byte a later event
//!   put there: a write's own byte, or zero for a truncate that cut below
//!   it, a truncate that grew over it, or the gap a write past the end
//!   left. Where an acknowledged `O_DSYNC` write lies, only that write's
//!   byte or a later event's. Nothing else: the bytes of an overwritten
//!   version, of a write that never started, of another file, or of a
//!   freed block's old owner all fail (each write's pattern is its own).

use crate::pattern::Pattern;
use std::fmt::Write as _;

/// The granule by which the on-disk size may grow while an extending
/// write's data lands (the page size and the block size of both rsfs and
/// the ext4 of the reference runs).
pub const BLOCK: u64 = 4096;

/// One change to a file's contents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    /// `len` bytes of `pat` at `off` (the pattern is keyed by the op).
    Write { off: u64, len: u64, pat: Pattern },
    /// `ftruncate` to `size`.
    Truncate { size: u64 },
}

/// A change made by op `op`; `dsync`: through `O_DSYNC` or `O_SYNC`.
#[derive(Clone, Copy, Debug)]
pub struct Event {
    pub op: usize,
    pub change: Change,
    pub dsync: bool,
}

/// Applies a change to a file's contents in memory.
pub fn apply(data: &mut Vec<u8>, c: &Change) {
    match *c {
        Change::Write { off, len, pat } => {
            let end = (off + len) as usize;
            if data.len() < end {
                data.resize(end, 0);
            }
            pat.fill(off, &mut data[off as usize..end]);
        }
        Change::Truncate { size } => data.resize(size as usize, 0),
    }
}

/// The size after a change, from the size before.
fn size_after(size: u64, c: &Change) -> u64 {
    match *c {
        Change::Write { off, len, .. } => size.max(off + len),
        Change::Truncate { size } => size,
    }
}

/// What the verifier knows about one file.
pub struct Acked<'a> {
    /// Every content event of the file in op order (those after `last`
    /// too: they only serve to name what stale bytes are).
    pub events: &'a [Event],
    /// The latest op whose success made every earlier event durable.
    pub full: Option<usize>,
    /// The `O_DSYNC`/`O_SYNC` writes whose call returned (op indexes).
    pub ranges: &'a [usize],
    /// The last op started; events after it never happened.
    pub last: usize,
}

impl Acked<'_> {
    /// The file as the acknowledged events left it, and the later events.
    fn split(&self) -> (Vec<u8>, Vec<&Event>) {
        let mut base = Vec::new();
        let mut later = Vec::new();
        for e in self.events.iter().filter(|e| e.op <= self.last) {
            if self.full.is_some_and(|f| e.op <= f) {
                apply(&mut base, &e.change);
            } else {
                later.push(e);
            }
        }
        (base, later)
    }

    /// The largest size the file can have (for a check before reading it).
    pub fn max_size(&self) -> u64 {
        let (base, later) = self.split();
        let mut s = base.len() as u64;
        let mut max = s;
        for e in later {
            s = size_after(s, &e.change);
            max = max.max(s);
        }
        max
    }
}

/// Checks a file's contents `got` against what was acknowledged; `name`
/// and `describe` (an op's description) make the message.
pub fn check(name: &str, a: &Acked, got: &[u8], describe: &dyn Fn(usize) -> String) -> Result<(), String> {
    let (base, later) = a.split();
    // sizes[0]: at the acknowledgement; sizes[j + 1]: after later[j].
    let mut sizes = vec![base.len() as u64];
    for e in &later {
        sizes.push(size_after(*sizes.last().unwrap(), &e.change));
    }
    let acked_range = |e: &Event| e.dsync && a.ranges.contains(&e.op);
    // Positions whose state was acknowledged: 0 and each acked O_DSYNC write.
    let mut lo = 0u64;
    let mut lo_why = String::new();
    for p in std::iter::once(0).chain((0..later.len()).filter(|&j| acked_range(later[j])).map(|j| j + 1)) {
        let m = *sizes[p..].iter().min().unwrap();
        if m > lo {
            lo = m;
            lo_why = if p == 0 {
                a.full.map_or("the file's start".into(), |f| format!("the acknowledgement at op {f} ({})", describe(f)))
            } else {
                format!("the O_DSYNC write at op {} ({})", later[p - 1].op, describe(later[p - 1].op))
            };
        }
    }
    let s = got.len() as u64;
    let reachable = sizes.contains(&s)
        || (s.is_multiple_of(BLOCK)
            && (0..later.len()).any(|j| {
                matches!(later[j].change, Change::Write { .. }) && sizes[j] < s && s < sizes[j + 1]
            }));
    if s < lo {
        return Err(format!("{name}: {s} bytes, but {lo_why} made {lo} bytes durable"));
    }
    if !reachable {
        let mut list: Vec<u64> = sizes.clone();
        list.sort_unstable();
        list.dedup();
        return Err(format!(
            "{name}: {s} bytes, a size no acknowledged state or later op gives (sizes since {}: {list:?}, or a 4 KiB multiple an extending write crossed)",
            a.full.map_or("the start".into(), |f| format!("op {f}"))
        ));
    }
    // The byte each later write puts where it writes.
    let bytes: Vec<Option<Vec<u8>>> = later
        .iter()
        .map(|e| match e.change {
            Change::Write { off, len, pat } => {
                let mut b = vec![0u8; len as usize];
                pat.fill(off, &mut b);
                Some(b)
            }
            Change::Truncate { .. } => None,
        })
        .collect();
    // floor[x]: candidates start at this position (an acked O_DSYNC write).
    let mut floor = vec![0u32; got.len()];
    for (j, e) in later.iter().enumerate() {
        if let (true, Change::Write { off, len, .. }) = (acked_range(e), e.change) {
            for f in floor.iter_mut().take(((off + len).min(s)) as usize).skip(off as usize) {
                *f = (*f).max(j as u32 + 1);
            }
        }
    }
    let allowed = |x: usize, g: u8| -> bool {
        let f = floor[x] as usize;
        if f == 0 && g == base.get(x).copied().unwrap_or(0) {
            return true;
        }
        let xu = x as u64;
        (f.saturating_sub(1)..later.len()).any(|j| match later[j].change {
            Change::Write { off, len, .. } if xu >= off && xu < off + len => {
                bytes[j].as_ref().unwrap()[(xu - off) as usize] == g
            }
            // The gap between the old end and a write past it reads zeros.
            Change::Write { off, .. } => g == 0 && xu >= sizes[j] && xu < off,
            // Cut away (a later growth reads zeros), or grown over.
            Change::Truncate { size } => g == 0 && (xu >= size || xu >= sizes[j]),
        })
    };
    let mut bad = None;
    let mut nbad = 0usize;
    let mut last_bad = 0usize;
    for (x, &g) in got.iter().enumerate() {
        if !allowed(x, g) {
            bad.get_or_insert(x);
            nbad += 1;
            last_bad = x;
        }
    }
    let Some(x) = bad else { return Ok(()) };
    // What the byte is (judged on the run of bad bytes it starts, at most
    // 16), and what it could have been.
    let run = (x..got.len().min(x + 16)).take_while(|&y| !allowed(y, got[y])).count();
    let mut msg = format!("{name}: byte {x} is {:#04x}, {}; allowed there:", got[x], origin(a, &got[x..x + run], x, describe));
    let f = floor[x] as usize;
    if f == 0 {
        let what = a.full.map_or("the file's start".to_string(), |op| format!("the state acknowledged at op {op}"));
        let _ = write!(msg, " {:#04x} ({what})", base.get(x).copied().unwrap_or(0));
    }
    for j in f.saturating_sub(1)..later.len() {
        let xu = x as u64;
        let v = match later[j].change {
            Change::Write { off, len, .. } if xu >= off && xu < off + len => Some(bytes[j].as_ref().unwrap()[(xu - off) as usize]),
            Change::Write { off, .. } if xu >= sizes[j] && xu < off => Some(0),
            Change::Truncate { size } if xu >= size || xu >= sizes[j] => Some(0),
            _ => None,
        };
        if let Some(v) = v {
            let _ = write!(msg, ", {v:#04x} (op {}: {})", later[j].op, describe(later[j].op));
        }
    }
    let _ = write!(msg, "; {nbad} bad byte(s) between {x} and {last_bad}");
    Err(msg)
}

/// Names what the bytes `run` found at `x` are: zeros, or which write's.
fn origin(a: &Acked, run: &[u8], x: usize, describe: &dyn Fn(usize) -> String) -> String {
    if run.iter().all(|&b| b == 0) {
        return "zeros".into();
    }
    for e in a.events.iter().rev() {
        if let Change::Write { off, len, pat } = e.change {
            let xu = x as u64;
            if xu < off || xu >= off + len {
                continue;
            }
            let n = run.len().min((off + len - xu) as usize);
            if pat.compare(xu, &run[..n]).is_none() {
                let when = if e.op > a.last {
                    "an op that never started"
                } else if a.full.is_some_and(|f| e.op <= f) {
                    "overwritten or cut before the acknowledgement"
                } else {
                    "a later op"
                };
                return format!("op {}'s data ({}; {when})", e.op, describe(e.op));
            }
        }
    }
    "not written there by any op of this file (stale data?)".into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::Rng;

    fn w(op: usize, off: u64, len: u64) -> Event {
        Event { op, change: Change::Write { off, len, pat: Pattern::Seeded(op as u64 * 7 + 1) }, dsync: false }
    }
    fn t(op: usize, size: u64) -> Event {
        Event { op, change: Change::Truncate { size }, dsync: false }
    }
    fn ds(op: usize, off: u64, len: u64) -> Event {
        Event { dsync: true, ..w(op, off, len) }
    }
    fn state(events: &[Event], upto: usize) -> Vec<u8> {
        let mut d = Vec::new();
        for e in events.iter().filter(|e| e.op <= upto) {
            apply(&mut d, &e.change);
        }
        d
    }
    fn desc(op: usize) -> String {
        format!("op#{op}")
    }
    fn chk(events: &[Event], full: Option<usize>, ranges: &[usize], last: usize, got: &[u8]) -> Result<(), String> {
        check("f", &Acked { events, full, ranges, last }, got, &desc)
    }

    // ops: 0 write, 1 write, 2 (fsync), 3 write over, 4 truncate down, 5 write past end
    fn history() -> Vec<Event> {
        vec![w(0, 0, 10000), w(1, 5000, 3000), w(3, 2000, 100), t(4, 6000), w(5, 9000, 500)]
    }

    #[test]
    fn accepts_the_acknowledged_state_and_every_prefix_after_it() {
        let h = history();
        for upto in [2, 3, 4, 5] {
            chk(&h, Some(2), &[], 5, &state(&h, upto)).unwrap_or_else(|e| panic!("prefix {upto}: {e}"));
        }
        // Without any acknowledgement, even the empty file.
        chk(&h, None, &[], 5, &[]).unwrap();
    }

    #[test]
    fn accepts_later_writes_in_part_and_block_sizes_of_extending_writes() {
        let h = vec![w(0, 0, 3000), w(2, 3000, 20000)];
        let mut d = state(&h, 2);
        // Only the second block of the extending write landed; the size
        // reached a 4 KiB multiple inside the write.
        d.truncate(12288);
        d[3000..8192].fill(0);
        chk(&h, Some(1), &[], 2, &d).unwrap();
        // Not a size the write passes through as a block multiple.
        d.truncate(12000);
        assert!(chk(&h, Some(1), &[], 2, &d).unwrap_err().contains("12000 bytes"));
    }

    #[test]
    fn rejects_lost_acknowledged_data() {
        let h = history();
        let mut d = state(&h, 2);
        d[100] ^= 0xff;
        let e = chk(&h, Some(2), &[], 5, &d).unwrap_err();
        assert!(e.contains("byte 100"), "{e}");
        let mut d = state(&h, 2);
        d[300..310].fill(0);
        let e = chk(&h, Some(2), &[], 5, &d).unwrap_err();
        assert!(e.contains("byte 300") && e.contains("zeros"), "{e}");
        // Zeros where a later (unacknowledged) truncate cut are fine, even
        // at the old size: ext4 may write the zeroed tail block first.
        let mut d = state(&h, 2);
        d[7000..7010].fill(0);
        chk(&h, Some(2), &[], 5, &d).unwrap();
    }

    #[test]
    fn rejects_an_overwritten_version_and_names_it() {
        let h = history();
        let mut d = state(&h, 5);
        // Bytes of op 0 where op 1 overwrote them before the ack at 2.
        let mut old = vec![0u8; 10];
        Pattern::Seeded(1).fill(5000, &mut old);
        d[5000..5010].copy_from_slice(&old);
        let e = chk(&h, Some(2), &[], 5, &d).unwrap_err();
        assert!(e.contains("op 0's data") && e.contains("before the acknowledgement"), "{e}");
    }

    #[test]
    fn rejects_ops_that_never_started() {
        let h = history();
        // Op 5 never started (last = 4): its bytes, and its size, fail.
        let d = state(&h, 5);
        let e = chk(&h, Some(2), &[], 4, &d).unwrap_err();
        assert!(e.contains("9500 bytes"), "{e}");
        let mut d = state(&h, 4);
        d.resize(9500, 0);
        assert!(chk(&h, Some(2), &[], 4, &d).is_err());
    }

    #[test]
    fn rejects_a_short_file_and_a_truncate_that_never_happened() {
        let h = history();
        let d = state(&h, 2);
        let e = chk(&h, Some(3), &[], 3, &d[..8000]).unwrap_err();
        assert!(e.contains("made 10000 bytes durable"), "{e}");
        // With the truncate (op 4) acknowledged, the old size is wrong.
        assert!(chk(&h, Some(4), &[], 5, &state(&h, 3)).is_err());
        chk(&h, Some(4), &[], 5, &state(&h, 4)).unwrap();
    }

    #[test]
    fn rejects_stale_bytes_past_a_truncate() {
        // Truncated to 1000 and acknowledged, then grown: the old bytes past
        // 1000 must read as zeros.
        let h = vec![w(0, 0, 8192), t(1, 1000), t(3, 8192)];
        chk(&h, Some(2), &[], 3, &state(&h, 3)).unwrap();
        let mut d = state(&h, 3);
        let mut old = vec![0u8; 100];
        Pattern::Seeded(1).fill(1000, &mut old);
        d[1000..1100].copy_from_slice(&old);
        let e = chk(&h, Some(2), &[], 3, &d).unwrap_err();
        assert!(e.contains("byte 1000") && e.contains("op 0's data"), "{e}");
    }

    #[test]
    fn dsync_writes_are_durable_on_their_own() {
        // 0 write, 1 fsync, 2 buffered write, 3 O_DSYNC write (acked), 4 buffered
        let h = vec![w(0, 0, 4096), w(2, 0, 100), ds(3, 5000, 3000), w(4, 5500, 10)];
        chk(&h, Some(1), &[3], 4, &state(&h, 4)).unwrap();
        chk(&h, Some(1), &[3], 4, &state(&h, 3)).unwrap();
        // The buffered write before it may be lost...
        let mut d = state(&h, 3);
        d[..100].copy_from_slice(&state(&h, 1)[..100]);
        chk(&h, Some(1), &[3], 4, &d).unwrap();
        // ...but not the O_DSYNC write's bytes, nor the size it reached.
        let mut d = state(&h, 3);
        d[6000..6100].fill(0);
        let e = chk(&h, Some(1), &[3], 4, &d).unwrap_err();
        assert!(e.contains("byte 6000"), "{e}");
        let e = chk(&h, Some(1), &[3], 4, &state(&h, 2)).unwrap_err();
        assert!(e.contains("O_DSYNC write at op 3"), "{e}");
        // Not acknowledged (the call failed): it may be lost.
        chk(&h, Some(1), &[], 4, &state(&h, 2)).unwrap();
    }

    /// Random histories: any prefix of the later ops for the metadata
    /// (size), any subset of their 512-byte pieces for the data, must pass;
    /// one byte of the acknowledged state changed must not.
    #[test]
    fn random_crash_states_pass_and_damaged_ones_fail() {
        for seed in 0..300u64 {
            let mut r = Rng::new(seed);
            let mut h = Vec::new();
            let mut size = 0u64;
            let n = 12;
            for op in 0..n {
                if r.chance(1, 4) {
                    size = r.below(size + 5000);
                    h.push(t(op, size));
                } else {
                    let off = if r.chance(1, 2) { size } else { r.below(size + 3000) };
                    let len = r.range(1, 9000);
                    size = size.max(off + len);
                    h.push(Event { dsync: r.chance(1, 6), ..w(op, off, len) });
                }
            }
            let ack = r.below(n as u64) as usize;
            let ranges: Vec<usize> = h.iter().filter(|e| e.dsync && e.op > ack).map(|e| e.op).collect();
            let last = n - 1;
            // The metadata reached op q (at least the last acknowledged write).
            let q = (ack + r.below((n - ack) as u64) as usize).max(ranges.iter().copied().max().unwrap_or(0));
            let mut d = state(&h, ack);
            for e in h.iter().filter(|e| e.op > ack) {
                match e.change {
                    Change::Truncate { .. } if e.op <= q => apply(&mut d, &e.change),
                    Change::Truncate { .. } => {}
                    Change::Write { off, len, pat } => {
                        let whole = ranges.contains(&e.op);
                        if e.op <= q && d.len() < (off + len) as usize {
                            d.resize((off + len) as usize, 0);
                        }
                        let mut p = off;
                        while p < off + len {
                            let pe = ((p / 512 + 1) * 512).min(off + len);
                            if (whole || r.chance(1, 2)) && (pe as usize) <= d.len() {
                                pat.fill(p, &mut d[p as usize..pe as usize]);
                            }
                            p = pe;
                        }
                    }
                }
            }
            d.resize(state(&h, q).len(), 0);
            chk(&h, Some(ack), &ranges, last, &d).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            // Damage an acknowledged byte that no later op touches.
            let acked = state(&h, ack);
            let untouched = (0..acked.len().min(d.len())).find(|&x| {
                h.iter().filter(|e| e.op > ack).all(|e| match e.change {
                    Change::Write { off, len, .. } => (x as u64) < off.min(size_at(&h, e.op - 1)) || x as u64 >= off + len,
                    Change::Truncate { size } => (x as u64) < size.min(size_at(&h, e.op - 1)),
                })
            });
            if let Some(x) = untouched {
                let mut bad = d.clone();
                bad[x] ^= 0x5a;
                assert!(chk(&h, Some(ack), &ranges, last, &bad).is_err(), "seed {seed}: damage at {x} passed");
            }
        }
    }

    fn size_at(h: &[Event], upto: usize) -> u64 {
        state(h, upto).len() as u64
    }
}
