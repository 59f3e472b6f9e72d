// SPDX-License-Identifier: GPL-2.0

//! fsck.rsfs against images: clean ones (empty and populated) and each kind
//! of corruption, through the binary (exit codes, output) and the library.

use fsck_rsfs::add_journal;
use fsck_rsfs::{fsck, Options, Report};
use rsfs_image::format::*;
use rsfs_image::journal::LogWriter;
use rsfs_image::mkfs::{mkfs, MkfsOptions};
use rsfs_image::{BlockDev, FileLayout, Image, ZeroBlocks};
use std::path::Path;
use std::process::Command;

const FSCK: &str = env!("CARGO_BIN_EXE_fsck-rsfs");

type Temp = rsfs_image::TempFile;

/// Runs the fsck.rsfs binary; returns (exit code, stdout + stderr).
fn run_fsck(args: &[&str], path: &Path) -> (i32, String) {
    let out = Command::new(FSCK).args(args).arg(path).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn check_only(path: &Path) -> Report {
    fsck(
        path,
        &Options {
            repair: false,
            verbose: true,
        },
    )
}

fn repair(path: &Path) -> Report {
    fsck(
        path,
        &Options {
            repair: true,
            verbose: false,
        },
    )
}

fn new_fs(tag: &str, blocks: u64) -> Temp {
    let t = Temp::new(tag);
    mkfs(
        &t.0,
        &MkfsOptions {
            blocks: Some(blocks),
            ..Default::default()
        },
    )
    .unwrap();
    t
}

/// A filesystem without a journal (format 1.0).
fn new_fs_v10(tag: &str, blocks: u64) -> Temp {
    let t = Temp::new(tag);
    mkfs(
        &t.0,
        &MkfsOptions {
            blocks: Some(blocks),
            no_journal: true,
            ..Default::default()
        },
    )
    .unwrap();
    t
}

/// Deterministic non-zero-ish content.
fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// Inode numbers of the interesting files in a populated image.
struct Pop {
    small: u64,
    big: u64,
    medium: u64,
    sparse: u64,
    dir_a: u64,
    dir_d: u64,
    orphan_candidate: u64,
}

/// Builds a populated filesystem: nested directories, a directory of
/// several blocks, files fragmented into many extents (with an overflow
/// chain of two blocks), holes and unwritten extents, short and long
/// symlinks, hard links, device nodes.
fn populate(path: &Path) -> Pop {
    let mut img = Image::open(path, true).unwrap();
    let root = ROOT_INO;
    let dir_a = img.mkdir(root, b"a", 0o755).unwrap();
    let dir_b = img.mkdir(dir_a, b"b", 0o700).unwrap();
    let _c = img.mkdir(dir_b, b"c", 0o755).unwrap();
    let dir_d = img.mkdir(root, b"d", 0o755).unwrap();
    let small = img
        .create_file(root, b"small", b"hello, rsfs\n", FileLayout::contiguous())
        .unwrap();
    let _empty = img
        .create_file(dir_a, b"empty", b"", FileLayout::contiguous())
        .unwrap();
    // 300 one-block extents: 8 inline + 253 + 39 in two overflow blocks.
    let big = img
        .create_file(
            dir_a,
            b"big",
            &content(300 * 4096 - 100, 1),
            FileLayout::fragmented(1),
        )
        .unwrap();
    let medium = img
        .create_file(
            dir_b,
            b"medium",
            &content(40 * 4096, 2),
            FileLayout::fragmented(3),
        )
        .unwrap();
    let mut data = content(20 * 4096, 3);
    data[4096..3 * 4096].fill(0);
    data[10 * 4096..14 * 4096].fill(0);
    let sparse = img
        .create_file(
            dir_d,
            b"sparse",
            &data,
            FileLayout {
                max_extent_blocks: 0,
                gap: false,
                zero_blocks: ZeroBlocks::Hole,
            },
        )
        .unwrap();
    img.create_file(
        dir_d,
        b"prealloc",
        &data,
        FileLayout {
            max_extent_blocks: 4,
            gap: true,
            zero_blocks: ZeroBlocks::Unwritten,
        },
    )
    .unwrap();
    img.symlink(root, b"short-link", b"a/b/medium").unwrap();
    img.symlink(dir_a, b"long-link", &[b'x'; 300]).unwrap();
    img.symlink(dir_a, b"max-link", &[b'y'; 4095]).unwrap();
    img.symlink(dir_a, b"edge-link", &[b'z'; 127]).unwrap();
    img.link(dir_d, b"small-again", small).unwrap();
    img.link(dir_b, b"small-third", small).unwrap();
    img.mknod(dir_d, b"fifo", S_IFIFO | 0o644, 0).unwrap();
    img.mknod(dir_d, b"null", S_IFCHR | 0o666, (1 << 8) | 3)
        .unwrap();
    img.mknod(dir_d, b"sock", S_IFSOCK | 0o755, 0).unwrap();
    // Enough long names to need several directory blocks.
    let many = img.mkdir(root, b"many", 0o755).unwrap();
    for i in 0..120 {
        let name = format!("{i:04}-{}", "n".repeat(60));
        img.create_file(
            many,
            name.as_bytes(),
            &content(i * 10, i as u64),
            FileLayout::contiguous(),
        )
        .unwrap();
    }
    let orphan_candidate = img
        .create_file(
            dir_d,
            b"lonely",
            b"nobody loves me",
            FileLayout::contiguous(),
        )
        .unwrap();
    img.flush().unwrap();
    Pop {
        small,
        big,
        medium,
        sparse,
        dir_a,
        dir_d,
        orphan_candidate,
    }
}

fn populated(tag: &str) -> (Temp, Pop) {
    let t = new_fs(tag, 8192);
    let pop = populate(&t.0);
    (t, pop)
}

fn populated_v10(tag: &str) -> (Temp, Pop) {
    let t = new_fs_v10(tag, 8192);
    let pop = populate(&t.0);
    (t, pop)
}

fn assert_clean(path: &Path) {
    let r = check_only(path);
    assert_eq!(r.exit_code, 0, "not clean: {:#?}", r);
    let (code, out) = run_fsck(&["-n"], path);
    assert_eq!(code, 0, "{out}");
}

/// Reads block 0, lets `f` change it, optionally reseals it, writes it back.
fn edit_block(path: &Path, block: u64, reseal: bool, f: impl FnOnce(&mut Block)) {
    let dev = BlockDev::open(path, true).unwrap();
    let mut b = dev.read_block_new(block).unwrap();
    f(&mut b);
    if reseal {
        seal_block(&mut b);
    }
    dev.write_block(block, &b).unwrap();
}

fn edit_sb(path: &Path, f: impl FnOnce(&mut Superblock)) {
    let dev = BlockDev::open(path, true).unwrap();
    let b = dev.read_block_new(0).unwrap();
    let mut sb = Superblock::decode(&b).unwrap();
    f(&mut sb);
    let mut b = rsfs_image::zero_block();
    sb.encode(&mut b);
    dev.write_block(0, &b).unwrap();
}

fn edit_inode(path: &Path, ino: u64, f: impl FnOnce(&mut Inode)) {
    let img = Image::open(path, true).unwrap();
    let mut i = img.read_inode(ino).unwrap();
    f(&mut i);
    img.write_inode(ino, &i).unwrap();
}

/// -n reports and exits 4; repair exits 1; a second run is clean.
fn assert_repairable(path: &Path, expect: &str) {
    let r = check_only(path);
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert!(
        r.mentions(expect),
        "expected {expect:?} in {:#?}",
        r.problems
    );
    let (code, out) = run_fsck(&["-n"], path);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains(expect), "{out}");
    let (code, out) = run_fsck(&["-y"], path);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("(fixed)"), "{out}");
    assert_clean(path);
}

