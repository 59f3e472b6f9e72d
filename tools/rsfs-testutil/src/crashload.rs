// SPDX-License-Identifier: GPL-2.0

//! A workload to cut the power under, and the check after the power-on.
//!
//! [`run`] creates files one after another, each filled with its own
//! [`Pattern`], fsyncs the file and its directory, and only then appends
//! the file to a manifest kept elsewhere (in the VM's tmpfs): the manifest
//! lists exactly the files whose fsync returned success. It stops at the
//! first error, which is how it meets the power cut. [`verify`] then checks
//! that every file in the manifest is there, whole, with its contents: what
//! the filesystem acknowledged as durable must have survived the cut.

use crate::pattern::Pattern;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

/// One manifest line: `NAME SIZE SEED`.
#[derive(Debug, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    pub seed: u64,
}

impl Entry {
    fn parse(line: &str) -> Option<Entry> {
        let mut w = line.split_whitespace();
        let e = Entry { name: w.next()?.to_string(), size: w.next()?.parse().ok()?, seed: w.next()?.parse().ok()? };
        w.next().is_none().then_some(e)
    }
}

/// How a workload ended.
pub struct Outcome {
    /// Files created and fsynced (and listed in the manifest).
    pub synced: u64,
    /// The error that stopped it, if any.
    pub error: Option<io::Error>,
}

/// Writes and fsyncs `count` files of `size` bytes named `PREFIX-<i>` in
/// `dir`, appending each to `manifest` once its fsync and its directory's
/// fsync succeeded. File `i` holds pattern `seed * 1_000_000 + i`.
pub fn run(dir: &Path, manifest: &Path, prefix: &str, count: u64, size: u64, seed: u64) -> Outcome {
    let mut list = match OpenOptions::new().create(true).append(true).open(manifest) {
        Ok(f) => f,
        Err(e) => return Outcome { synced: 0, error: Some(e) },
    };
    let mut synced = 0;
    for i in 0..count {
        let entry = Entry { name: format!("{prefix}-{i}"), size, seed: seed.wrapping_mul(1_000_000).wrapping_add(i) };
        if let Err(e) = write_synced(dir, &entry) {
            return Outcome { synced, error: Some(e) };
        }
        // The manifest is not on the device under test.
        if let Err(e) = writeln!(list, "{} {} {}", entry.name, entry.size, entry.seed) {
            return Outcome { synced, error: Some(e) };
        }
        synced += 1;
    }
    Outcome { synced, error: None }
}

fn write_synced(dir: &Path, e: &Entry) -> io::Result<()> {
    let f = OpenOptions::new().write(true).create_new(true).open(dir.join(&e.name))?;
    let mut buf = vec![0u8; 64 << 10];
    let mut at = 0;
    while at < e.size {
        let n = (e.size - at).min(buf.len() as u64) as usize;
        Pattern::Seeded(e.seed).fill(at, &mut buf[..n]);
        f.write_all_at(&buf[..n], at)?;
        at += n as u64;
    }
    f.sync_all()?;
    File::open(dir)?.sync_all()
}

/// Checks every file in `manifest` under `dir`; returns how many, or what
/// is wrong with the first bad one.
pub fn verify(dir: &Path, manifest: &Path) -> Result<u64, String> {
    let list = File::open(manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut n = 0;
    for line in BufReader::new(list).lines() {
        let line = line.map_err(|e| format!("{}: {e}", manifest.display()))?;
        let e = Entry::parse(&line).ok_or_else(|| format!("{}: bad line {line:?}", manifest.display()))?;
        let path = dir.join(&e.name);
        let data = fs::read(&path).map_err(|err| format!("{} (fsynced before the cut): {err}", path.display()))?;
        if data.len() as u64 != e.size {
            return Err(format!("{} (fsynced before the cut): {} bytes, expected {}", path.display(), data.len(), e.size));
        }
        if let Some((at, bad)) = Pattern::Seeded(e.seed).compare(0, &data) {
            return Err(format!("{} (fsynced before the cut): {bad} bytes differ, first at {at}", path.display()));
        }
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("rsfs-crashload-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn run_then_verify() {
        let d = tmp("ok");
        let m = d.join("manifest");
        let data = d.join("data");
        fs::create_dir(&data).unwrap();
        let out = run(&data, &m, "c", 5, 70_000, 3);
        assert!(out.error.is_none());
        assert_eq!(out.synced, 5);
        assert_eq!(verify(&data, &m), Ok(5));
        // A second round appends to the manifest.
        assert_eq!(run(&data, &m, "d", 2, 10, 4).synced, 2);
        assert_eq!(verify(&data, &m), Ok(7));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn verify_catches_loss_and_damage() {
        let d = tmp("bad");
        let m = d.join("manifest");
        let data = d.join("data");
        fs::create_dir(&data).unwrap();
        run(&data, &m, "c", 3, 5000, 1);
        fs::write(data.join("c-1"), vec![0u8; 5000]).unwrap();
        assert!(verify(&data, &m).unwrap_err().contains("c-1"));
        fs::remove_file(data.join("c-1")).unwrap();
        assert!(verify(&data, &m).unwrap_err().contains("c-1"));
        fs::write(data.join("c-1"), vec![0u8; 10]).unwrap();
        assert!(verify(&data, &m).unwrap_err().contains("10 bytes"));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn stops_at_the_first_error() {
        let d = tmp("stop");
        let m = d.join("manifest");
        let out = run(&d.join("missing"), &m, "c", 3, 10, 1);
        assert_eq!(out.synced, 0);
        assert!(out.error.is_some());
        assert_eq!(verify(&d, &m), Ok(0));
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn manifest_lines_parse_strictly() {
        assert_eq!(Entry::parse("a 1 2"), Some(Entry { name: "a".into(), size: 1, seed: 2 }));
        assert_eq!(Entry::parse("a 1"), None);
        assert_eq!(Entry::parse("a 1 2 3"), None);
        assert_eq!(Entry::parse("a x 2"), None);
    }
}
