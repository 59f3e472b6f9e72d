// SPDX-License-Identifier: GPL-2.0

//! A tree's listing, taken right after its verification passed, and the
//! check at the end of a suite that later cuts and log replays left it
//! exactly so (a replay that writes an old block copy over a reused
//! block, or a checkpoint in the wrong place, shows up here).
//!
//! Format: `snapshot v1 ROOT`, then one line per entry, sorted:
//! `PATH d`, `PATH f SIZE NLINK HASH`, `PATH l TARGET`, `PATH o`.

use super::fnv1a;
use crate::errno;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// The listing of `root` (which must exist).
pub fn take(root: &Path) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    walk(root, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {}", p.display(), errno::describe(&e));
    for e in fs::read_dir(dir).map_err(|e| err(dir, e))? {
        let e = e.map_err(|e| err(dir, e))?;
        let path = e.path();
        let name = format!("{rel}{}", e.file_name().to_string_lossy());
        let m = fs::symlink_metadata(&path).map_err(|e| err(&path, e))?;
        let ft = m.file_type();
        if ft.is_dir() {
            out.push(format!("{name} d"));
            walk(&path, &format!("{name}/"), out)?;
        } else if ft.is_file() {
            let data = fs::read(&path).map_err(|e| err(&path, e))?;
            out.push(format!("{name} f {} {} {:016x}", data.len(), m.nlink(), fnv1a(&data)));
        } else if ft.is_symlink() {
            out.push(format!("{name} l {}", fs::read_link(&path).map_err(|e| err(&path, e))?.display()));
        } else {
            out.push(format!("{name} o"));
        }
    }
    Ok(())
}

/// Writes `root`'s listing to `file`.
pub fn write(root: &Path, file: &Path) -> Result<(), String> {
    let mut text = format!("snapshot v1 {}\n", root.display());
    if root.exists() {
        for l in take(root)? {
            text.push_str(&l);
            text.push('\n');
        }
    } else {
        text.push_str("(missing)\n");
    }
    fs::write(file, text).map_err(|e| format!("{}: {}", file.display(), errno::describe(&e)))
}

/// Checks that the tree a snapshot file names is still as listed.
pub fn check(file: &Path) -> Result<String, String> {
    let text = fs::read_to_string(file).map_err(|e| format!("{}: {}", file.display(), errno::describe(&e)))?;
    let mut lines = text.lines();
    let root = lines.next().and_then(|h| h.strip_prefix("snapshot v1 ")).ok_or_else(|| format!("{}: not a snapshot", file.display()))?;
    let want: Vec<&str> = lines.collect();
    let root = Path::new(root);
    let now = if root.exists() { take(root)? } else { vec!["(missing)".to_string()] };
    let n = now.len();
    for i in 0..want.len().max(n) {
        let (w, g) = (want.get(i).copied(), now.get(i).map(String::as_str));
        if w != g {
            return Err(format!(
                "{}: changed since it was verified: entry {i} was {}, now {}",
                root.display(),
                w.map_or("(nothing)".to_string(), |s| format!("{s:?}")),
                g.map_or("(nothing)".to_string(), |s| format!("{s:?}"))
            ));
        }
    }
    Ok(format!("{}: {n} entries unchanged", root.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crash::testdir::TestDir;

    #[test]
    fn a_snapshot_passes_until_the_tree_changes() {
        let d = TestDir::new("snap");
        let r = d.join("tree");
        fs::create_dir_all(r.join("sub")).unwrap();
        fs::write(r.join("sub/f"), b"hello").unwrap();
        fs::hard_link(r.join("sub/f"), r.join("g")).unwrap();
        std::os::unix::fs::symlink("somewhere", r.join("l")).unwrap();
        let snap = d.join("snap");
        write(&r, &snap).unwrap();
        assert!(check(&snap).unwrap().contains("4 entries"));
        let listing = fs::read_to_string(&snap).unwrap();
        assert!(listing.contains("sub/f f 5 2 "), "{listing}");
        assert!(listing.contains("l l somewhere"), "{listing}");
        // Contents, a link count, a name, a new entry: each noticed.
        fs::write(r.join("g"), b"hellO").unwrap();
        assert!(check(&snap).unwrap_err().contains("changed since it was verified"));
        fs::write(r.join("g"), b"hello").unwrap();
        check(&snap).unwrap();
        fs::remove_file(r.join("g")).unwrap();
        assert!(check(&snap).is_err());
        fs::hard_link(r.join("sub/f"), r.join("g")).unwrap();
        check(&snap).unwrap();
        fs::write(r.join("new"), b"").unwrap();
        assert!(check(&snap).unwrap_err().contains("new"));
        fs::remove_dir_all(&r).unwrap();
        assert!(check(&snap).unwrap_err().contains("missing"));
        // A missing tree's snapshot: it must stay missing.
        write(&r, &snap).unwrap();
        check(&snap).unwrap();
    }
}