/// Both modes exit with the "uncorrected" bit and name the problem.
fn assert_unfixable(path: &Path, expect: &str) {
    let r = check_only(path);
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert!(
        r.mentions(expect),
        "expected {expect:?} in {:#?}",
        r.problems
    );
    let (code, out) = run_fsck(&["-p"], path);
    assert_ne!(code & 4, 0, "{out}");
    assert!(out.contains(expect), "{out}");
    let (code, _) = run_fsck(&["-n"], path);
    assert_eq!(code, 4);
}

// ---- clean images -------------------------------------------------------------

#[test]
fn fresh_filesystem_is_clean() {
    let t = new_fs("fresh", 4096);
    assert_clean(&t.0);
    let (code, out) = run_fsck(&["-fv"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("1/"), "{out}");
}

#[test]
fn populated_filesystem_is_clean_and_reads_back() {
    let (t, pop) = populated("populated");
    assert_clean(&t.0);
    let img = Image::open(&t.0, false).unwrap();
    assert_eq!(img.read_file(pop.small).unwrap(), b"hello, rsfs\n");
    assert_eq!(
        img.read_file(pop.big).unwrap(),
        content(300 * 4096 - 100, 1)
    );
    assert_eq!(img.read_file(pop.medium).unwrap(), content(40 * 4096, 2));
    let big = img.read_inode(pop.big).unwrap();
    assert_eq!(big.extent_count, 300);
    assert_eq!(img.extent_chain(pop.big, &big).unwrap().len(), 2);
    assert_eq!(big.blocks, 302);
    let sparse = img.read_inode(pop.sparse).unwrap();
    assert_eq!(sparse.blocks, 14);
    let mut data = content(20 * 4096, 3);
    data[4096..3 * 4096].fill(0);
    data[10 * 4096..14 * 4096].fill(0);
    assert_eq!(img.read_file(pop.sparse).unwrap(), data);
    let pre = img.resolve("/d/prealloc").unwrap();
    assert_eq!(img.read_file(pre).unwrap(), data);
    assert!(img
        .extents(pre, &img.read_inode(pre).unwrap())
        .unwrap()
        .iter()
        .any(|e| e.unwritten));
    assert_eq!(
        img.read_link(img.resolve("/short-link").unwrap()).unwrap(),
        b"a/b/medium"
    );
    assert_eq!(
        img.read_link(img.resolve("/a/long-link").unwrap()).unwrap(),
        vec![b'x'; 300]
    );
    assert_eq!(
        img.read_link(img.resolve("/a/max-link").unwrap()).unwrap(),
        vec![b'y'; 4095]
    );
    let edge = img
        .read_inode(img.resolve("/a/edge-link").unwrap())
        .unwrap();
    assert!(edge.has_inline_data() && edge.blocks == 0);
    assert_eq!(img.read_inode(pop.small).unwrap().nlink, 3);
    assert_eq!(img.resolve("/a/b/small-third").unwrap(), pop.small);
    assert_eq!(img.resolve("/a/b/c/../../b/medium").unwrap(), pop.medium);
    let many = img.resolve("/many").unwrap();
    assert!(img.dir_blocks(many).unwrap().len() >= 3);
    assert_eq!(img.read_dir(many).unwrap().len(), 120);
    assert_eq!(img.read_inode(ROOT_INO).unwrap().nlink, 2 + 3);
    assert_eq!(img.read_inode(pop.dir_a).unwrap().nlink, 3);
    let null = img.read_inode(img.resolve("/d/null").unwrap()).unwrap();
    assert_eq!(null.rdev(), (1 << 8) | 3);
    let r = check_only(&t.0);
    assert!(
        r.info
            .iter()
            .any(|l| l.contains("3 symlinks") || l.contains("4 symlinks")),
        "{:?}",
        r.info
    );
}

#[test]
fn missing_file_is_operational_error() {
    let t = Temp::new("missing");
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 8, "{out}");
    assert_eq!(check_only(&t.0).exit_code, 8);
}

#[test]
fn usage_errors() {
    let t = new_fs("usage", 1024);
    let (code, _) = run_fsck(&["-n", "-y"], &t.0);
    assert_eq!(code, 16);
    let (code, _) = run_fsck(&["-Z"], &t.0);
    assert_eq!(code, 16);
    let out = Command::new(FSCK).output().unwrap();
    assert_eq!(out.status.code(), Some(16));
}

// ---- superblock corruption: reported, never repaired ---------------------------------

#[test]
fn bad_magic() {
    let (t, _) = populated("magic");
    edit_block(&t.0, 0, true, |b| b[0] = b'X');
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("bad magic"), "{out}");
    assert_eq!(run_fsck(&["-n"], &t.0).0, 4);
}

#[test]
fn bad_superblock_checksum() {
    let (t, _) = populated("sbsum");
    edit_block(&t.0, 0, false, |b| b[40] ^= 0x10);
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("checksum"), "{out}");
    // Not repaired.
    assert_eq!(run_fsck(&["-y"], &t.0).0, 4);
    assert_eq!(run_fsck(&["-n"], &t.0).0, 4);
}

#[test]
fn impossible_geometry() {
    let (t, _) = populated("geom");
    edit_sb(&t.0, |sb| {
        sb.geometry.inode_table_blocks = 1;
        sb.geometry.data_start = sb.geometry.inode_table_start + 1;
    });
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("inode table size does not match"), "{out}");

    // One block bitmap block too many, the later regions shifted to match:
    // the layout once passed fsck and then made the kernel's allocator
    // underflow.
    let (t, _) = populated("geom-bitmap");
    edit_sb(&t.0, |sb| {
        sb.geometry.block_bitmap_blocks += 1;
        sb.geometry.inode_bitmap_start += 1;
        sb.geometry.inode_table_start += 1;
        sb.geometry.data_start += 1;
        sb.free_blocks -= 1;
    });
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("block bitmap size does not match"), "{out}");

    let (t, _) = populated("geom2");
    edit_sb(&t.0, |sb| sb.geometry.total_blocks += 1);
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("larger than the device"), "{out}");

    let (t, _) = populated("geom3");
    edit_sb(&t.0, |sb| sb.geometry.block_bitmap_start += 1);
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("not contiguous"), "{out}");
}

#[test]
fn unknown_incompat_feature() {
    let t = new_fs("incompat", 1024);
    edit_sb(&t.0, |sb| sb.feature_incompat = 1 << 7);
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("incompatible"), "{out}");
}

// ---- repairable problems ---------------------------------------------------------

#[test]
fn dirty_state() {
    // Without a journal, an unclean unmount is a problem.
    let (t, _) = populated_v10("dirty");
    edit_sb(&t.0, |sb| sb.state = STATE_DIRTY);
    assert_repairable(&t.0, "not cleanly unmounted");
}

#[test]
fn block_bitmap_marks_free_block_used() {
    let (t, _) = populated("bbm1");
    let g = Image::open(&t.0, false).unwrap().geometry();
    let last = g.total_blocks - 1; // free in a barely used image
    edit_block(
        &t.0,
        g.block_bitmap_start + last / BITS_PER_BLOCK,
        false,
        |b| {
            bitmap_set(&mut b[..], last % BITS_PER_BLOCK, true).unwrap();
        },
    );
    assert_repairable(&t.0, &format!("block {last} is marked in use"));
}

#[test]
fn block_bitmap_marks_used_block_free() {
    let (t, pop) = populated("bbm2");
    let img = Image::open(&t.0, false).unwrap();
    let g = img.geometry();
    let inode = img.read_inode(pop.big).unwrap();
    let chain = img.extent_chain(pop.big, &inode).unwrap();
    drop(img);
    edit_block(&t.0, g.block_bitmap_start, false, |b| {
        bitmap_set(&mut b[..], chain[1], false).unwrap();
    });
    assert_repairable(
        &t.0,
        &format!("block {} is in use but marked free", chain[1]),
    );
}

#[test]
fn block_bitmap_tail_bits() {
    let t = new_fs("tail", 1000);
    let g = Image::open(&t.0, false).unwrap().geometry();
    edit_block(&t.0, g.block_bitmap_start, false, |b| {
        bitmap_set(&mut b[..], 2000, false).unwrap();
    });
    assert_repairable(&t.0, "past the end");
}

