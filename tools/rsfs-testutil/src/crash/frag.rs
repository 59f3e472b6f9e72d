// SPDX-License-Identifier: GPL-2.0

//! `fragmented-append`: file `a` appended in small pieces (a few bytes to
//! 8 KiB, unaligned mostly) with file `b` appended in between, `a`
//! fsynced after most pieces and `b` fdatasynced after some. The blocks of
//! the two files alternate on the disk, so `a` collects many extents and
//! overflow blocks, and its tail block is rewritten again and again.
//!
//! The directory is kept from one run to the next (each run appends to
//! what the last left), so `a` grows to thousands of extents over a
//! suite's cuts. A run first logs what each file holds (its size and a
//! hash: the previous run's verification read it back from the disk, so
//! it is durable), and its own bytes use a pattern keyed by its seed.
//!
//! Log: `fragmented-append v1 seed=S count=N`, `pre F SIZE HASH` or
//! `pre F new` for F in a, b; `ready` (both files exist, fsynced with the
//! directory); `ack F SIZE` (F's fsync or fdatasync returned when it had
//! SIZE bytes); `end I ERRNO` (I: the iteration).

use super::{fnv1a, log_err, op_pattern, Ended, Fatal, Log, LogFile, Rng};
use crate::pattern::Pattern;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// The two files.
pub const FILES: [&str; 2] = ["a", "b"];

/// One iteration: the bytes appended to each file, and the syncs after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub len: [u64; 2],
    pub fsync_a: bool,
    pub sync_b: bool,
}

/// A run's iterations.
pub fn plan(seed: u64, count: usize) -> Vec<Step> {
    let mut r = Rng::new(seed);
    (0..count)
        .map(|_| {
            let a = match r.below(3) {
                0 => r.range(1, 511),
                1 => 4096,
                _ => r.range(1, 8192),
            };
            let b = if r.chance(3, 4) { 4096 } else { r.range(1, 8192) };
            Step { len: [a, b], fsync_a: r.chance(7, 8), sync_b: r.chance(1, 3) }
        })
        .collect()
}

/// The bytes a run with `seed` appends to file `f`, at their offsets.
pub fn pattern(seed: u64, f: usize) -> Pattern {
    op_pattern(seed, 0xf7a9_0000 + f as u64, 0)
}

/// How a run went: the end, and the files' sizes.
pub struct Outcome {
    pub ended: Ended,
    pub sizes: [u64; 2],
    pub acked: [u64; 2],
}

