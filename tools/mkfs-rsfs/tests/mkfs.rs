// SPDX-License-Identifier: GPL-2.0

//! mkfs.rsfs on image files: what it makes (checked by fsck and by reading
//! the superblock back) and what it refuses.

use rsfs_image::format::*;
use rsfs_image::mkfs::{default_inodes, default_journal, min_blocks, mounted, MkfsOptions};
use rsfs_image::Image;
use std::path::Path;
use std::process::Command;

const MKFS: &str = env!("CARGO_BIN_EXE_mkfs-rsfs");

type Temp = rsfs_image::TempFile;

/// Runs mkfs.rsfs; returns (exit code, stdout, stderr).
fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(MKFS).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn p(t: &Temp) -> &str {
    t.0.to_str().unwrap()
}

fn fsck_code(path: &Path) -> i32 {
    let r = fsck_rsfs::fsck(
        path,
        &fsck_rsfs::Options {
            repair: false,
            verbose: false,
        },
    );
    assert_eq!(r.exit_code, 0, "{r:#?}");
    r.exit_code
}

fn superblock(path: &Path) -> Superblock {
    Image::open(path, false).unwrap().sb
}

#[test]
fn makes_a_clean_filesystem() {
    let t = Temp::new("basic");
    let (code, out, err) = run(&[p(&t), "4096"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("made rsfs 1.1"), "{out}");
    assert!(out.contains("journal: 256 blocks at block 1\n"), "{out}");
    assert_eq!(fsck_code(&t.0), 0);
    let sb = superblock(&t.0);
    let g = sb.geometry;
    assert_eq!(g.total_blocks, 4096);
    assert_eq!(g.inode_count, 1024); // one per 16 KiB
    assert_eq!(g.journal_blocks, 256);
    assert_eq!(sb.free_blocks, g.data_blocks());
    assert_eq!(sb.free_inodes, g.inode_count - 2);
    assert_eq!(sb.state, STATE_CLEAN);
    assert_eq!(sb.root_ino, 1);
    assert!(sb.has_journal());
    assert_eq!((sb.version_major, sb.version_minor), (1, 1));
    assert_eq!(sb.feature_incompat, FEATURE_INCOMPAT_JOURNAL);
    assert_ne!(sb.uuid, [0; 16]);
    assert_eq!(sb.uuid[6] >> 4, 4);
    let img = Image::open(&t.0, false).unwrap();
    let root = img.read_inode(ROOT_INO).unwrap();
    assert_eq!(root.mode, S_IFDIR | 0o755);
    assert_eq!(
        (root.nlink, root.size, root.blocks, root.dir_parent),
        (2, 0, 0, 1)
    );
    assert!(img.read_dir(ROOT_INO).unwrap().is_empty());
    // Slot 0 is reserved and marked in use; everything after the root is free.
    assert!(img.inode_in_use(0) && img.inode_in_use(1) && !img.inode_in_use(2));
    assert!(img.block_in_use(g.data_start - 1) && !img.block_in_use(g.data_start));
    // The journal: its superblock (empty, sequence 1), then a zero-filled log.
    let j = JournalSuper::decode(&img.read_block(g.journal_start).unwrap(), g.journal_blocks);
    assert_eq!(
        j,
        Ok(JournalSuper {
            blocks: 256,
            sequence: 1,
            start: 0
        })
    );
    for b in g.journal_start + 1..g.journal_start + g.journal_blocks {
        assert!(img.read_block(b).unwrap().iter().all(|x| *x == 0));
    }
}

#[test]
fn without_a_journal() {
    let t = Temp::with_size("nojournal", 4 << 20, 0xAA).unwrap();
    let (code, out, err) = run(&["-O", "^journal", "-f", p(&t)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("made rsfs 1.0"), "{out}");
    assert!(
        out.contains("journal: none (128 blocks reserved at block 1)"),
        "{out}"
    );
    let sb = superblock(&t.0);
    assert!(!sb.has_journal());
    assert_eq!((sb.version_minor, sb.feature_incompat), (0, 0));
    assert_eq!(fsck_code(&t.0), 0);
    // The region is zero-filled all the same.
    let img = Image::open(&t.0, false).unwrap();
    for b in 1..65 {
        assert!(
            img.read_block(b).unwrap().iter().all(|x| *x == 0),
            "block {b}"
        );
    }
    drop(img);
    // "-O journal" is the default; the last -O wins; commas list several.
    assert_eq!(run(&["-fq", "-O", "^journal", "-Ojournal", p(&t)]).0, 0);
    assert!(superblock(&t.0).has_journal());
    assert_eq!(run(&["-fq", "-O", "journal,^journal", p(&t)]).0, 0);
    assert!(!superblock(&t.0).has_journal());
    let (code, _, err) = run(&["-fq", "-O", "bogus", p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown feature \"bogus\""), "{err}");
}

#[test]
fn a_journal_has_at_least_its_minimum() {
    let t = Temp::with_size("smalljournal", 4 << 20, 0).unwrap();
    let (code, _, err) = run(&["-q", "-J", "15", p(&t)]);
    assert_eq!(code, 1);
    assert!(
        err.contains("a journal needs at least 16 blocks, not 15"),
        "{err}"
    );
    assert!(err.contains("-O ^journal"), "{err}");
    let (code, out, err) = run(&["-q", "-J", "16", p(&t)]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(superblock(&t.0).geometry.journal_blocks, 16);
    assert_eq!(fsck_code(&t.0), 0);
    // Without a journal, any size, even none.
    assert_eq!(run(&["-fq", "-J", "2", "-O", "^journal", p(&t)]).0, 0);
    assert_eq!(superblock(&t.0).geometry.journal_blocks, 2);
    assert_eq!(fsck_code(&t.0), 0);
    // A missing file is not created for a refused journal size.
    let t = Temp::new("smalljournal-new");
    assert_eq!(run(&["-J", "3", p(&t), "1M"]).0, 1);
    assert!(!t.0.exists());
}

#[test]
fn second_filesystem_has_another_uuid() {
    let a = Temp::new("uuid-a");
    let b = Temp::new("uuid-b");
    assert_eq!(run(&["-q", p(&a), "1M"]).0, 0);
    assert_eq!(run(&["-q", p(&b), "1M"]).0, 0);
    assert_ne!(superblock(&a.0).uuid, superblock(&b.0).uuid);
}

#[test]
fn larger_filesystem_defaults() {
    let t = Temp::new("large");
    // 512 MiB sparse file.
    std::fs::File::create(&t.0)
        .unwrap()
        .set_len(512 << 20)
        .unwrap();
    let (code, out, err) = run(&["-q", p(&t)]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.is_empty(), "-q printed {out}");
    let g = superblock(&t.0).geometry;
    assert_eq!(g.total_blocks, 131072);
    assert_eq!(g.inode_count, 32768);
    assert_eq!(g.journal_blocks, 2048);
    assert_eq!(fsck_code(&t.0), 0);
}

#[test]
fn default_formulas() {
    assert_eq!(default_inodes(256), 64);
    assert_eq!(default_inodes(4096), 1024);
    assert_eq!(default_inodes(1 << 40), MAX_INODES / 16 * 16);
    assert_eq!(default_journal(256), 32);
    assert_eq!(default_journal(4096), 256);
    assert_eq!(default_journal(1 << 20), 16384);
    assert_eq!(default_journal(1 << 30), 16384);
    assert_eq!(min_blocks(&MkfsOptions::default()), Some(256));
    let big_journal = MkfsOptions {
        journal_blocks: Some(1000),
        ..Default::default()
    };
    let min = min_blocks(&big_journal).unwrap();
    assert!(min > 1000 && min < 1100, "{min}");
}

#[test]
fn options() {
    let t = Temp::new("opts");
    let (code, out, err) = run(&[
        "-L",
        "my volume",
        "-N",
        "100",
        "-J",
        "0",
        "-O",
        "^journal",
        "-b",
        "4096",
        p(&t),
        "2M",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("label:   my volume"), "{out}");
    let sb = superblock(&t.0);
    assert_eq!(sb.label_bytes(), b"my volume");
    assert_eq!(sb.geometry.inode_count, 112);
    assert_eq!(sb.geometry.journal_blocks, 0);
    assert_eq!(sb.geometry.block_bitmap_start, 1);
    assert_eq!(sb.geometry.total_blocks, 512);
    assert_eq!(fsck_code(&t.0), 0);

    // Attached values and clustered flags.
    let (code, out, err) = run(&["-fq", "-b4096", "-Lx", &format!("-N{}", 50), p(&t), "1024"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(superblock(&t.0).label_bytes(), b"x");
    assert_eq!(superblock(&t.0).geometry.inode_count, 64);

    // A 32-byte label fits; 33 bytes do not.
    let l32 = "L".repeat(32);
    assert_eq!(run(&["-fq", "-L", &l32, p(&t)]).0, 0);
    assert_eq!(superblock(&t.0).label_bytes(), l32.as_bytes());
    let (code, _, err) = run(&["-fq", "-L", &"L".repeat(33), p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("label"), "{err}");

    let (code, _, err) = run(&["-x", p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown option"), "{err}");
    let (code, _, err) = run(&["-N", "lots", p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("invalid inode count"), "{err}");
    let (code, _, _) = run(&[]);
    assert_eq!(code, 1);
}

#[test]
fn rejects_other_block_sizes() {
    let t = Temp::new("bs");
    for bs in ["1024", "512", "8192", "4k"] {
        let (code, _, err) = run(&["-b", bs, p(&t), "1M"]);
        assert_eq!(code, 1, "-b {bs}");
        assert!(
            err.contains("rsfs supports only 4096-byte blocks for now"),
            "{err}"
        );
    }
    assert!(!t.0.exists(), "a rejected mkfs created the file");
}

#[test]
fn rejects_too_small() {
    let t = Temp::with_size("small", 512 * 1024, 0).unwrap();
    let (code, _, err) = run(&[p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("too small: 128 blocks (512 KiB)"), "{err}");
    assert!(err.contains("at least 256 blocks (1024 KiB)"), "{err}");
    // Exactly the minimum works.
    let t = Temp::with_size("min", 1 << 20, 0).unwrap();
    assert_eq!(run(&["-q", p(&t)]).0, 0);
    assert_eq!(fsck_code(&t.0), 0);
    // A large journal raises the minimum, and the message says so.
    let (code, _, err) = run(&["-f", "-J", "1000", p(&t)]);
    assert_eq!(code, 1);
    let min = min_blocks(&MkfsOptions {
        journal_blocks: Some(1000),
        ..Default::default()
    })
    .unwrap();
    assert!(err.contains(&format!("at least {min} blocks")), "{err}");
    // A missing file is not created when the size is too small.
    let t = Temp::new("small-new");
    assert_eq!(run(&[p(&t), "100"]).0, 1);
    assert!(!t.0.exists());
}

#[test]
fn refuses_existing_filesystems() {
    let t = Temp::new("existing");
    assert_eq!(run(&["-q", p(&t), "1M"]).0, 0);
    let (code, _, err) = run(&[p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("existing rsfs filesystem; use -f"), "{err}");
    assert_eq!(run(&["-q", "-f", p(&t)]).0, 0);

    let signature = |tag: &str, off: usize, bytes: &[u8], name: &str| {
        let t = Temp::with_size(tag, 2 << 20, 0).unwrap();
        let mut data = std::fs::read(&t.0).unwrap();
        data[off..off + bytes.len()].copy_from_slice(bytes);
        std::fs::write(&t.0, &data).unwrap();
        let (code, _, err) = run(&[p(&t)]);
        assert_eq!(code, 1, "{name}");
        assert!(
            err.contains(&format!("existing {name} filesystem")),
            "{err}"
        );
        // Untouched.
        assert_eq!(std::fs::read(&t.0).unwrap(), data);
        assert_eq!(run(&["-qf", p(&t)]).0, 0);
        assert_eq!(fsck_code(&t.0), 0);
    };
    signature("ext4", 1080, &0xEF53u16.to_le_bytes(), "ext2/ext3/ext4");
    signature("xfs", 0, b"XFSB", "xfs");
    signature("f2fs", 1024, &0xF2F5_2010u32.to_le_bytes(), "f2fs");
    signature("btrfs", 65536 + 64, b"_BHRfS_M", "btrfs");
    let t = Temp::with_size("swap", 1 << 20, 0).unwrap();
    let mut data = std::fs::read(&t.0).unwrap();
    data[4086..4096].copy_from_slice(b"SWAPSPACE2");
    std::fs::write(&t.0, &data).unwrap();
    let (code, _, err) = run(&[p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("contains a swap area"), "{err}");
}

#[test]
fn regular_file_sizes() {
    // Missing file without a size: refused.
    let t = Temp::new("missing");
    let (code, _, err) = run(&[p(&t)]);
    assert_eq!(code, 1);
    assert!(err.contains("does not exist"), "{err}");
    // Missing file with a size: created.
    let (code, _, _) = run(&["-q", p(&t), "8M"]);
    assert_eq!(code, 0);
    assert_eq!(std::fs::metadata(&t.0).unwrap().len(), 8 << 20);
    assert_eq!(superblock(&t.0).geometry.total_blocks, 2048);

    // Using only the start of a larger file leaves the rest alone.
    let t = Temp::with_size("part", 4 << 20, 0xAA).unwrap();
    assert_eq!(run(&["-q", p(&t), "300"]).0, 0);
    let data = std::fs::read(&t.0).unwrap();
    assert!(data[300 * 4096..].iter().all(|b| *b == 0xAA));
    assert_eq!(superblock(&t.0).geometry.total_blocks, 300);
    assert_eq!(fsck_code(&t.0), 0);

    // A shorter file is extended.
    let t = Temp::with_size("extend", 4096, 0).unwrap();
    assert_eq!(run(&["-q", p(&t), "1024"]).0, 0);
    assert_eq!(std::fs::metadata(&t.0).unwrap().len(), 4 << 20);
    assert_eq!(fsck_code(&t.0), 0);

    // Not a multiple of the block size: the tail is ignored.
    let t = Temp::with_size("odd", (1 << 20) + 1000, 0).unwrap();
    assert_eq!(run(&["-q", p(&t)]).0, 0);
    assert_eq!(superblock(&t.0).geometry.total_blocks, 256);
    assert_eq!(fsck_code(&t.0), 0);

    // Bad sizes.
    assert_eq!(run(&[p(&t), "12Q"]).0, 1);
    assert_eq!(run(&[p(&t), "-5"]).0, 1);
}

#[test]
fn refuses_directories() {
    let dir = std::env::temp_dir();
    let (code, _, err) = run(&["-f", dir.to_str().unwrap(), "1M"]);
    assert_eq!(code, 1);
    assert!(err.contains("not a regular file or block device"), "{err}");
}

#[test]
fn detects_mounted_devices() {
    // Whatever block device backs a mount here must be reported as mounted.
    // (Only the check runs; mkfs is never pointed at a real device.)
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut tried = 0;
    for line in mounts.lines() {
        let source = line.split_whitespace().next().unwrap_or("");
        if source.starts_with("/dev/") && Path::new(source).exists() {
            assert!(
                mounted(Path::new(source)).is_some(),
                "{source} not seen as mounted"
            );
            tried += 1;
        }
    }
    eprintln!("checked {tried} mounted devices");
    let t = Temp::with_size("notmounted", 4096, 0).unwrap();
    assert!(mounted(&t.0).is_none());
}