#[test]
fn inode_bitmap_mismatch() {
    let (t, pop) = populated("ibm");
    let g = Image::open(&t.0, false).unwrap().geometry();
    edit_block(&t.0, g.inode_bitmap_start, false, |b| {
        bitmap_set(&mut b[..], pop.medium, false).unwrap();
        bitmap_set(&mut b[..], 1000, true).unwrap();
    });
    assert_repairable(
        &t.0,
        &format!("inode {} is in use but marked free", pop.medium),
    );
}

#[test]
fn free_counts() {
    let (t, _) = populated("free");
    edit_sb(&t.0, |sb| {
        sb.free_blocks -= 3;
        sb.free_inodes -= 1;
    });
    assert_repairable(&t.0, "free block count");
    let (t, _) = populated("free2");
    edit_sb(&t.0, |sb| sb.free_inodes -= 1);
    assert_repairable(&t.0, "free inode count");
}

#[test]
fn wrong_link_count() {
    let (t, pop) = populated("nlink");
    edit_inode(&t.0, pop.small, |i| i.nlink = 7);
    assert_repairable(
        &t.0,
        &format!("inode {}: link count is 7, should be 3", pop.small),
    );
    let img = Image::open(&t.0, false).unwrap();
    assert_eq!(img.read_inode(pop.small).unwrap().nlink, 3);
}

#[test]
fn wrong_directory_link_count() {
    let (t, pop) = populated("dirnlink");
    edit_inode(&t.0, pop.dir_a, |i| i.nlink = 2);
    assert_repairable(&t.0, "link count is 2, should be 3");
}

#[test]
fn wrong_blocks_field() {
    let (t, pop) = populated("blocks");
    edit_inode(&t.0, pop.big, |i| i.blocks = 300);
    assert_repairable(&t.0, "blocks field is 300, should be 302");
}

#[test]
fn wrong_directory_size() {
    let (t, _) = populated("dirsize");
    let many = Image::open(&t.0, false).unwrap().resolve("/many").unwrap();
    edit_inode(&t.0, many, |i| i.size = 4096);
    assert_repairable(&t.0, "size is 4096, should be");
}

#[test]
fn dir_parent_not_fixed_when_tree_unreadable() {
    let (t, pop) = populated("parent2");
    let img = Image::open(&t.0, false).unwrap();
    let b = img.resolve("/a/b").unwrap();
    let blk = img.dir_blocks(pop.dir_d).unwrap()[0];
    drop(img);
    edit_inode(&t.0, b, |i| i.dir_parent = pop.dir_d);
    edit_block(&t.0, blk, false, |x| x[100] ^= 1);
    let r = repair(&t.0);
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("parent is") && !p.contains("(fixed)")));
}

#[test]
fn wrong_dir_parent() {
    let (t, pop) = populated("parent");
    let b = Image::open(&t.0, false).unwrap().resolve("/a/b").unwrap();
    edit_inode(&t.0, b, |i| i.dir_parent = pop.dir_d);
    assert_repairable(
        &t.0,
        &format!(
            "directory {b}: parent is {}, should be {}",
            pop.dir_d, pop.dir_a
        ),
    );
}

#[test]
fn link_count_zero_is_outside_the_kernels_bounds() {
    // The kernel refuses an in-use inode with no links (EUCLEAN).
    let (t, pop) = populated("nlink0");
    edit_inode(&t.0, pop.medium, |i| i.nlink = 0);
    assert_repairable(
        &t.0,
        &format!(
            "inode {}: link count is 0, should be 1 (outside 1..=65000",
            pop.medium
        ),
    );
    assert_eq!(
        Image::open(&t.0, false)
            .unwrap()
            .read_inode(pop.medium)
            .unwrap()
            .nlink,
        1
    );
}

#[test]
fn directory_link_count_below_two() {
    // "." and the entry in the parent: a directory has at least 2.
    let (t, _) = populated("dirnlink1");
    let c = Image::open(&t.0, false).unwrap().resolve("/a/b/c").unwrap();
    edit_inode(&t.0, c, |i| i.nlink = 1);
    assert_repairable(
        &t.0,
        &format!("inode {c}: link count is 1, should be 2 (outside 2..=65000"),
    );
}

#[test]
fn link_count_above_the_maximum() {
    let (t, pop) = populated("nlinkmax");
    edit_inode(&t.0, pop.small, |i| i.nlink = MAX_LINKS + 1);
    assert_repairable(
        &t.0,
        &format!(
            "inode {}: link count is 65001, should be 3 (outside 1..=65000",
            pop.small
        ),
    );
}

#[test]
fn reserved_slot_zero_in_use() {
    let (t, _) = populated("slot0");
    let img = Image::open(&t.0, true).unwrap();
    let g = img.geometry();
    let mut raw = [0u8; INODE_SIZE];
    let mut i = Inode::new(S_IFREG | 0o644);
    i.nlink = 1;
    i.encode(0, &mut raw);
    let mut b = img.read_block(g.inode_table_start).unwrap();
    b[..INODE_SIZE].copy_from_slice(&raw);
    img.write_block(g.inode_table_start, &b).unwrap();
    drop(img);
    assert_repairable(&t.0, "reserved inode slot 0 is not free");
    let b = Image::open(&t.0, false)
        .unwrap()
        .read_block(g.inode_table_start)
        .unwrap();
    assert!(b[..INODE_SIZE].iter().all(|x| *x == 0));
}

#[test]
fn directory_block_marked_free() {
    let (t, pop) = populated("dirfree");
    let img = Image::open(&t.0, false).unwrap();
    let g = img.geometry();
    let blk = img.dir_blocks(pop.dir_d).unwrap()[0];
    drop(img);
    edit_block(&t.0, g.block_bitmap_start, false, |b| {
        bitmap_set(&mut b[..], blk, false).unwrap();
    });
    assert_repairable(&t.0, &format!("block {blk} is in use but marked free"));
}

// ---- unrepairable problems ----------------------------------------------------------

#[test]
fn owner_minus_one() {
    // (uid_t)-1 is no id: the VFS would refuse to write, truncate, unlink
    // or rename the file (EOVERFLOW), so it cannot be called clean.
    let (t, pop) = populated("uid");
    edit_inode(&t.0, pop.medium, |i| i.uid = u32::MAX);
    assert_unfixable(
        &t.0,
        &format!(
            "inode {}: uid 4294967295 (-1) is not a valid id",
            pop.medium
        ),
    );
    let (t, pop) = populated("gid");
    edit_inode(&t.0, pop.small, |i| i.gid = u32::MAX);
    assert_unfixable(&t.0, "gid 4294967295 (-1) is not a valid id");
    // Any other id is fine.
    let (t, pop) = populated("uid2");
    edit_inode(&t.0, pop.small, |i| {
        i.uid = u32::MAX - 1;
        i.gid = 12345;
    });
    assert_clean(&t.0);
}

