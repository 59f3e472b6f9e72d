// SPDX-License-Identifier: GPL-2.0

//! rsfs-fuzz on a populated image like the one the VM suite makes: every
//! mutation kind applies, a crafted image differs from its base only in the
//! blocks the mutation names, its checksums verify, the same seed gives the
//! same image, and fsck.rsfs says of each what the mutation expects (valid
//! ones clean, damaged ones flagged).

use fsck_rsfs::{fsck, Options};
use rsfs_fuzz::image::{block_of, Inventory, Owner};
use rsfs_fuzz::mutate::{mutate, Expect, Mutation, Structure, KINDS};
use rsfs_image::format::*;
use rsfs_image::mkfs::{mkfs, MkfsOptions};
use rsfs_image::{FileLayout, Image, TempFile, ZeroBlocks};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

const FUZZ: &str = env!("CARGO_BIN_EXE_rsfs-fuzz");

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x as u8) | 1
        })
        .collect()
}

/// A 4 MiB filesystem (128 inodes, a 16-block journal) holding what the VM
/// suite's base image holds: nested and empty directories, a directory of
/// three blocks, a file of 270 one-block extents (two overflow blocks), a
/// fragmented file, a sparse one, one with unwritten extents, short and
/// long symlinks, a hard link, a FIFO, a device and a socket.
fn build_base(path: &Path) {
    mkfs(
        path,
        &MkfsOptions {
            blocks: Some(1024),
            inodes: Some(128),
            journal_blocks: Some(16),
            ..Default::default()
        },
    )
    .unwrap();
    let mut img = Image::open(path, true).unwrap();
    let root = ROOT_INO;
    let a = img.mkdir(root, b"a", 0o755).unwrap();
    let b = img.mkdir(a, b"b", 0o755).unwrap();
    img.mkdir(b, b"c", 0o755).unwrap();
    img.mkdir(root, b"empty", 0o755).unwrap();
    let small = img
        .create_file(root, b"small", b"hello, rsfs\n", FileLayout::contiguous())
        .unwrap();
    img.create_file(
        a,
        b"medium",
        &content(40 * 4096, 2),
        FileLayout::fragmented(3),
    )
    .unwrap();
    // Every other block a hole: 270 extents, 8 inline + 253 + 9.
    let mut frag = content(540 * 4096, 3);
    for i in (1..540).step_by(2) {
        frag[i * 4096..(i + 1) * 4096].fill(0);
    }
    let hole = FileLayout {
        max_extent_blocks: 0,
        gap: false,
        zero_blocks: ZeroBlocks::Hole,
    };
    img.create_file(root, b"frag", &frag, hole).unwrap();
    let mut sparse = content(20 * 4096, 4);
    sparse[4096..3 * 4096].fill(0);
    img.create_file(b, b"sparse", &sparse, hole).unwrap();
    img.create_file(
        b,
        b"prealloc",
        &sparse,
        FileLayout {
            max_extent_blocks: 4,
            gap: true,
            zero_blocks: ZeroBlocks::Unwritten,
        },
    )
    .unwrap();
    img.symlink(root, b"short-link", b"a/b").unwrap();
    img.symlink(a, b"long-link", &[b'x'; 300]).unwrap();
    img.link(a, b"small-link", small).unwrap();
    img.mknod(a, b"fifo", S_IFIFO | 0o644, 0).unwrap();
    img.mknod(a, b"null", S_IFCHR | 0o666, (1 << 8) | 3)
        .unwrap();
    img.mknod(a, b"sock", S_IFSOCK | 0o755, 0).unwrap();
    let many = img.mkdir(root, b"many", 0o755).unwrap();
    for i in 0..40 {
        let name = format!("{i:03}-{}", "n".repeat(197));
        img.create_file(many, name.as_bytes(), b"", FileLayout::contiguous())
            .unwrap();
    }
    img.flush().unwrap();
}

fn base() -> &'static [u8] {
    static BASE: OnceLock<Vec<u8>> = OnceLock::new();
    BASE.get_or_init(|| {
        let t = TempFile::new("fuzz-base");
        build_base(&t.0);
        std::fs::read(&t.0).unwrap()
    })
}

/// fsck.rsfs -n's exit code and problems for an image.
fn fsck_image(bytes: &[u8], tag: &str) -> (i32, Vec<String>) {
    let t = TempFile::new(tag);
    std::fs::write(&t.0, bytes).unwrap();
    let r = fsck(
        &t.0,
        &Options {
            repair: false,
            verbose: false,
        },
    );
    (r.exit_code, r.problems)
}

/// The blocks that differ between two images.
fn differing(a: &[u8], b: &[u8]) -> BTreeSet<u64> {
    (0..(a.len() / BLOCK_SIZE) as u64)
        .filter(|blk| block_of(a, *blk) != block_of(b, *blk))
        .collect()
}

