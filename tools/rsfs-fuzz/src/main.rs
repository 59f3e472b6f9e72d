// SPDX-License-Identifier: GPL-2.0

//! `rsfs-fuzz COMMAND ARGS...`: see [`USAGE`].

use rsfs_fuzz::exercise;
use rsfs_fuzz::image::Inventory;
use rsfs_fuzz::mutate::{self, KINDS};
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::exit;
use std::time::Duration;

const USAGE: &str = "usage: rsfs-fuzz COMMAND ARGS...

  mutate [--kind KIND] --seed N BASE OUT
        write BASE (an unmounted rsfs image, exactly the filesystem's size)
        with one mutation chosen by seed N to OUT (a file, or a block device:
        written from block 0, synced and its cache dropped); prints what
        changed, one line
  mutate [--kind KIND] --seed N --count K --out-dir DIR BASE
        K images, seeds N .. N+K-1, as DIR/seed-<n>.img, one line each
        (KIND: a kind such as inode.nlink or a structure such as inode,
        to choose among those only; see `rsfs-fuzz kinds`)
  kinds         the table of mutations
  describe BASE what BASE holds (inodes, extents, overflow blocks, ...)
  exercise [--timeout SEC] [--quiet] [--fstype TYPE] DEVICE MOUNTPOINT
        mount DEVICE as rsfs (or TYPE), walk and read everything, create, write,
        append, truncate, link, rename, unlink, mkdir, rmdir, syncfs,
        unmount; prints each failure and a summary line; exits 0 when
        mounted and all worked, 1 when an operation failed, 2 when the mount
        was refused, 3 when the unmount failed, 5 when an operation hung
        (default timeout 120 s)";

fn die(msg: &str) -> ! {
    eprintln!("rsfs-fuzz: {msg}");
    exit(1);
}

fn usage(msg: &str) -> ! {
    eprintln!("rsfs-fuzz: {msg}\n{USAGE}");
    exit(16);
}

fn number(what: &str, s: Option<String>) -> u64 {
    let s = s.unwrap_or_else(|| usage(&format!("{what} needs a value")));
    s.parse()
        .unwrap_or_else(|_| usage(&format!("invalid {what}: {s:?}")))
}

fn read_base(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|e| die(&format!("cannot read {}: {e}", path.display())))
}

/// Writes an image to a regular file, or over the start of a block device
/// (exclusively: not if it is mounted), synced, the device's cache dropped.
fn write_image(path: &Path, bytes: &[u8]) {
    let what = |e: std::io::Error| -> ! { die(&format!("cannot write {}: {e}", path.display())) };
    let is_blk = fs::metadata(path)
        .map(|m| m.file_type().is_block_device())
        .unwrap_or(false);
    if is_blk {
        const O_EXCL: i32 = 0o200;
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(O_EXCL)
            .open(path)
            .unwrap_or_else(|e| what(e));
        // Only the blocks that differ from what the device holds (the last
        // image and what was done to it): a few dozen, where writing all
        // of them through the block device's page cache took seconds in
        // the debug-kernel VM.
        let mut old = vec![0u8; bytes.len()];
        f.read_exact(&mut old).unwrap_or_else(|e| what(e));
        for (i, (new, was)) in bytes.chunks(4096).zip(old.chunks(4096)).enumerate() {
            if new != was {
                f.write_all_at(new, (i * 4096) as u64).unwrap_or_else(|e| what(e));
            }
        }
        f.sync_all().unwrap_or_else(|e| what(e));
        rsfs_fuzz::sys::flush_block_device(&f).unwrap_or_else(|e| what(e));
    } else {
        fs::write(path, bytes).unwrap_or_else(|e| what(e));
    }
}

fn cmd_mutate(args: Vec<String>) {
    let mut seed = None;
    let mut count = None;
    let mut out_dir: Option<PathBuf> = None;
    let mut kind: Option<String> = None;
    let mut paths = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = Some(number("--seed", it.next())),
            "--count" => count = Some(number("--count", it.next())),
            "--out-dir" => {
                out_dir = Some(
                    it.next()
                        .unwrap_or_else(|| usage("--out-dir needs a value"))
                        .into(),
                )
            }
            "--kind" => kind = Some(it.next().unwrap_or_else(|| usage("--kind needs a value"))),
            s if s.starts_with("--") => usage(&format!("unknown option {s}")),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let seed = seed.unwrap_or_else(|| usage("mutate needs --seed N"));
    let (base, out) = match (paths.as_slice(), &out_dir) {
        ([base, out], None) => (base.clone(), Some(out.clone())),
        ([base], Some(_)) => (base.clone(), None),
        _ => usage("mutate needs BASE and OUT, or BASE with --out-dir"),
    };
    let bytes = read_base(&base);
    let count = if out.is_some() { 1 } else { count.unwrap_or(1) };
    for s in seed..seed.saturating_add(count) {
        let (img, m) = mutate::mutate(&bytes, s, kind.as_deref()).unwrap_or_else(|e| die(&e));
        let target = match &out {
            Some(o) => o.clone(),
            None => out_dir
                .as_ref()
                .map(|d| d.join(format!("seed-{s}.img")))
                .unwrap_or_default(),
        };
        write_image(&target, &img);
        println!("{m}");
    }
}

fn cmd_describe(args: Vec<String>) {
    let [base] = args.as_slice() else {
        usage("describe needs BASE")
    };
    let (inv, _) = Inventory::read(&read_base(Path::new(base))).unwrap_or_else(|e| die(&e));
    println!("{}", inv.summary());
}

fn cmd_kinds() {
    for k in KINDS {
        println!("{:<32} {:>2}  {}", k.full_name(), k.weight, k.about);
    }
}

fn cmd_exercise(args: Vec<String>) {
    let mut timeout = 120;
    let mut log = true;
    let mut fstype = "rsfs".to_string();
    let mut paths = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--timeout" => timeout = number("--timeout", it.next()),
            "--quiet" => log = false,
            "--fstype" => fstype = it.next().unwrap_or_else(|| usage("--fstype needs a value")),
            s if s.starts_with("--") => usage(&format!("unknown option {s}")),
            _ => paths.push(PathBuf::from(a)),
        }
    }
    let [dev, mnt] = paths.as_slice() else {
        usage("exercise needs DEVICE and MOUNTPOINT")
    };
    let report = exercise::exercise(dev, mnt, &fstype, Duration::from_secs(timeout), log);
    println!("{}", report.summary());
    exit(report.exit_code());
}

fn main() {
    let mut args = std::env::args().skip(1);
    let cmd = args.next().unwrap_or_else(|| usage("no command"));
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "mutate" => cmd_mutate(rest),
        "describe" => cmd_describe(rest),
        "kinds" => cmd_kinds(),
        "exercise" => cmd_exercise(rest),
        "-h" | "--help" | "help" => println!("{USAGE}"),
        _ => usage(&format!("unknown command {cmd}")),
    }
}