#[test]
fn more_links_than_the_kernel_allows() {
    // 65001 entries naming one file: the count matches the links, but the
    // kernel refuses counts above 65000. Directory blocks are filled
    // directly (adding 65001 entries one by one rereads the directory
    // each time).
    let (t, pop) = populated("toomany");
    let mut img = Image::open(&t.0, true).unwrap();
    let dir = img.mkdir(ROOT_INO, b"links", 0o755).unwrap();
    let mut blocks = Vec::new();
    let mut buf = rsfs_image::zero_block();
    dir_block_init(&mut buf, dir);
    let n = MAX_LINKS + 1 - 3; // small has 3 links already
    for i in 0..n {
        let name = format!("{i:05}");
        if dir_insert(&mut buf, name.as_bytes(), pop.small as u32, DT_REG)
            == Err(FormatError::NoSpace)
        {
            blocks.push(std::mem::replace(&mut buf, rsfs_image::zero_block()));
            dir_block_init(&mut buf, dir);
            dir_insert(&mut buf, name.as_bytes(), pop.small as u32, DT_REG).unwrap();
        }
    }
    blocks.push(buf);
    // The end of the filesystem is free: one extent for all of them.
    img.set_alloc_cursor(img.geometry().total_blocks - blocks.len() as u64 - 8);
    let (start, got) = img.alloc_run(blocks.len() as u64, None).unwrap();
    assert_eq!(got, blocks.len() as u64);
    for (i, b) in blocks.iter_mut().enumerate() {
        seal_block(b);
        img.write_block(start + i as u64, b).unwrap();
    }
    let mut inode = img.read_inode(dir).unwrap();
    let e = Extent {
        logical: 0,
        len: got as u32,
        unwritten: false,
        physical: start,
    };
    img.set_extents(dir, &mut inode, &[e]).unwrap();
    inode.size = got * BLOCK_SIZE_U64;
    img.write_inode(dir, &inode).unwrap();
    let mut small = img.read_inode(pop.small).unwrap();
    small.nlink = MAX_LINKS + 1;
    img.write_inode(pop.small, &small).unwrap();
    img.flush().unwrap();
    drop(img);
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 4, "{:#?}", r.problems);
    let expect = format!(
        "inode {}: 65001 links (the entries naming it), more than the 65000 the kernel allows",
        pop.small
    );
    assert_eq!(r.problems, vec![expect.clone()]);
    // Nothing to repair: the count is right, there are too many links.
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains(&expect), "{out}");
}

#[test]
fn file_extent_shares_a_directory_block() {
    let (t, pop) = populated("dirshare");
    let img = Image::open(&t.0, false).unwrap();
    let blk = img.dir_blocks(pop.dir_a).unwrap()[0];
    drop(img);
    edit_inode(&t.0, pop.medium, |i| {
        let mut e = i.inline_extent(1).unwrap();
        e.physical = blk;
        e.len = 1;
        i.set_inline_extent(1, &e).unwrap();
    });
    assert_unfixable(
        &t.0,
        &format!(
            "block {blk} is owned more than once (inodes {}, {})",
            pop.dir_a, pop.medium
        ),
    );
}

#[test]
fn doubly_owned_block() {
    let (t, pop) = populated("dup");
    let img = Image::open(&t.0, false).unwrap();
    let big_first = img.read_inode(pop.big).unwrap().inline_extent(0).unwrap();
    drop(img);
    edit_inode(&t.0, pop.medium, |i| {
        let mut e = i.inline_extent(0).unwrap();
        e.physical = big_first.physical;
        e.len = 1;
        i.set_inline_extent(0, &e).unwrap();
        i.blocks -= 2;
    });
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 4);
    let expect = format!(
        "block {} is owned more than once (inodes {}, {})",
        big_first.physical, pop.big, pop.medium
    );
    assert!(r.mentions(&expect), "{:#?}", r.problems);
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");
    // Repair fixes the bitmap (the orphaned blocks) but not the sharing.
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 5, "{out}");
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("owned more than once"), "{out}");
}

#[test]
fn block_owned_twice_by_one_file() {
    let (t, pop) = populated("dup1");
    edit_inode(&t.0, pop.medium, |i| {
        let a = i.inline_extent(0).unwrap();
        let mut b = i.inline_extent(1).unwrap();
        b.physical = a.physical;
        i.set_inline_extent(1, &b).unwrap();
    });
    assert_unfixable(&t.0, "owned more than once");
}

#[test]
fn bad_dir_block_checksum() {
    let (t, pop) = populated("dirsum");
    let img = Image::open(&t.0, false).unwrap();
    let blk = img.dir_blocks(pop.dir_d).unwrap()[0];
    drop(img);
    edit_block(&t.0, blk, false, |b| b[16 + 8] ^= 0x20);
    assert_unfixable(
        &t.0,
        &format!(
            "directory {} block 0 (disk block {blk}): checksum mismatch",
            pop.dir_d
        ),
    );
}

#[test]
fn bad_dir_entry() {
    let (t, pop) = populated("direntry");
    let img = Image::open(&t.0, false).unwrap();
    let blk = img.dir_blocks(pop.dir_a).unwrap()[0];
    drop(img);
    // A record length that runs past the entry area, with a valid checksum.
    edit_block(&t.0, blk, true, |b| {
        b[16 + 4..16 + 6].copy_from_slice(&4080u16.to_le_bytes())
    });
    assert_unfixable(&t.0, "invalid directory record length");
}

#[test]
fn dir_entry_wrong_file_type() {
    let (t, _) = populated("ftype");
    let mut img = Image::open(&t.0, true).unwrap();
    let ino = img.remove_entry(ROOT_INO, b"small").unwrap();
    img.add_entry(ROOT_INO, b"small", ino, DT_DIR).unwrap();
    drop(img);
    assert_unfixable(&t.0, "has file type 4 but inode");
}

#[test]
fn dir_entry_to_free_inode() {
    let (t, _) = populated("freeino");
    let mut img = Image::open(&t.0, true).unwrap();
    img.add_entry(ROOT_INO, b"nowhere", 1 << 20, DT_REG)
        .unwrap();
    img.add_entry(ROOT_INO, b"ghost", 2000, DT_REG).unwrap();
    drop(img);
    assert_unfixable(&t.0, "points to free inode 2000");
    assert_unfixable(&t.0, "points to invalid inode 1048576");
}

#[test]
fn duplicate_name() {
    let (t, pop) = populated("dupname");
    let img = Image::open(&t.0, false).unwrap();
    let blk = img.dir_blocks(pop.dir_d).unwrap()[0];
    drop(img);
    // Rename "prealloc" to "sparse" in place: two entries, same name.
    edit_block(&t.0, blk, true, |b| {
        let off = dir_lookup(b, b"prealloc").unwrap().unwrap().offset;
        b[off + 6] = 6;
        b[off + 8..off + 14].copy_from_slice(b"sparse");
    });
    assert_unfixable(&t.0, "entry 'sparse' (offset");
}

#[test]
fn unreachable_inode() {
    let (t, pop) = populated("orphan");
    let mut img = Image::open(&t.0, true).unwrap();
    img.remove_entry(pop.dir_d, b"lonely").unwrap();
    drop(img);
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 4);
    assert!(
        r.mentions(&format!(
            "inode {} (regular file, nlink 1) is not reachable",
            pop.orphan_candidate
        )),
        "{:#?}",
        r.problems
    );
    assert_unfixable(&t.0, "not reachable from the root");
}

#[test]
fn unreachable_directory() {
    let (t, pop) = populated("orphandir");
    let mut img = Image::open(&t.0, true).unwrap();
    img.remove_entry(ROOT_INO, b"a").unwrap();
    drop(img);
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 4);
    assert!(
        r.mentions(&format!("inode {} (directory", pop.dir_a)),
        "{:#?}",
        r.problems
    );
    // The root's link count is now wrong too, and fixable.
    assert!(
        r.mentions("inode 1: link count is 5, should be 4"),
        "{:#?}",
        r.problems
    );
}

#[test]
fn directory_linked_twice() {
    let (t, pop) = populated("dirtwice");
    let mut img = Image::open(&t.0, true).unwrap();
    img.add_entry(pop.dir_d, b"a-again", pop.dir_a, DT_DIR)
        .unwrap();
    drop(img);
    assert_unfixable(
        &t.0,
        &format!("directory {} is linked more than once", pop.dir_a),
    );
}

#[test]
fn bad_inode_checksum() {
    let (t, pop) = populated("inosum");
    let img = Image::open(&t.0, true).unwrap();
    let mut raw = img.read_inode_raw(pop.medium).unwrap();
    raw[20] ^= 1;
    img.write_inode_raw(pop.medium, &raw).unwrap();
    drop(img);
    assert_unfixable(&t.0, &format!("inode {}: checksum mismatch", pop.medium));
    // The bitmap is not rebuilt while an inode's blocks are unknown.
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 4, "{out}");
}