/// Checks a crafted image against its base and its description.
fn check_crafted(base: &[u8], inv: &Inventory, img: &[u8], m: &Mutation) {
    assert_eq!(img.len(), base.len(), "{m}");
    assert!(!m.changes.is_empty(), "{m}");
    let diff = differing(base, img);
    assert!(!diff.is_empty(), "{m}: the image did not change");
    let named: BTreeSet<u64> = m.blocks.iter().copied().collect();
    assert_eq!(diff, named, "{m}: blocks changed vs blocks named");
    for c in &m.changes {
        assert!(
            named.contains(&c.block) || c.old == c.new,
            "{m}: change in block {} not written",
            c.block
        );
    }
    let g = inv.g;
    for &b in &diff {
        let block: &Block = block_of(img, b).try_into().unwrap();
        let sealed = b == 0
            || matches!(
                inv.owners.get(&b),
                Some(Owner::Dir(_)) | Some(Owner::Overflow(_))
            );
        if sealed {
            assert!(
                block_checksum_ok(block),
                "{m}: block {b} checksum not recomputed"
            );
        }
        if b >= g.inode_table_start && b < g.data_start {
            for slot in 0..INODES_PER_BLOCK as usize {
                let ino = (b - g.inode_table_start) * INODES_PER_BLOCK + slot as u64;
                let raw = inode_slot(block, slot).unwrap();
                if raw_inode_mode(raw) != 0 {
                    assert!(
                        Inode::decode(ino, raw).is_ok(),
                        "{m}: inode {ino} checksum not recomputed"
                    );
                }
            }
        }
    }
}

/// fsck's verdict against the mutation's expectation: `Some(why)` when
/// they disagree.
fn check_fsck(img: &[u8], m: &Mutation, tag: &str) -> Option<String> {
    let (code, problems) = fsck_image(img, tag);
    match (code, m.expect) {
        (0, Expect::Clean) | (4, Expect::Flagged) => None,
        (0, _) => Some(format!("{m}: fsck passes it")),
        _ => Some(format!("{m}: fsck exits {code}: {problems:?}")),
    }
}

#[test]
fn base_image_is_clean_and_has_every_structure() {
    let base = base();
    let (code, problems) = fsck_image(base, "base");
    assert_eq!(code, 0, "{problems:#?}");
    let (inv, _) = Inventory::read(base).unwrap();
    let s = inv.summary();
    assert!(inv.inodes.iter().any(|r| r.chain.len() == 2), "{s}");
    assert!(
        inv.inodes
            .iter()
            .any(|r| r.kind == FileKind::Symlink && r.extents.len() == 1),
        "{s}"
    );
    assert!(
        inv.inodes
            .iter()
            .any(|r| r.extents.iter().any(|e| e.extent.unwritten)),
        "{s}"
    );
    assert!(inv.dir_blocks.iter().any(|d| d.index == 2), "{s}");
    assert!(
        !inv.free_blocks.is_empty() && !inv.free_slots.is_empty(),
        "{s}"
    );
    assert!(
        s.contains("max_chain=2") && s.contains("long_symlinks=1") && s.contains("journal=16"),
        "{s}"
    );
}

/// Each kind, a few seeds: it applies, it is what it says, fsck agrees.
#[test]
fn every_kind_applies_changes_only_its_blocks_and_fsck_agrees() {
    let base = base();
    let (inv, _) = Inventory::read(base).unwrap();
    let mut wrong = Vec::new();
    for kind in KINDS {
        let name = kind.full_name();
        for seed in 0..4 {
            let (img, m) = mutate(base, seed, Some(&name))
                .unwrap_or_else(|e| panic!("{name} seed {seed}: {e}"));
            assert_eq!(m.kind.full_name(), name);
            check_crafted(base, &inv, &img, &m);
            wrong.extend(check_fsck(&img, &m, "kind"));
        }
    }
    assert!(wrong.is_empty(), "fsck disagrees:\n{}", wrong.join("\n"));
}

/// The mix the suite runs: every structure comes up, every image is what
/// its line says.
#[test]
fn seeds_cover_every_structure() {
    let base = base();
    let (inv, _) = Inventory::read(base).unwrap();
    let mut seen = BTreeSet::new();
    let mut wrong = Vec::new();
    for seed in 1..=300 {
        let (img, m) = mutate(base, seed, None).unwrap();
        check_crafted(base, &inv, &img, &m);
        if seed <= 60 {
            wrong.extend(check_fsck(&img, &m, "mix"));
        }
        seen.insert(m.kind.structure.name());
    }
    assert!(wrong.is_empty(), "fsck disagrees:\n{}", wrong.join("\n"));
    let all = [
        Structure::Superblock,
        Structure::BlockBitmap,
        Structure::InodeBitmap,
        Structure::Inode,
        Structure::FreeSlot,
        Structure::Extent,
        Structure::OverflowBlock,
        Structure::DirBlock,
        Structure::DirEntry,
        Structure::SymlinkBlock,
        Structure::Journal,
    ];
    for s in all {
        assert!(
            seen.contains(s.name()),
            "{} never chosen in 300 seeds",
            s.name()
        );
    }
}

