// SPDX-License-Identifier: GPL-2.0

//! Making a new filesystem: geometry defaults, safety checks, and writing
//! the metadata.

use crate::dev::BlockDev;
use crate::format::*;
use crate::{now_secs, now_timespec, zero_block, Error, Result};
use std::fs::{self, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Smallest filesystem mkfs makes, in blocks (1 MiB).
pub const MIN_BLOCKS: u64 = 256;
/// Fewest data blocks mkfs accepts after the metadata.
pub const MIN_DATA_BLOCKS: u64 = 16;
/// Fewest inode slots mkfs makes by default.
pub const MIN_DEFAULT_INODES: u64 = 64;
/// Bytes of capacity per inode by default.
pub const BYTES_PER_INODE: u64 = 16384;

/// What to make.
#[derive(Clone, Debug, Default)]
pub struct MkfsOptions {
    /// Use only this many blocks (default: the whole file or device). A
    /// regular file is created or extended to this size if needed.
    pub blocks: Option<u64>,
    /// Inode slots (rounded up to a multiple of 16; default: one per 16 KiB,
    /// at least 64).
    pub inodes: Option<u64>,
    /// Journal blocks (default: [`default_journal`]; with a journal at
    /// least [`MIN_JOURNAL_BLOCKS`]).
    pub journal_blocks: Option<u64>,
    /// Make a filesystem without a journal (format 1.0: the journal region
    /// is reserved and zero-filled). The default is a journalled one (1.1).
    pub no_journal: bool,
    /// Volume label, at most 32 bytes.
    pub label: Vec<u8>,
    /// Overwrite an existing filesystem.
    pub force: bool,
    /// UUID (default: random).
    pub uuid: Option<[u8; 16]>,
}

/// The default inode count for `total_blocks`.
pub fn default_inodes(total_blocks: u64) -> u64 {
    let n = total_blocks.saturating_mul(BLOCK_SIZE_U64) / BYTES_PER_INODE;
    n.clamp(
        MIN_DEFAULT_INODES,
        MAX_INODES / INODES_PER_BLOCK * INODES_PER_BLOCK,
    )
}

/// The default journal size for `total_blocks`: 1/64 of the filesystem,
/// from 256 blocks (1 MiB: room for transactions of 127 blocks, with the
/// log half full before a checkpoint) to 16384 (64 MiB, ext4's default for
/// large filesystems), but never more than 1/8 of a tiny one.
pub fn default_journal(total_blocks: u64) -> u64 {
    (total_blocks / 64).clamp(256, 16384).min(total_blocks / 8).max(MIN_JOURNAL_BLOCKS)
}

fn try_plan(total_blocks: u64, opts: &MkfsOptions) -> std::result::Result<Geometry, FormatError> {
    let inodes = opts.inodes.unwrap_or_else(|| default_inodes(total_blocks));
    let journal = opts
        .journal_blocks
        .unwrap_or_else(|| default_journal(total_blocks));
    let g = Geometry::compute(total_blocks, inodes, journal)?;
    if total_blocks < MIN_BLOCKS || g.data_blocks() < MIN_DATA_BLOCKS {
        return Err(FormatError::NoDataBlocks);
    }
    Ok(g)
}

/// The smallest block count mkfs accepts with these options.
pub fn min_blocks(opts: &MkfsOptions) -> Option<u64> {
    // Data blocks grow with the total, so the predicate is monotonic.
    let (mut lo, mut hi) = (MIN_BLOCKS, MAX_TOTAL_BLOCKS);
    if try_plan(hi, opts).is_err() {
        return None;
    }
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if try_plan(mid, opts).is_ok() {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    Some(lo)
}

fn kib(blocks: u64) -> u64 {
    blocks.saturating_mul(BLOCK_SIZE_U64 / 1024)
}

/// Lays out a filesystem of `total_blocks` with `opts`, or explains why not.
pub fn plan(total_blocks: u64, opts: &MkfsOptions) -> Result<Geometry> {
    match opts.journal_blocks {
        Some(j) if !opts.no_journal && j < MIN_JOURNAL_BLOCKS => {
            return Err(Error::msg(format!(
                "a journal needs at least {MIN_JOURNAL_BLOCKS} blocks, not {j} (-O ^journal makes a filesystem without one)"
            )))
        }
        _ => {}
    }
    match try_plan(total_blocks, opts) {
        Ok(g) => Ok(g),
        Err(FormatError::NoDataBlocks) => Err(Error::msg(match min_blocks(opts) {
            Some(min) => format!(
                "too small: {total_blocks} blocks ({} KiB); rsfs needs at least {min} blocks ({} KiB) with these options",
                kib(total_blocks),
                kib(min)
            ),
            None => "these options leave no room for data at any size".to_string(),
        })),
        Err(FormatError::BadInodeCount) => Err(Error::msg(format!(
            "invalid inode count (2 ..= {} supported)",
            MAX_INODES / INODES_PER_BLOCK * INODES_PER_BLOCK
        ))),
        Err(FormatError::TooManyBlocks) => Err(Error::msg(format!(
            "too large: rsfs supports at most {MAX_TOTAL_BLOCKS} blocks"
        ))),
        Err(e) => Err(Error::format("geometry", e)),
    }
}

/// Looks for a known filesystem or swap signature at the start of `dev`.
pub fn detect_filesystem(dev: &BlockDev) -> Result<Option<&'static str>> {
    let mut head = vec![0u8; 65536 + 4096];
    let n = head
        .len()
        .min(usize::try_from(dev.bytes()).unwrap_or(usize::MAX));
    dev.read_at(0, &mut head[..n])?;
    let head = &head[..n];
    let at = |off: usize, len: usize| head.get(off..off + len);
    let u16_at = |off| at(off, 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let u32_at = |off| at(off, 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if u32_at(0) == Some(SUPER_MAGIC) {
        return Ok(Some("rsfs"));
    }
    if at(0, 4) == Some(b"XFSB") {
        return Ok(Some("xfs"));
    }
    if u16_at(1080) == Some(0xEF53) {
        return Ok(Some("ext2/ext3/ext4"));
    }
    if u32_at(1024) == Some(0xF2F5_2010) {
        return Ok(Some("f2fs"));
    }
    if at(65536 + 64, 8) == Some(b"_BHRfS_M") {
        return Ok(Some("btrfs"));
    }
    if matches!(at(4086, 10), Some(b"SWAPSPACE2") | Some(b"SWAP-SPACE")) {
        return Ok(Some("swap"));
    }
    Ok(None)
}

/// Undoes the octal escapes (`\040` for a space, ...) of `/proc/self/mounts`.
fn unescape_mount_field(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let d = |c: u8| u32::from(c - b'0');
            let v = d(b[i + 1]) * 64 + d(b[i + 2]) * 8 + d(b[i + 3]);
            out.push(v as u8);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_mounts() -> Vec<(String, String)> {
    let mut text = String::new();
    if fs::File::open("/proc/self/mounts")
        .and_then(|mut f| f.read_to_string(&mut text))
        .is_err()
    {
        return Vec::new();
    }
    text.lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((
                unescape_mount_field(it.next()?),
                unescape_mount_field(it.next()?),
            ))
        })
        .collect()
}

/// Returns a description ("/dev/x mounted on /mnt") if `path` is mounted:
/// by path, by device number for block devices, or through a loop device for
/// regular files.
pub fn mounted(path: &Path) -> Option<String> {
    let canon = fs::canonicalize(path).ok()?;
    let meta = fs::metadata(&canon).ok()?;
    let rdev = meta.file_type().is_block_device().then(|| meta.rdev());
    let mounts = read_mounts();
    let is_dev = |source: &str, canon: &Path, rdev: Option<u64>| -> bool {
        if !source.starts_with('/') {
            return false;
        }
        if fs::canonicalize(source).ok().as_deref() == Some(canon) {
            return true;
        }
        match (rdev, fs::metadata(source)) {
            (Some(r), Ok(m)) => m.file_type().is_block_device() && m.rdev() == r,
            _ => false,
        }
    };
    for (source, target) in &mounts {
        if is_dev(source, &canon, rdev) {
            return Some(format!("{source} is mounted on {target}"));
        }
    }
    if meta.file_type().is_file() {
        // An image file may be mounted through a loop device.
        for entry in fs::read_dir("/sys/block").ok()?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !name.starts_with("loop") {
                continue;
            }
            let Ok(backing) = fs::read_to_string(entry.path().join("loop/backing_file")) else {
                continue;
            };
            if Path::new(backing.trim_end()) != canon {
                continue;
            }
            let loopdev = PathBuf::from(format!("/dev/{name}"));
            let loop_rdev = fs::metadata(&loopdev).ok().map(|m| m.rdev());
            for (source, target) in &mounts {
                if is_dev(source, &loopdev, loop_rdev) {
                    return Some(format!(
                        "{} is attached to {} which is mounted on {target}",
                        canon.display(),
                        loopdev.display()
                    ));
                }
            }
        }
    }
    None
}

/// A random version-4 UUID from `/dev/urandom` (falls back to mixing the
/// time and process id if that cannot be read).
pub fn random_uuid() -> [u8; 16] {
    let mut u = [0u8; 16];
    let ok = fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut u))
        .is_ok();
    if !ok {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut x = (t as u64) ^ (u64::from(std::process::id()) << 32) ^ 0x9E37_79B9_7F4A_7C15;
        for b in u.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    u[6] = (u[6] & 0x0f) | 0x40;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// Writes a new, empty filesystem with geometry `g` to `dev`: zeroed
/// superblock first, then the journal (zero-filled; with `journal`, its
/// superblock: empty, sequence 1), bitmaps, inode table and root
/// directory, a sync, and the superblock last (then another sync).
/// Without `journal` the filesystem is format 1.0.
pub fn write_filesystem(
    dev: &BlockDev,
    g: &Geometry,
    uuid: [u8; 16],
    label: &[u8],
    journal: bool,
) -> Result<Superblock> {
    g.validate().map_err(|e| Error::format("geometry", e))?;
    if g.total_blocks > dev.blocks() {
        return Err(Error::msg("filesystem larger than the device"));
    }
    let now = now_secs();
    let mut sb = Superblock::new(*g, now, uuid);
    sb.set_journal(journal);
    sb.set_label(label).map_err(|_| {
        Error::msg(format!(
            "label too long or contains NUL (at most {LABEL_LEN} bytes)"
        ))
    })?;
    sb.validate(dev.blocks())
        .map_err(|e| Error::format("superblock", e))?;

    // Whatever was there is no longer recognisable while we work.
    dev.write_block(SUPERBLOCK_BLOCK, &zero_block())?;
    dev.write_zeroes(g.journal_start, g.journal_blocks)?;
    if journal {
        crate::journal::write_empty(dev, g, 1)?;
    }

    let mut bb = vec![0u8; (g.block_bitmap_blocks as usize) * BLOCK_SIZE];
    g.mark_fixed_blocks(&mut bb);
    dev.write_blocks(g.block_bitmap_start, &bb)?;

    let mut ib = vec![0u8; (g.inode_bitmap_blocks as usize) * BLOCK_SIZE];
    g.mark_fixed_inodes(&mut ib);
    bitmap_set(&mut ib, ROOT_INO, true).map_err(|e| Error::format("inode bitmap", e))?;
    dev.write_blocks(g.inode_bitmap_start, &ib)?;

    dev.write_zeroes(g.inode_table_start, g.inode_table_blocks)?;
    let mut root = Inode::new(S_IFDIR | 0o755);
    root.nlink = 2;
    root.dir_parent = ROOT_INO;
    let t = now_timespec();
    (root.atime, root.mtime, root.ctime, root.crtime) = (t, t, t, t);
    let (blk, off) = g
        .inode_location(ROOT_INO)
        .map_err(|e| Error::format("root inode", e))?;
    let mut table = zero_block();
    let mut raw = [0u8; INODE_SIZE];
    root.encode(ROOT_INO, &mut raw);
    table[off..off + INODE_SIZE].copy_from_slice(&raw);
    dev.write_block(blk, &table)?;
    dev.sync()?;

    let mut buf = zero_block();
    sb.encode(&mut buf);
    dev.write_block(SUPERBLOCK_BLOCK, &buf)?;
    dev.sync()?;
    Ok(sb)
}

/// Makes a filesystem on `path` (a block device or a regular file) after the
/// safety checks: not mounted, large enough, no existing filesystem unless
/// `opts.force`. A missing regular file is created if `opts.blocks` is given.
pub fn mkfs(path: &Path, opts: &MkfsOptions) -> Result<Superblock> {
    let p = path.display();
    if opts.label.len() > LABEL_LEN || opts.label.contains(&0) {
        return Err(Error::msg(format!(
            "label too long or contains NUL (at most {LABEL_LEN} bytes)"
        )));
    }
    let exists = fs::symlink_metadata(path).is_ok();
    if !exists {
        let Some(blocks) = opts.blocks else {
            return Err(Error::msg(format!(
                "{p} does not exist (give a size in blocks to create an image file)"
            )));
        };
        plan(blocks, opts).map_err(|e| Error::msg(format!("{p}: {e}")))?;
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(path)
            .and_then(|f| f.set_len(blocks * BLOCK_SIZE_U64))
            .map_err(|e| Error::io(format!("cannot create {p}"), e))?;
    }
    if let Some(m) = mounted(path) {
        return Err(Error::msg(format!(
            "{p} is in use: {m}; will not make a filesystem here"
        )));
    }
    let mut dev = BlockDev::open(path, true).map_err(|e| match e {
        Error::Io(_, ref io) if io.raw_os_error() == Some(16) => Error::msg(format!(
            "{p} is busy (mounted or in use); will not make a filesystem here"
        )),
        e => e,
    })?;
    let total = match opts.blocks {
        Some(b) if b > dev.blocks() => {
            if dev.is_block_device() {
                return Err(Error::msg(format!(
                    "{p}: {b} blocks requested but the device has only {}",
                    dev.blocks()
                )));
            }
            dev.set_len(b * BLOCK_SIZE_U64)?;
            b
        }
        Some(b) => b,
        None => dev.blocks(),
    };
    let g = plan(total, opts).map_err(|e| Error::msg(format!("{p}: {e}")))?;
    if !opts.force {
        if let Some(fs) = detect_filesystem(&dev)? {
            let what = if fs == "swap" {
                "a swap area".to_string()
            } else {
                format!("an existing {fs} filesystem")
            };
            return Err(Error::msg(format!(
                "{p} contains {what}; use -f to overwrite it"
            )));
        }
    }
    let uuid = opts.uuid.unwrap_or_else(random_uuid);
    write_filesystem(&dev, &g, uuid, &opts.label, !opts.no_journal)
}