#[test]
fn misplaced_inode() {
    let (t, pop) = populated("misplaced");
    let img = Image::open(&t.0, true).unwrap();
    let raw = img.read_inode_raw(pop.small).unwrap();
    img.write_inode_raw(pop.orphan_candidate, &raw).unwrap();
    drop(img);
    assert_unfixable(
        &t.0,
        &format!("inode {}: checksum mismatch", pop.orphan_candidate),
    );
}

#[test]
fn unwritten_blocks_beyond_size_are_preallocated() {
    let (t, _) = populated("prealloc");
    let ino = {
        let mut img = Image::open(&t.0, true).unwrap();
        let ino = img
            .create_file(ROOT_INO, b"pre", &content(3 * 4096, 9), FileLayout::contiguous())
            .unwrap();
        img.flush().unwrap();
        ino
    };
    edit_inode(&t.0, ino, |i| {
        for n in 0..i.inline_extent_count() {
            let mut e = i.inline_extent(n).unwrap();
            e.unwritten = true;
            i.set_inline_extent(n, &e).unwrap();
        }
        i.size = 0;
    });
    assert_clean(&t.0);
    // Written blocks past the end stay a problem.
    edit_inode(&t.0, ino, |i| {
        let mut e = i.inline_extent(0).unwrap();
        e.unwritten = false;
        i.set_inline_extent(0, &e).unwrap();
    });
    assert_unfixable(&t.0, "is mapped but the size");
}

#[test]
fn block_beyond_size() {
    let (t, pop) = populated("beyond");
    edit_inode(&t.0, pop.medium, |i| i.size = 10 * 4096);
    assert_unfixable(&t.0, "is mapped but the size");
}

#[test]
fn bad_extent() {
    let (t, pop) = populated("extent");
    edit_inode(&t.0, pop.medium, |i| {
        let mut e = i.inline_extent(2).unwrap();
        e.physical = 3; // metadata
        i.set_inline_extent(2, &e).unwrap();
    });
    assert_unfixable(&t.0, "invalid extent");
    let (t, pop) = populated("extent2");
    edit_inode(&t.0, pop.medium, |i| {
        let mut e = i.inline_extent(2).unwrap();
        e.logical = 0;
        i.set_inline_extent(2, &e).unwrap();
    });
    assert_unfixable(&t.0, "extents unsorted or overlapping");
}

#[test]
fn bad_overflow_chain() {
    let (t, pop) = populated("chain");
    let img = Image::open(&t.0, false).unwrap();
    let chain = img
        .extent_chain(pop.big, &img.read_inode(pop.big).unwrap())
        .unwrap();
    drop(img);
    edit_block(&t.0, chain[1], false, |b| b[100] ^= 1);
    assert_unfixable(
        &t.0,
        &format!("extent overflow block {}: checksum mismatch", chain[1]),
    );

    let (t, pop) = populated("chain2");
    let img = Image::open(&t.0, false).unwrap();
    let chain = img
        .extent_chain(pop.big, &img.read_inode(pop.big).unwrap())
        .unwrap();
    drop(img);
    edit_block(&t.0, chain[1], true, |b| {
        b[16..24].copy_from_slice(&pop.medium.to_le_bytes())
    });
    assert_unfixable(&t.0, "block owned by another inode");

    let (t, pop) = populated("chain3");
    let img = Image::open(&t.0, false).unwrap();
    let chain = img
        .extent_chain(pop.big, &img.read_inode(pop.big).unwrap())
        .unwrap();
    drop(img);
    // Loop the chain back onto its first block.
    edit_block(&t.0, chain[1], true, |b| {
        b[8..16].copy_from_slice(&chain[0].to_le_bytes())
    });
    assert_unfixable(&t.0, "extent overflow");

    let (t, pop) = populated("chain4");
    edit_inode(&t.0, pop.big, |i| i.extent_count = 299);
    assert_unfixable(&t.0, "extent count 299");
}

#[test]
fn root_not_a_directory() {
    let t = new_fs("root", 1024);
    edit_inode(&t.0, ROOT_INO, |i| {
        i.mode = S_IFREG | 0o644;
        i.dir_parent = 0;
    });
    assert_unfixable(&t.0, "root inode 1 is not a valid directory");
}

#[test]
fn repair_leaves_dirty_state_when_unfixable_remain() {
    let (t, pop) = populated_v10("dirty-unfixable");
    edit_sb(&t.0, |sb| sb.state = STATE_DIRTY);
    edit_inode(&t.0, pop.medium, |i| i.size = 4096);
    edit_inode(&t.0, pop.small, |i| i.nlink = 1);
    let r = repair(&t.0);
    assert_eq!(r.exit_code, 5, "{r:#?}");
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("not cleanly unmounted") && !p.contains("(fixed)")));
    assert!(r
        .problems
        .iter()
        .any(|p| p.contains("link count") && p.contains("(fixed)")));
    let sb = Image::open(&t.0, false).unwrap().sb;
    assert_eq!(sb.state, STATE_DIRTY);
}

#[test]
fn garbage_blocks_never_crash_fsck() {
    // Scribble over metadata blocks of a populated image and check that
    // fsck always finishes with a valid exit code.
    let (t, _) = populated("garbage");
    let pristine = std::fs::read(&t.0).unwrap();
    let g = Image::open(&t.0, false).unwrap().geometry();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..40 {
        std::fs::write(&t.0, &pristine).unwrap();
        let dev = BlockDev::open(&t.0, true).unwrap();
        for _ in 0..8 {
            // Inode table, bitmaps, or the first data blocks (directories,
            // extent blocks).
            let blk = match rnd() % 3 {
                0 => g.inode_table_start + rnd() % 8,
                1 => g.block_bitmap_start + rnd() % 2,
                _ => g.data_start + rnd() % 700,
            };
            let mut b = dev.read_block_new(blk).unwrap();
            for _ in 0..1 + rnd() % 64 {
                let i = (rnd() % 4096) as usize;
                b[i] = rnd() as u8;
            }
            if round % 2 == 0 {
                seal_block(&mut b);
            }
            dev.write_block(blk, &b).unwrap();
        }
        drop(dev);
        let r = check_only(&t.0);
        assert!(matches!(r.exit_code, 0 | 4), "round {round}: {r:#?}");
        let r = repair(&t.0);
        assert!(
            matches!(r.exit_code, 0 | 1 | 4 | 5),
            "round {round}: {r:#?}"
        );
        // After a repair, a second repair has nothing more it can fix.
        let r2 = repair(&t.0);
        assert_eq!(r2.fixed, 0, "round {round}: {r2:#?}");
    }
}

// ---- the journal (format 1.1) --------------------------------------------------

/// The journal superblock of the image at `path`.
fn journal_super(path: &Path) -> Result<JournalSuper, FormatError> {
    let dev = BlockDev::open(path, false).unwrap();
    let sb = Superblock::decode(&dev.read_block_new(0).unwrap()).unwrap();
    let g = sb.geometry;
    JournalSuper::decode(
        &dev.read_block_new(g.journal_start).unwrap(),
        g.journal_blocks,
    )
}

/// Writes the transactions `f` builds to the log of the image at `path`,
/// from log index 1, and points the journal superblock at them (first
/// transaction `sequence`), as a crash after their commit leaves it.
fn log(path: &Path, sequence: u64, f: impl FnOnce(&mut LogWriter, &Geometry)) -> Geometry {
    let dev = BlockDev::open(path, true).unwrap();
    let g = Superblock::decode(&dev.read_block_new(0).unwrap())
        .unwrap()
        .geometry;
    let mut w = LogWriter::new(g.journal_blocks, 1);
    f(&mut w, &g);
    w.write(&dev, &g).unwrap();
    let mut b = rsfs_image::zero_block();
    JournalSuper {
        blocks: g.journal_blocks,
        sequence,
        start: 1,
    }
    .encode(&mut b);
    dev.write_block(g.journal_start, &b).unwrap();
    g
}