/// The journal's kinds over many seeds: transactions anywhere in the
/// circular log, another kind's change delivered through the log; fsck
/// (checking the image as replayed) agrees with each, and a repair
/// replays or discards the log and leaves nothing more to fix.
#[test]
fn journal_kinds_over_many_seeds() {
    let base = base();
    let (inv, _) = Inventory::read(base).unwrap();
    assert!(inv
        .journal
        .is_some_and(|j| j.blocks == 16 && !j.needs_recovery()));
    let mut wrong = Vec::new();
    let mut logged = 0;
    for seed in 0..200 {
        let (img, m) = mutate(base, seed, Some("journal")).unwrap();
        check_crafted(base, &inv, &img, &m);
        wrong.extend(check_fsck(&img, &m, "journal"));
        logged += usize::from(m.kind.name == "logged");
        if seed % 10 == 0 {
            let t = TempFile::new("journal-repair");
            std::fs::write(&t.0, &img).unwrap();
            let opts = Options {
                repair: true,
                verbose: false,
            };
            let r = fsck(&t.0, &opts);
            assert!(matches!(r.exit_code, 0 | 1 | 4 | 5), "{m}: {r:#?}");
            let r2 = fsck(&t.0, &opts);
            assert_eq!(r2.fixed, 0, "{m}: {r2:#?}");
        }
    }
    assert!(logged >= 20, "{logged} logged changes in 200 seeds");
    assert!(wrong.is_empty(), "fsck disagrees:\n{}", wrong.join("\n"));
}

#[test]
fn same_seed_same_image() {
    let base = base();
    let mut images = BTreeSet::new();
    for seed in [0, 1, 2, 17, 12345, u64::MAX] {
        let (a, ma) = mutate(base, seed, None).unwrap();
        let (b, mb) = mutate(base, seed, None).unwrap();
        assert!(a == b, "seed {seed}: two different images");
        assert_eq!(ma.to_string(), mb.to_string());
        images.insert(a);
    }
    assert!(
        images.len() >= 5,
        "different seeds should mostly give different images"
    );
}

#[test]
fn a_base_that_is_not_valid_is_refused() {
    let mut bad = base().to_vec();
    bad[0] ^= 1;
    assert!(mutate(&bad, 1, None).unwrap_err().contains("superblock"));
    assert!(mutate(base(), 1, Some("no-such-kind")).is_err());
    assert!(mutate(&base()[..8192], 1, None).is_err());
}

#[test]
fn cli_mutate_describe_kinds() {
    let base_file = TempFile::new("cli-base");
    std::fs::write(&base_file.0, base()).unwrap();
    let out1 = TempFile::new("cli-1");
    let out2 = TempFile::new("cli-2");
    let run = |args: &[&str]| {
        let o = Command::new(FUZZ).args(args).output().unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
        )
    };
    let b = base_file.0.to_str().unwrap();
    let (code, line1) = run(&["mutate", "--seed", "42", b, out1.0.to_str().unwrap()]);
    assert_eq!(code, 0, "{line1}");
    assert!(
        line1.starts_with("seed 42: ") && line1.ends_with(")\n"),
        "{line1}"
    );
    let (code, line2) = run(&["mutate", "--seed", "42", b, out2.0.to_str().unwrap()]);
    assert_eq!(code, 0);
    assert_eq!(line1, line2);
    assert!(std::fs::read(&out1.0).unwrap() == std::fs::read(&out2.0).unwrap());
    let (code, line) = run(&[
        "mutate",
        "--kind",
        "inode.nlink",
        "--seed",
        "3",
        b,
        out1.0.to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(line.contains("inode.nlink: inode "), "{line}");

    let dir = std::env::temp_dir().join(format!("rsfs-fuzz-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (code, lines) = run(&[
        "mutate",
        "--seed",
        "5",
        "--count",
        "3",
        "--out-dir",
        dir.to_str().unwrap(),
        b,
    ]);
    assert_eq!(code, 0);
    assert_eq!(lines.lines().count(), 3, "{lines}");
    for s in 5..8 {
        assert!(dir.join(format!("seed-{s}.img")).exists());
    }
    std::fs::remove_dir_all(&dir).unwrap();

    let (code, d) = run(&["describe", b]);
    assert_eq!(code, 0);
    assert!(
        d.contains("max_chain=2") && d.contains("long_symlinks=1"),
        "{d}"
    );
    let (code, k) = run(&["kinds"]);
    assert_eq!(code, 0);
    assert_eq!(k.lines().count(), KINDS.len());
    let (code, _) = run(&["mutate", b]);
    assert_eq!(code, 16);
}