/// Runs `count` iterations in `dir` (made if missing, kept otherwise).
pub fn run(dir: &Path, log_path: &Path, seed: u64, count: usize, stop_at: Option<usize>) -> Result<Outcome, Fatal> {
    let log = Log::create(log_path).map_err(log_err)?;
    log.line(&format!("fragmented-append v1 seed={seed} count={count}")).map_err(log_err)?;
    let mut out = Outcome { ended: Ended { last: 0, error: None }, sizes: [0; 2], acked: [0; 2] };
    let end = |log: &Log, out: &Outcome| log.line(&format!("end {}", out.ended.log_words())).map_err(log_err);
    // What the files hold now, from the disk (durable: the verifier read it).
    for (f, n) in FILES.iter().enumerate() {
        match fs::read(dir.join(n)) {
            Ok(d) => {
                out.sizes[f] = d.len() as u64;
                log.line(&format!("pre {n} {} {:016x}", d.len(), fnv1a(&d))).map_err(log_err)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => log.line(&format!("pre {n} new")).map_err(log_err)?,
            Err(e) => {
                out.ended.error = Some(e);
                end(&log, &out)?;
                return Ok(out);
            }
        }
    }
    out.acked = out.sizes;
    let files = match setup(dir) {
        Ok(f) => f,
        Err(e) => {
            out.ended.error = Some(e);
            end(&log, &out)?;
            return Ok(out);
        }
    };
    log.line("ready").map_err(log_err)?;
    let mut buf = vec![0u8; 8192];
    for (i, st) in plan(seed, count).iter().enumerate() {
        out.ended.last = i;
        let r = (|| -> io::Result<()> {
            if stop_at == Some(i) {
                return Err(super::injected_eio());
            }
            for f in 0..2 {
                let b = &mut buf[..st.len[f] as usize];
                pattern(seed, f).fill(out.sizes[f], b);
                out.sizes[f] += st.len[f];
                files[f].write_all_at(b, out.sizes[f] - st.len[f])?;
            }
            if st.fsync_a {
                files[0].sync_all()?;
                out.acked[0] = out.sizes[0];
                log.line(&format!("ack a {}", out.sizes[0])).map_err(|e| io::Error::other(e.to_string()))?;
            }
            if st.sync_b {
                files[1].sync_data()?;
                out.acked[1] = out.sizes[1];
                log.line(&format!("ack b {}", out.sizes[1])).map_err(|e| io::Error::other(e.to_string()))?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            if e.raw_os_error().is_none() {
                return Err(Fatal(format!("writing the log: {e}")));
            }
            out.ended.error = Some(e);
            break;
        }
    }
    end(&log, &out)?;
    Ok(out)
}

/// The directory and both files, durable.
fn setup(dir: &Path) -> io::Result<[File; 2]> {
    if !dir.exists() {
        fs::create_dir(dir)?;
        File::open(super::parent_of(dir))?.sync_all()?;
    }
    let open = |n: &str| OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(n));
    let files = [open(FILES[0])?, open(FILES[1])?];
    for f in &files {
        f.sync_all()?;
    }
    File::open(dir)?.sync_all()?;
    Ok(files)
}

/// What the log says about one file.
#[derive(Clone, Copy, Debug, Default)]
struct Acks {
    /// (size, hash) before the run; `None`: the run made it.
    pre: Option<(u64, u64)>,
    acked: u64,
}

/// Checks the files found (`None`: the directory is missing; a non-file
/// entry is `None`) against the log.
pub fn check(log: &LogFile, seen: Option<&super::writers::Files>, dir: &str) -> Result<String, String> {
    let seed = log.param("seed")?;
    let count: usize = log.param("count")?;
    let mut acks = [Acks::default(); 2];
    let mut pre_seen = [false; 2];
    let idx = |n: &str| FILES.iter().position(|f| *f == n).ok_or_else(|| format!("log names an unknown file {n:?}"));
    for l in &log.lines {
        match (l[0].as_str(), l.len()) {
            ("pre", 3) if l[2] == "new" => pre_seen[idx(&l[1])?] = true,
            ("pre", 4) => {
                let f = idx(&l[1])?;
                let h = u64::from_str_radix(&l[3], 16).map_err(|_| format!("bad hash in {l:?}"))?;
                acks[f].pre = Some((super::num(&l[2])?, h));
                pre_seen[f] = true;
            }
            ("ack", 3) => {
                let f = idx(&l[1])?;
                acks[f].acked = acks[f].acked.max(super::num(&l[2])?);
            }
            ("ready", 1) | ("end", 3) => {}
            _ => return Err(format!("bad log line {l:?}")),
        }
    }
    let last = log.end()?.map_or(count.saturating_sub(1), |e| e.0);
    let steps = plan(seed, count);
    let ready = log.ready();
    let empty = BTreeMap::new();
    let seen = match seen {
        Some(s) => s,
        None if ready || acks.iter().any(|a| a.pre.is_some()) => return Err(format!("{dir}: missing (it held files, or was made durable)")),
        None => &empty,
    };
    if let Some(n) = seen.keys().find(|n| !FILES.contains(&n.as_str())) {
        return Err(format!("{dir}/{n}: an entry the workload never made"));
    }
    let mut sizes = [0u64; 2];
    for (f, n) in FILES.iter().enumerate() {
        let a = acks[f];
        let data = match seen.get(*n) {
            None if a.pre.is_some() || ready => return Err(format!("{dir}/{n}: missing")),
            None => continue,
            Some(None) => return Err(format!("{dir}/{n}: not a regular file")),
            Some(Some(d)) => d,
        };
        let s = data.len() as u64;
        sizes[f] = s;
        let (pre, hash) = a.pre.unwrap_or((0, fnv1a(&[])));
        let acked = a.acked.max(pre);
        // Appends happen only after 'ready'.
        let max = if ready { pre + steps.iter().take(last + 1).map(|st| st.len[f]).sum::<u64>() } else { pre };
        if s < acked {
            return Err(format!("{dir}/{n}: {s} bytes, but {acked} were durable ({})", if acked > pre { "acknowledged by a sync" } else { "there before the run" }));
        }
        if s > max {
            return Err(format!("{dir}/{n}: {s} bytes, more than the {max} written"));
        }
        if fnv1a(&data[..pre as usize]) != hash {
            return Err(format!("{dir}/{n}: its first {pre} bytes (there before the run) changed"));
        }
        let pat = pattern(seed, f);
        if let Some((x, nbad)) = pat.compare(pre, &data[pre as usize..acked as usize]) {
            let x = pre as usize + x;
            return Err(format!("{dir}/{n}: byte {x} of the {acked} acknowledged is {:#04x}, not the data appended there ({nbad} bad)", data[x]));
        }
        let mut want = vec![0u8; (s - acked) as usize];
        pat.fill(acked, &mut want);
        if let Some(i) = (0..want.len()).find(|&i| data[acked as usize + i] != want[i] && data[acked as usize + i] != 0) {
            let x = acked as usize + i;
            return Err(format!("{dir}/{n}: byte {x} (past the {acked} acknowledged) is {:#04x}: neither the data appended there nor zero", data[x]));
        }
    }
    if !pre_seen.iter().all(|&p| p) && ready {
        return Err("the log has no 'pre' line for a file".into());
    }
    Ok(format!("fragmented-append-verify: ok: a {} bytes, b {} bytes, last iteration started {last} of {count}", sizes[0], sizes[1]))
}

/// Verifies `dir` against the log at `log_path`.
pub fn verify(dir: &Path, log_path: &Path) -> Result<String, String> {
    let log = LogFile::read(log_path, "fragmented-append")?;
    let seen = super::writers::observe(dir, 1 << 31)?;
    check(&log, seen.as_ref(), &dir.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::testdir::TestDir;

    #[test]
    fn plans_mix_piece_sizes() {
        let p = plan(3, 500);
        assert_eq!(p, plan(3, 500));
        assert!(p.iter().filter(|s| s.len[0] < 512).count() > 50);
        assert!(p.iter().filter(|s| s.len[0] == 4096).count() > 50);
        assert!(p.iter().filter(|s| s.len[0] % 4096 != 0).count() > 200);
        assert!(p.iter().filter(|s| !s.fsync_a).count() > 10);
        assert!(p.iter().filter(|s| s.sync_b).count() > 100);
    }

    #[test]
    fn runs_continue_the_files_and_verify() {
        let d = TestDir::new("frag");
        let dir = d.join("frag");
        let mut total = [0u64; 2];
        for (round, stop) in [(1u64, None), (2, Some(30)), (3, Some(0)), (4, None)] {
            let log = d.join(&format!("log{round}"));
            let out = run(&dir, &log, round, 60, stop).unwrap();
            assert_eq!(out.ended.error.is_some(), stop.is_some());
            let s = verify(&dir, &log).unwrap_or_else(|e| panic!("round {round}: {e}"));
            assert!(s.contains("ok"), "{s}");
            for (t, s) in total.iter_mut().zip(out.sizes) {
                assert!(s >= *t);
                *t = s;
            }
        }
        assert_eq!(fs::metadata(dir.join("a")).unwrap().len(), total[0]);
    }

    #[test]
    fn acknowledged_states_verify_and_violations_fail() {
        let d = TestDir::new("frag-bad");
        let dir = d.join("frag");
        run(&dir, &d.join("log0"), 10, 40, None).unwrap();
        let log = d.join("log");
        let out = run(&dir, &log, 11, 80, Some(50)).unwrap();
        let good = [fs::read(dir.join("a")).unwrap(), fs::read(dir.join("b")).unwrap()];
        let restore = || {
            fs::write(dir.join("a"), &good[0]).unwrap();
            fs::write(dir.join("b"), &good[1]).unwrap();
        };
        // Back to the acknowledged sizes, or with zeros past them: fine.
        fs::write(dir.join("a"), &good[0][..out.acked[0] as usize]).unwrap();
        fs::write(dir.join("b"), &good[1][..out.acked[1] as usize]).unwrap();
        verify(&dir, &log).unwrap();
        let mut z = good[0].clone();
        z[out.acked[0] as usize..].fill(0);
        fs::write(dir.join("a"), &z).unwrap();
        verify(&dir, &log).unwrap();
        restore();
        // Short of the acknowledged size.
        fs::write(dir.join("a"), &good[0][..out.acked[0] as usize - 1]).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("durable"));
        restore();
        // The previous run's bytes changed.
        let mut bad = good[1].clone();
        bad[10] ^= 1;
        fs::write(dir.join("b"), &bad).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("there before the run"));
        restore();
        // An acknowledged byte of this run, a stale byte past it.
        let pre_a = fs::read_to_string(&log).unwrap().lines().find(|l| l.starts_with("pre a ")).unwrap().split(' ').nth(2).unwrap().parse::<usize>().unwrap();
        let mut bad = good[0].clone();
        bad[pre_a + 1] ^= 0x10;
        fs::write(dir.join("a"), &bad).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("acknowledged"));
        restore();
        if good[0].len() > out.acked[0] as usize {
            let mut bad = good[0].clone();
            let x = out.acked[0] as usize;
            bad[x] = if bad[x] == 0x33 { 0x34 } else { 0x33 };
            fs::write(dir.join("a"), &bad).unwrap();
            assert!(verify(&dir, &log).unwrap_err().contains("neither"));
            restore();
        }
        // Longer than all that was written; a stranger; a file gone.
        let mut long = good[1].clone();
        long.extend_from_slice(&[0; 100_000]);
        fs::write(dir.join("b"), &long).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("more than"));
        restore();
        fs::write(dir.join("c"), b"").unwrap();
        assert!(verify(&dir, &log).is_err());
        fs::remove_file(dir.join("c")).unwrap();
        fs::remove_file(dir.join("a")).unwrap();
        assert!(verify(&dir, &log).unwrap_err().contains("missing"));
    }

    #[test]
    fn a_run_cut_before_ready_verifies_without_files() {
        let d = TestDir::new("frag-early");
        let log = d.join("log");
        Log::create(&log).unwrap().line("fragmented-append v1 seed=1 count=5").unwrap();
        verify(&d.join("nothing"), &log).unwrap();
    }
}