/// A consistent change, as one transaction would log it: `change` made on
/// a copy of the image at `path` (which is left alone), its superblock
/// left dirty as a mounted filesystem's is. Returns the blocks that differ
/// outside the journal, with their new contents, and the changed image.
fn changes(path: &Path, change: impl FnOnce(&mut Image)) -> (Vec<(u64, Box<Block>)>, Vec<u8>) {
    let copy = Temp::new("changed");
    std::fs::copy(path, &copy.0).unwrap();
    let mut img = Image::open(&copy.0, true).unwrap();
    change(&mut img);
    img.flush().unwrap();
    img.sb.state = STATE_DIRTY;
    img.write_superblock().unwrap();
    let g = img.geometry();
    drop(img);
    let (old, new) = (
        std::fs::read(path).unwrap(),
        std::fs::read(&copy.0).unwrap(),
    );
    let journal = g.journal_start..g.journal_start + g.journal_blocks;
    let blocks = (0..g.total_blocks)
        .filter(|b| !journal.contains(b))
        .filter_map(|b| {
            let r = b as usize * BLOCK_SIZE..(b as usize + 1) * BLOCK_SIZE;
            (old[r.clone()] != new[r.clone()]).then(|| {
                let mut blk = rsfs_image::zero_block();
                blk.copy_from_slice(&new[r]);
                (b, blk)
            })
        })
        .collect();
    (blocks, new)
}

/// The image's blocks outside the journal region.
fn outside_journal(bytes: &[u8], g: &Geometry) -> Vec<u8> {
    let mut v = bytes[..BLOCK_SIZE].to_vec();
    v.extend_from_slice(&bytes[(g.journal_start + g.journal_blocks) as usize * BLOCK_SIZE..]);
    v
}

fn as_copies(blocks: &[(u64, Box<Block>)]) -> Vec<(u64, &Block)> {
    blocks.iter().map(|(b, d)| (*b, &**d)).collect()
}

#[test]
fn fresh_filesystem_is_journalled_and_clean() {
    let t = new_fs("journalled", 4096);
    let sb = Image::open(&t.0, false).unwrap().sb;
    assert!(sb.has_journal());
    assert_eq!(
        journal_super(&t.0),
        Ok(JournalSuper {
            blocks: 256,
            sequence: 1,
            start: 0
        })
    );
    assert_clean(&t.0);
    let r = check_only(&t.0);
    assert!(
        r.notes("journal: 256 blocks, empty, next transaction 1"),
        "{r:#?}"
    );
}

#[test]
fn a_committed_log_is_checked_as_replayed_and_replayed_by_a_repair() {
    let (t, pop) = populated("replay");
    // A new file and directory, and an unlinked socket (its slot freed,
    // as the kernel's unlink does).
    let (blocks, changed) = changes(&t.0, |img| {
        img.create_file(ROOT_INO, b"new-file", b"logged", FileLayout::contiguous())
            .unwrap();
        img.mkdir(pop.dir_a, b"new-dir", 0o750).unwrap();
        let sock = img.remove_entry(pop.dir_d, b"sock").unwrap();
        img.write_inode_raw(sock, &[0; INODE_SIZE]).unwrap();
        img.set_inode_in_use(sock, false).unwrap();
    });
    assert!(
        blocks.iter().any(|(b, _)| *b == 0),
        "the superblock is logged"
    );
    assert!(blocks.len() >= 5, "{}", blocks.len());
    // Two transactions: the first half and the second half.
    let half = blocks.len() / 2;
    let g = log(&t.0, 40, |w, _| {
        w.transaction(40, &as_copies(&blocks[..half]), &[], true);
        w.transaction(41, &as_copies(&blocks[half..]), &[], true);
    });
    let before = std::fs::read(&t.0).unwrap();

    // The tools' reader sees the logged file only with the log replayed
    // (in memory: nothing is written).
    assert!(Image::open(&t.0, false).unwrap().resolve("/new-file").is_err());
    let replayed = Image::open_replayed(&t.0).unwrap();
    let ino = replayed.resolve("/new-file").unwrap();
    assert_eq!(replayed.read_file(ino).unwrap(), b"logged");
    drop(replayed);
    assert!(std::fs::read(&t.0).unwrap() == before, "open_replayed wrote to the image");

    // -n: checked as the replay leaves it; nothing written.
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(
        r.notes("journal needs recovery (2 transactions); the next mount or fsck.rsfs without -n replays it"),
        "{r:#?}"
    );
    assert!(
        r.notes("not cleanly unmounted (normal for a journalled filesystem"),
        "{r:#?}"
    );
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("journal needs recovery"), "{out}");
    assert!(
        std::fs::read(&t.0).unwrap() == before,
        "-n wrote to the image"
    );

    // Without the log the image is what it was: the old tree.
    assert!(Image::open(&t.0, false)
        .unwrap()
        .resolve("/new-file")
        .is_err());

    // A repair replays it: not an error.
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains(&format!(
            "journal: replayed 2 transactions ({} blocks)",
            blocks.len()
        )),
        "{out}"
    );
    assert!(out.contains("marked clean"), "{out}");
    let after = std::fs::read(&t.0).unwrap();
    let mut want = changed.clone();
    // Marked clean once checked: the superblock is the logged one but clean.
    let mut sb = Superblock::decode(after[..BLOCK_SIZE].try_into().unwrap()).unwrap();
    assert_eq!(sb.state, STATE_CLEAN);
    sb.state = STATE_DIRTY;
    let logged = Superblock::decode(changed[..BLOCK_SIZE].try_into().unwrap()).unwrap();
    sb.write_time = logged.write_time;
    assert_eq!(sb, logged);
    want[..BLOCK_SIZE].copy_from_slice(&after[..BLOCK_SIZE]);
    assert!(
        outside_journal(&after, &g) == outside_journal(&want, &g),
        "home blocks hold the copies"
    );
    assert_eq!(
        journal_super(&t.0),
        Ok(JournalSuper {
            blocks: g.journal_blocks,
            sequence: 42,
            start: 0
        })
    );
    assert_clean(&t.0);
    let img = Image::open(&t.0, false).unwrap();
    assert_eq!(
        img.read_file(img.resolve("/new-file").unwrap()).unwrap(),
        b"logged"
    );
    assert!(img.resolve("/a/new-dir").is_ok() && img.resolve("/d/sock").is_err());
}

#[test]
fn a_revoked_copy_is_not_replayed() {
    let (t, pop) = populated("revoke");
    let img = Image::open(&t.0, false).unwrap();
    let inode = img.read_inode(pop.medium).unwrap();
    let data = img.extents(pop.medium, &inode).unwrap()[0].physical;
    let table = img.geometry().inode_table_start + 1;
    drop(img);
    let garbage = [0x6b; BLOCK_SIZE];
    // Transaction 7 logs garbage over a file's block and an inode table
    // block; 8 revokes both (freed, reused for data: the copies must not
    // come back). 9 logs the table block again, after the revoke: replayed.
    let table_now = BlockDev::open(&t.0, false)
        .unwrap()
        .read_block_new(table)
        .unwrap();
    log(&t.0, 7, |w, _| {
        w.transaction(7, &[(data, &garbage), (table, &garbage)], &[], true);
        w.transaction(8, &[], &[data, table], true);
        w.transaction(9, &[(table, &table_now)], &[], true);
    });
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(r.notes("journal needs recovery (3 transactions)"), "{r:#?}");
    let r = repair(&t.0);
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(
        r.notes("journal: replayed 3 transactions (1 blocks)"),
        "{r:#?}"
    );
    assert_clean(&t.0);
    let img = Image::open(&t.0, false).unwrap();
    assert_eq!(img.read_file(pop.medium).unwrap(), content(40 * 4096, 2));
    assert_eq!(journal_super(&t.0).unwrap().sequence, 10);
}

#[test]
fn a_torn_last_transaction_is_not_replayed() {
    let (t, pop) = populated("torn");
    let (blocks, _) = changes(&t.0, |img| {
        img.mkdir(ROOT_INO, b"made", 0o755).unwrap();
    });
    let img = Image::open(&t.0, false).unwrap();
    let (table, _) = img.geometry().inode_location(pop.small).unwrap();
    drop(img);
    let garbage = [0x33; BLOCK_SIZE];
    let g = log(&t.0, 1, |w, _| {
        w.transaction(1, &as_copies(&blocks), &[], true);
        // Its copy did not reach the disk before the commit block did.
        let at = w.transaction(2, &[(table, &garbage)], &[], true);
        let copy = w.out.iter_mut().find(|(i, _)| *i == at + 1).unwrap();
        copy.1[100] ^= 1;
        // And a third one without a commit block.
        w.transaction(3, &[(table, &garbage)], &[], false);
    });
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(r.notes("journal needs recovery (1 transactions)"), "{r:#?}");
    let (code, out) = run_fsck(&["-p"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("journal: replayed 1 transactions"), "{out}");
    assert_clean(&t.0);
    let img = Image::open(&t.0, false).unwrap();
    assert!(img.resolve("/made").is_ok());
    assert_eq!(img.read_file(pop.small).unwrap(), b"hello, rsfs\n");
    assert_eq!(
        journal_super(&t.0).unwrap(),
        JournalSuper::empty(g.journal_blocks, 2)
    );
}

#[test]
fn a_log_naming_a_block_it_may_not_log_is_corrupt() {
    for what in ["journal", "past-end", "revoke"] {
        let (t, pop) = populated(&format!("badhome-{what}"));
        let (table, _) = Image::open(&t.0, false)
            .unwrap()
            .geometry()
            .inode_location(pop.small)
            .unwrap();
        let mut new_table = *BlockDev::open(&t.0, false)
            .unwrap()
            .read_block_new(table)
            .unwrap();
        new_table[17] ^= 0x40; // damages an inode: must not be replayed
        let g = log(&t.0, 5, |w, g| {
            let bad = match what {
                "journal" => g.journal_start + 3,
                _ => g.total_blocks,
            };
            w.transaction(5, &[(table, &new_table)], &[], true);
            if what == "revoke" {
                w.transaction(6, &[], &[bad], true);
            } else {
                w.transaction(6, &[(bad, &[0u8; BLOCK_SIZE])], &[], true);
            }
        });
        let before = std::fs::read(&t.0).unwrap();
        let expect = if what == "revoke" {
            "journal corrupt: transaction 6 revokes block"
        } else {
            "journal corrupt: transaction 6 logs block"
        };
        let r = check_only(&t.0);
        assert_eq!(r.exit_code, 4, "{what}: {r:#?}");
        assert!(r.mentions(expect), "{what}: {r:#?}");
        let (code, out) = run_fsck(&["-n"], &t.0);
        assert_eq!(code, 4, "{out}");
        assert!(
            std::fs::read(&t.0).unwrap() == before,
            "-n wrote to the image"
        );
        // A repair discards the log: nothing of it is replayed.
        let (code, out) = run_fsck(&["-y"], &t.0);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains("log discarded, nothing replayed (fixed)"),
            "{out}"
        );
        assert_clean(&t.0);
        let j = journal_super(&t.0).unwrap();
        assert!(!j.needs_recovery() && j.sequence > 6, "{what}: {j:?}");
        let after = std::fs::read(&t.0).unwrap();
        assert!(
            outside_journal(&after, &g) == outside_journal(&before, &g),
            "{what}"
        );
    }
}

#[test]
fn a_corrupt_journal_superblock() {
    /// (name, damage, reseal, what fsck says)
    type Corruption = (&'static str, fn(&mut Block), bool, &'static str);
    let corruptions: [Corruption; 4] = [
        ("checksum", |b| b[20] ^= 1, false, "checksum mismatch"),
        ("magic", |b| b[0] ^= 1, true, "bad magic number"),
        (
            "blocks",
            |b| b[8] ^= 1,
            true,
            "journal does not match the filesystem",
        ),
        (
            "start",
            |b| b[24..32].copy_from_slice(&1000u64.to_le_bytes()),
            true,
            "journal does not match the filesystem",
        ),
    ];
    for (what, f, reseal, expect) in corruptions {
        let (t, _) = populated(&format!("jsb-{what}"));
        let g = Image::open(&t.0, false).unwrap().geometry();
        // Stale log blocks of an old transaction 70: the journal starts
        // again past them.
        log(&t.0, 70, |w, g| {
            w.transaction(70, &[(g.data_start, &[1; BLOCK_SIZE])], &[], true);
        });
        edit_block(&t.0, g.journal_start, reseal, f);
        let msg = format!("journal superblock corrupt: {expect}");
        let r = check_only(&t.0);
        assert_eq!(r.exit_code, 4, "{what}: {r:#?}");
        assert!(r.mentions(&msg), "{what}: {r:#?}");
        let (code, out) = run_fsck(&["-y"], &t.0);
        assert_eq!(code, 1, "{what}: {out}");
        assert!(
            out.contains(&format!(
                "{msg}: rewritten empty, next transaction 71 (fixed)"
            )),
            "{out}"
        );
        assert_clean(&t.0);
        assert_eq!(
            journal_super(&t.0),
            Ok(JournalSuper::empty(g.journal_blocks, 71))
        );
    }
}

#[test]
fn a_dirty_journalled_filesystem_is_not_a_problem() {
    let (t, pop) = populated("dirty-journalled");
    edit_sb(&t.0, |sb| sb.state = STATE_DIRTY);
    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(r.problems.is_empty(), "{r:#?}");
    assert!(r.notes("not cleanly unmounted"), "{r:#?}");
    assert_eq!(run_fsck(&["-n"], &t.0).0, 0);
    assert_eq!(Image::open(&t.0, false).unwrap().sb.state, STATE_DIRTY);
    // A repair that leaves nothing wrong marks it clean: still exit 0.
    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert_eq!(Image::open(&t.0, false).unwrap().sb.state, STATE_CLEAN);
    // With a problem left, it stays dirty.
    edit_sb(&t.0, |sb| sb.state = STATE_DIRTY);
    edit_inode(&t.0, pop.medium, |i| i.size = 4096);
    let r = repair(&t.0);
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert_eq!(Image::open(&t.0, false).unwrap().sb.state, STATE_DIRTY);
}

#[test]
fn orphan_inodes_are_freed() {
    let (t, pop) = populated("orphan-freed");
    let mut img = Image::open(&t.0, true).unwrap();
    // Unlinked while open: no entry, no links, blocks and slot still used.
    img.remove_entry(pop.dir_d, b"lonely").unwrap();
    let mut i = img.read_inode(pop.orphan_candidate).unwrap();
    i.nlink = 0;
    img.write_inode(pop.orphan_candidate, &i).unwrap();
    // A removed directory, open too: empty, one block, no links.
    let dir = img.mkdir(ROOT_INO, b"gone", 0o755).unwrap();
    img.add_entry(dir, b"x", pop.small, DT_REG).unwrap();
    img.remove_entry(dir, b"x").unwrap();
    img.remove_entry(ROOT_INO, b"gone").unwrap();
    let mut d = img.read_inode(dir).unwrap();
    d.nlink = 0;
    img.write_inode(dir, &d).unwrap();
    let mut root = img.read_inode(ROOT_INO).unwrap();
    root.nlink -= 1;
    img.write_inode(ROOT_INO, &root).unwrap();
    img.flush().unwrap();
    let file_block = img
        .map_block(pop.orphan_candidate, &i, 0)
        .unwrap()
        .unwrap()
        .0;
    let dir_block = img.dir_blocks(dir).unwrap()[0];
    let (free_blocks, free_inodes) = (img.sb.free_blocks, img.sb.free_inodes);
    drop(img);

    let r = check_only(&t.0);
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert!(
        r.mentions(&format!(
            "orphan inode {} (regular file, 1 blocks): in use with no links",
            pop.orphan_candidate
        )),
        "{r:#?}"
    );
    assert!(
        r.mentions(&format!("orphan inode {dir} (directory, 1 blocks)")),
        "{r:#?}"
    );
    assert_eq!(r.problems.len(), 2, "{r:#?}");
    let (code, out) = run_fsck(&["-n"], &t.0);
    assert_eq!(code, 4, "{out}");

    let (code, out) = run_fsck(&["-y"], &t.0);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!(
            "orphan inode {} freed (fixed)",
            pop.orphan_candidate
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("orphan inode {dir} freed (fixed)")),
        "{out}"
    );
    assert!(out.contains("2 problem(s), 2 fixed, 0 left"), "{out}");
    assert_clean(&t.0);
    let img = Image::open(&t.0, false).unwrap();
    assert_eq!(
        img.read_inode_raw(pop.orphan_candidate).unwrap(),
        [0; INODE_SIZE]
    );
    assert!(!img.inode_in_use(pop.orphan_candidate) && !img.inode_in_use(dir));
    assert!(!img.block_in_use(file_block) && !img.block_in_use(dir_block));
    assert_eq!(
        (img.sb.free_blocks, img.sb.free_inodes),
        (free_blocks + 2, free_inodes + 2)
    );
}

#[test]
fn an_orphan_with_other_problems_is_still_freed() {
    let (t, pop) = populated("orphan-extra");
    let mut img = Image::open(&t.0, true).unwrap();
    img.remove_entry(pop.dir_d, b"lonely").unwrap();
    drop(img);
    edit_inode(&t.0, pop.orphan_candidate, |i| {
        i.nlink = 0;
        i.blocks = 77;
    });
    // Its block also marked free, and the free count off by its slot.
    edit_sb(&t.0, |sb| sb.free_inodes += 1);
    let r = repair(&t.0);
    assert_eq!(r.exit_code, 1, "{r:#?}");
    assert!(!r.mentions("blocks field"), "freed, not repaired: {r:#?}");
    assert_clean(&t.0);
}

#[test]
fn a_directory_with_entries_and_no_links_is_not_freed() {
    let (t, pop) = populated("orphan-nonempty");
    let mut img = Image::open(&t.0, true).unwrap();
    img.remove_entry(ROOT_INO, b"d").unwrap();
    drop(img);
    edit_inode(&t.0, pop.dir_d, |i| i.nlink = 0);
    let r = repair(&t.0);
    assert_ne!(r.exit_code & 4, 0, "{r:#?}");
    assert!(
        r.mentions(&format!(
            "inode {} (directory, nlink 0) is not reachable",
            pop.dir_d
        )),
        "{r:#?}"
    );
    assert!(!r.mentions("orphan"), "{r:#?}");
}

#[test]
fn add_journal_to_a_clean_v10_filesystem() {
    let (t, pop) = populated_v10("upgrade");
    let before = Image::open(&t.0, false).unwrap().sb;
    assert!(!before.has_journal() && before.version_minor == 0);
    assert_clean(&t.0);
    let (code, out) = run_fsck(&["-O", "journal"], &t.0);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("journal added (256 blocks at block 1): rsfs 1.1"),
        "{out}"
    );
    let sb = Image::open(&t.0, false).unwrap().sb;
    assert!(sb.has_journal() && sb.version_minor == 1);
    assert_eq!(sb.feature_incompat, FEATURE_INCOMPAT_JOURNAL);
    assert_eq!(journal_super(&t.0), Ok(JournalSuper::empty(256, 1)));
    assert_clean(&t.0);
    assert_eq!(
        Image::open(&t.0, false)
            .unwrap()
            .read_file(pop.small)
            .unwrap(),
        b"hello, rsfs\n"
    );
    // Again: already there.
    let r = add_journal(&t.0, &fsck_rsfs::Options::default());
    assert_eq!(r.exit_code, 0, "{r:#?}");
    assert!(r.notes("already has a journal"), "{r:#?}");
    // Attached value.
    let t2 = new_fs_v10("upgrade2", 1024);
    assert_eq!(run_fsck(&["-Ojournal"], &t2.0).0, 0);
    assert!(Image::open(&t2.0, false).unwrap().sb.has_journal());
}

#[test]
fn add_journal_refuses_what_is_not_clean() {
    // Not cleanly unmounted.
    let (t, _) = populated_v10("upgrade-dirty");
    edit_sb(&t.0, |sb| sb.state = STATE_DIRTY);
    let before = std::fs::read(&t.0).unwrap();
    let (code, out) = run_fsck(&["-O", "journal"], &t.0);
    assert_eq!(code, 4, "{out}");
    assert!(out.contains("not cleanly unmounted"), "{out}");
    assert!(
        out.contains("journal not added: the filesystem must be clean first"),
        "{out}"
    );
    assert!(
        std::fs::read(&t.0).unwrap() == before,
        "refused but written"
    );
    // Any other problem.
    let (t, pop) = populated_v10("upgrade-problem");
    edit_inode(&t.0, pop.small, |i| i.nlink = 7);
    let r = add_journal(&t.0, &fsck_rsfs::Options::default());
    assert_eq!(r.exit_code, 4, "{r:#?}");
    assert!(r.mentions("link count is 7"), "{r:#?}");
    assert!(!Image::open(&t.0, false).unwrap().sb.has_journal());
    // A journal region too small for a journal.
    let t = Temp::new("upgrade-small");
    mkfs(
        &t.0,
        &MkfsOptions {
            blocks: Some(1024),
            journal_blocks: Some(4),
            no_journal: true,
            ..Default::default()
        },
    )
    .unwrap();
    let (code, out) = run_fsck(&["-O", "journal"], &t.0);
    assert_eq!(code, 8, "{out}");
    assert!(out.contains("journal region has 4 blocks"), "{out}");
    // Usage.
    assert_eq!(run_fsck(&["-n", "-O", "journal"], &t.0).0, 16);
    assert_eq!(run_fsck(&["-O", "^journal"], &t.0).0, 16);
    assert_eq!(run_fsck(&["-O", "bogus"], &t.0).0, 16);
    assert_eq!(run_fsck(&["-O"], &t.0).0, 16);
}

#[test]
fn garbage_in_the_journal_never_crashes_fsck() {
    let (t, _) = populated("journal-garbage");
    let g = Image::open(&t.0, false).unwrap().geometry();
    let pristine = std::fs::read(&t.0).unwrap();
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for round in 0..30 {
        std::fs::write(&t.0, &pristine).unwrap();
        // A real transaction, damaged here and there.
        let start = 1 + rnd() % (g.journal_blocks - 1);
        log(&t.0, round, |w, g| {
            w.next = start;
            let sb: &Block = pristine[..BLOCK_SIZE].try_into().unwrap();
            w.transaction(
                round,
                &[(g.inode_table_start, &[7; BLOCK_SIZE]), (0, sb)],
                &[g.data_start],
                true,
            );
            w.transaction(
                round + 1,
                &[(g.block_bitmap_start, &[0xff; BLOCK_SIZE])],
                &[],
                true,
            );
            for (_, b) in w.out.iter_mut() {
                if rnd() % 3 == 0 {
                    let at = (rnd() % BLOCK_SIZE as u64) as usize;
                    b[at] = rnd() as u8;
                    if rnd() % 2 == 0 {
                        seal_block(b);
                    }
                }
            }
        });
        edit_block(&t.0, g.journal_start, true, |b| {
            b[24..32].copy_from_slice(&start.to_le_bytes());
        });
        let r = check_only(&t.0);
        assert!(matches!(r.exit_code, 0 | 4), "round {round}: {r:#?}");
        let r = repair(&t.0);
        assert!(
            matches!(r.exit_code, 0 | 1 | 4 | 5),
            "round {round}: {r:#?}"
        );
        let r2 = repair(&t.0);
        assert_eq!(r2.fixed, 0, "round {round}: {r2:#?}");
        if !r2.mentions("superblock") {
            assert!(
                !journal_super(&t.0).unwrap().needs_recovery(),
                "round {round}"
            );
        }
    }
}
