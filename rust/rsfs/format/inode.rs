// SPDX-License-Identifier: GPL-2.0

//! Inodes: 256 bytes each, 16 to a block of the inode table.

use super::le::{
    get_bytes, get_i64, get_u16, get_u32, get_u64, put_bytes, put_i64, put_u16, put_u32, put_u64,
};
use super::{
    check_extent_order, Block, Crc32c, Extent, FormatError, Geometry, BLOCK_SIZE_U64, EXTENT_SIZE,
    MAX_FILE_BLOCKS,
};

/// Size of an on-disk inode.
pub const INODE_SIZE: usize = 256;
/// Inodes per inode table block.
pub const INODES_PER_BLOCK: u64 = 16;
/// Size of the inline area (extents or a fast symlink target).
pub const INLINE_SIZE: usize = 128;
/// Extents that fit in the inline area.
pub const INLINE_EXTENTS: usize = INLINE_SIZE / EXTENT_SIZE;
/// Longest symlink target stored in the inode itself.
pub const FAST_SYMLINK_MAX: usize = INLINE_SIZE - 1;
/// Longest symlink target (one block, minus a terminating NUL for the VFS).
pub const SYMLINK_MAX: usize = super::BLOCK_SIZE - 1;
/// Largest file size: every addressable file block.
pub const MAX_FILE_SIZE: u64 = MAX_FILE_BLOCKS * BLOCK_SIZE_U64;

/// Most links an inode may have (a directory: its subdirectories + 2), as
/// ext4. The kernel refuses `link` and `mkdir` past it (`EMLINK`).
pub const MAX_LINKS: u32 = 65000;

/// Inode flag: the inline area holds a fast symlink target, not extents.
pub const INODE_FLAG_INLINE_DATA: u16 = 1 << 0;
/// All inode flags this code knows.
pub const INODE_FLAGS_KNOWN: u16 = INODE_FLAG_INLINE_DATA;

/// File type mask of `mode`.
pub const S_IFMT: u16 = 0o170000;
/// Socket.
pub const S_IFSOCK: u16 = 0o140000;
/// Symbolic link.
pub const S_IFLNK: u16 = 0o120000;
/// Regular file.
pub const S_IFREG: u16 = 0o100000;
/// Block device.
pub const S_IFBLK: u16 = 0o060000;
/// Directory.
pub const S_IFDIR: u16 = 0o040000;
/// Character device.
pub const S_IFCHR: u16 = 0o020000;
/// FIFO.
pub const S_IFIFO: u16 = 0o010000;
/// Permission bits of `mode` (including setuid, setgid, sticky).
pub const S_IALLUGO: u16 = 0o7777;

/// Directory entry file type: unknown (never valid on disk).
pub const DT_UNKNOWN: u8 = 0;
/// Directory entry file type: FIFO.
pub const DT_FIFO: u8 = 1;
/// Directory entry file type: character device.
pub const DT_CHR: u8 = 2;
/// Directory entry file type: directory.
pub const DT_DIR: u8 = 4;
/// Directory entry file type: block device.
pub const DT_BLK: u8 = 6;
/// Directory entry file type: regular file.
pub const DT_REG: u8 = 8;
/// Directory entry file type: symbolic link.
pub const DT_LNK: u8 = 10;
/// Directory entry file type: socket.
pub const DT_SOCK: u8 = 12;

/// The seven kinds of inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    /// FIFO (named pipe).
    Fifo,
    /// Character device.
    CharDev,
    /// Directory.
    Dir,
    /// Block device.
    BlockDev,
    /// Regular file.
    Regular,
    /// Symbolic link.
    Symlink,
    /// Socket.
    Socket,
}

impl FileKind {
    /// The kind encoded in `mode`'s `S_IFMT` bits, if valid.
    pub const fn from_mode(mode: u16) -> Option<FileKind> {
        match mode & S_IFMT {
            S_IFIFO => Some(FileKind::Fifo),
            S_IFCHR => Some(FileKind::CharDev),
            S_IFDIR => Some(FileKind::Dir),
            S_IFBLK => Some(FileKind::BlockDev),
            S_IFREG => Some(FileKind::Regular),
            S_IFLNK => Some(FileKind::Symlink),
            S_IFSOCK => Some(FileKind::Socket),
            _ => None,
        }
    }

    /// The kind named by a directory entry's `DT_*` file type, if valid.
    pub const fn from_dt(dt: u8) -> Option<FileKind> {
        match dt {
            DT_FIFO => Some(FileKind::Fifo),
            DT_CHR => Some(FileKind::CharDev),
            DT_DIR => Some(FileKind::Dir),
            DT_BLK => Some(FileKind::BlockDev),
            DT_REG => Some(FileKind::Regular),
            DT_LNK => Some(FileKind::Symlink),
            DT_SOCK => Some(FileKind::Socket),
            _ => None,
        }
    }

    /// The `S_IF*` bits for this kind.
    pub const fn ifmt(self) -> u16 {
        match self {
            FileKind::Fifo => S_IFIFO,
            FileKind::CharDev => S_IFCHR,
            FileKind::Dir => S_IFDIR,
            FileKind::BlockDev => S_IFBLK,
            FileKind::Regular => S_IFREG,
            FileKind::Symlink => S_IFLNK,
            FileKind::Socket => S_IFSOCK,
        }
    }

    /// The `DT_*` directory entry type for this kind.
    pub const fn dt(self) -> u8 {
        match self {
            FileKind::Fifo => DT_FIFO,
            FileKind::CharDev => DT_CHR,
            FileKind::Dir => DT_DIR,
            FileKind::BlockDev => DT_BLK,
            FileKind::Regular => DT_REG,
            FileKind::Symlink => DT_LNK,
            FileKind::Socket => DT_SOCK,
        }
    }
}

/// The `DT_*` type for `mode`, if its file type is valid.
pub const fn mode_to_dt(mode: u16) -> Option<u8> {
    match FileKind::from_mode(mode) {
        Some(k) => Some(k.dt()),
        None => None,
    }
}

/// Returns whether `mode` is a directory.
pub const fn is_dir(mode: u16) -> bool {
    mode & S_IFMT == S_IFDIR
}

/// Returns whether `mode` is a regular file.
pub const fn is_reg(mode: u16) -> bool {
    mode & S_IFMT == S_IFREG
}

/// Returns whether `mode` is a symbolic link.
pub const fn is_symlink(mode: u16) -> bool {
    mode & S_IFMT == S_IFLNK
}

/// Inode field offsets.
pub mod ino_off {
    /// `mode: u16` (0: free slot)
    pub const MODE: usize = 0;
    /// `flags: u16`
    pub const FLAGS: usize = 2;
    /// `uid: u32`
    pub const UID: usize = 4;
    /// `gid: u32`
    pub const GID: usize = 8;
    /// `nlink: u32`
    pub const NLINK: usize = 12;
    /// `size: u64`
    pub const SIZE: usize = 16;
    /// `blocks: u64`, 4 KiB blocks owned
    pub const BLOCKS: usize = 24;
    /// `atime_sec: i64`
    pub const ATIME: usize = 32;
    /// `mtime_sec: i64`
    pub const MTIME: usize = 40;
    /// `ctime_sec: i64`
    pub const CTIME: usize = 48;
    /// `crtime_sec: i64`
    pub const CRTIME: usize = 56;
    /// `atime_nsec: u32`
    pub const ATIME_NSEC: usize = 64;
    /// `mtime_nsec: u32`
    pub const MTIME_NSEC: usize = 68;
    /// `ctime_nsec: u32`
    pub const CTIME_NSEC: usize = 72;
    /// `crtime_nsec: u32`
    pub const CRTIME_NSEC: usize = 76;
    /// `generation: u32`
    pub const GENERATION: usize = 80;
    /// `extent_count: u32`
    pub const EXTENT_COUNT: usize = 84;
    /// `extent_overflow: u64`
    pub const EXTENT_OVERFLOW: usize = 88;
    /// `inline: [u8; 128]`
    pub const INLINE: usize = 96;
    /// `dir_parent: u64`
    pub const DIR_PARENT: usize = 224;
    /// Reserved bytes 232..252 (zero).
    pub const RESERVED: usize = 232;
    /// `checksum: u32`
    pub const CHECKSUM: usize = 252;
}

/// A timestamp: seconds since the epoch and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timespec {
    /// Seconds since the epoch (may be negative).
    pub sec: i64,
    /// Nanoseconds, below 1e9.
    pub nsec: u32,
}

/// A decoded inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inode {
    /// File type and permissions as in Linux; 0 for a free slot.
    pub mode: u16,
    /// `INODE_FLAG_*` bits.
    pub flags: u16,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Hard links (directories: 2 + subdirectories).
    pub nlink: u32,
    /// Size in bytes.
    pub size: u64,
    /// 4 KiB blocks owned: data, extent overflow and symlink blocks.
    pub blocks: u64,
    /// Last access.
    pub atime: Timespec,
    /// Last data change.
    pub mtime: Timespec,
    /// Last inode change.
    pub ctime: Timespec,
    /// Creation.
    pub crtime: Timespec,
    /// Generation number (for NFS file handles).
    pub generation: u32,
    /// Extents in total: inline ones plus those in the overflow chain.
    pub extent_count: u32,
    /// First extent overflow block, 0 if none.
    pub extent_overflow: u64,
    /// Up to [`INLINE_EXTENTS`] extents, a fast symlink target, or a device
    /// number (first four bytes, Linux `new_encode_dev` format).
    pub inline: [u8; INLINE_SIZE],
    /// Directories: the parent directory's inode (the root's is itself).
    /// Other kinds: 0.
    pub dir_parent: u64,
}

/// Computes an inode's checksum: CRC-32C of `ino` as 8 little-endian bytes
/// followed by bytes `0..252` of the raw inode.
pub fn inode_checksum(ino: u64, raw: &[u8; INODE_SIZE]) -> u32 {
    let covered = raw.get(..ino_off::CHECKSUM).unwrap_or(&[]);
    Crc32c::new()
        .update(&ino.to_le_bytes())
        .update(covered)
        .finish()
}

/// The mode of a raw inode, without checking anything: 0 means a free slot.
pub fn raw_inode_mode(raw: &[u8; INODE_SIZE]) -> u16 {
    get_u16(raw, ino_off::MODE)
}

/// The raw inode at `index` (0..16) of an inode table block.
pub fn inode_slot(block: &Block, index: usize) -> Option<&[u8; INODE_SIZE]> {
    let start = index.checked_mul(INODE_SIZE)?;
    let end = start.checked_add(INODE_SIZE)?;
    block.get(start..end)?.try_into().ok()
}

/// The raw inode at `index` (0..16) of an inode table block, mutable.
pub fn inode_slot_mut(block: &mut Block, index: usize) -> Option<&mut [u8; INODE_SIZE]> {
    let start = index.checked_mul(INODE_SIZE)?;
    let end = start.checked_add(INODE_SIZE)?;
    block.get_mut(start..end)?.try_into().ok()
}

fn get_time(raw: &[u8], sec: usize, nsec: usize) -> Timespec {
    Timespec {
        sec: get_i64(raw, sec),
        nsec: get_u32(raw, nsec),
    }
}

fn put_time(raw: &mut [u8], sec: usize, nsec: usize, t: Timespec) {
    put_i64(raw, sec, t.sec);
    put_u32(raw, nsec, t.nsec);
}

impl Inode {
    /// An in-use inode of the given mode with everything else zero.
    pub const fn new(mode: u16) -> Inode {
        let zero = Timespec { sec: 0, nsec: 0 };
        Inode {
            mode,
            flags: 0,
            uid: 0,
            gid: 0,
            nlink: 0,
            size: 0,
            blocks: 0,
            atime: zero,
            mtime: zero,
            ctime: zero,
            crtime: zero,
            generation: 0,
            extent_count: 0,
            extent_overflow: 0,
            inline: [0; INLINE_SIZE],
            dir_parent: 0,
        }
    }

    /// Decodes inode number `ino` from its raw bytes, checking the checksum.
    /// A free inode (mode 0) decodes fine if its checksum is valid; in
    /// general free slots may hold anything, see [`raw_inode_mode`].
    /// Structural checks are in [`Inode::check`].
    pub fn decode(ino: u64, raw: &[u8; INODE_SIZE]) -> Result<Inode, FormatError> {
        use ino_off as o;
        if get_u32(raw, o::CHECKSUM) != inode_checksum(ino, raw) {
            return Err(FormatError::BadChecksum);
        }
        let mut inline = [0u8; INLINE_SIZE];
        get_bytes(raw, o::INLINE, &mut inline);
        Ok(Inode {
            mode: get_u16(raw, o::MODE),
            flags: get_u16(raw, o::FLAGS),
            uid: get_u32(raw, o::UID),
            gid: get_u32(raw, o::GID),
            nlink: get_u32(raw, o::NLINK),
            size: get_u64(raw, o::SIZE),
            blocks: get_u64(raw, o::BLOCKS),
            atime: get_time(raw, o::ATIME, o::ATIME_NSEC),
            mtime: get_time(raw, o::MTIME, o::MTIME_NSEC),
            ctime: get_time(raw, o::CTIME, o::CTIME_NSEC),
            crtime: get_time(raw, o::CRTIME, o::CRTIME_NSEC),
            generation: get_u32(raw, o::GENERATION),
            extent_count: get_u32(raw, o::EXTENT_COUNT),
            extent_overflow: get_u64(raw, o::EXTENT_OVERFLOW),
            inline,
            dir_parent: get_u64(raw, o::DIR_PARENT),
        })
    }

    /// Encodes inode number `ino` (the number seeds the checksum), reserved
    /// bytes zero.
    pub fn encode(&self, ino: u64, out: &mut [u8; INODE_SIZE]) {
        use ino_off as o;
        for b in out.iter_mut() {
            *b = 0;
        }
        put_u16(out, o::MODE, self.mode);
        put_u16(out, o::FLAGS, self.flags);
        put_u32(out, o::UID, self.uid);
        put_u32(out, o::GID, self.gid);
        put_u32(out, o::NLINK, self.nlink);
        put_u64(out, o::SIZE, self.size);
        put_u64(out, o::BLOCKS, self.blocks);
        put_time(out, o::ATIME, o::ATIME_NSEC, self.atime);
        put_time(out, o::MTIME, o::MTIME_NSEC, self.mtime);
        put_time(out, o::CTIME, o::CTIME_NSEC, self.ctime);
        put_time(out, o::CRTIME, o::CRTIME_NSEC, self.crtime);
        put_u32(out, o::GENERATION, self.generation);
        put_u32(out, o::EXTENT_COUNT, self.extent_count);
        put_u64(out, o::EXTENT_OVERFLOW, self.extent_overflow);
        put_bytes(out, o::INLINE, &self.inline);
        put_u64(out, o::DIR_PARENT, self.dir_parent);
        let sum = inode_checksum(ino, out);
        put_u32(out, o::CHECKSUM, sum);
    }

    /// Returns whether this is a free slot (mode 0).
    pub const fn is_free(&self) -> bool {
        self.mode == 0
    }

    /// The inode's kind, if its mode is valid.
    pub const fn kind(&self) -> Option<FileKind> {
        FileKind::from_mode(self.mode)
    }

    /// Returns whether the inline area holds a fast symlink target.
    pub const fn has_inline_data(&self) -> bool {
        self.flags & INODE_FLAG_INLINE_DATA != 0
    }

    /// Number of extents stored inline (the first ones in logical order).
    pub fn inline_extent_count(&self) -> usize {
        if self.has_inline_data() {
            return 0;
        }
        let n = usize::try_from(self.extent_count).unwrap_or(usize::MAX);
        if n < INLINE_EXTENTS {
            n
        } else {
            INLINE_EXTENTS
        }
    }

    /// Number of extents stored in the overflow chain.
    pub fn overflow_extent_count(&self) -> u64 {
        if self.has_inline_data() {
            return 0;
        }
        u64::from(self.extent_count).saturating_sub(INLINE_EXTENTS as u64)
    }

    /// Inline extent slot `i` (0..8), whether or not it is in use.
    pub fn inline_extent(&self, i: usize) -> Option<Extent> {
        if i >= INLINE_EXTENTS {
            return None;
        }
        Some(Extent::decode_at(&self.inline, i.checked_mul(EXTENT_SIZE)?))
    }

    /// Stores inline extent slot `i` (0..8). Does not change `extent_count`.
    pub fn set_inline_extent(&mut self, i: usize, extent: &Extent) -> Result<(), FormatError> {
        if i >= INLINE_EXTENTS {
            return Err(FormatError::OutOfRange);
        }
        let off = i.checked_mul(EXTENT_SIZE).ok_or(FormatError::OutOfRange)?;
        extent.encode_at(&mut self.inline, off);
        Ok(())
    }

    /// The fast symlink target, if this inode holds one inline.
    pub fn fast_symlink_target(&self) -> Option<&[u8]> {
        if !self.has_inline_data() {
            return None;
        }
        let len = usize::try_from(self.size).ok()?;
        if len > FAST_SYMLINK_MAX {
            return None;
        }
        self.inline.get(..len)
    }

    /// Makes this inode a fast symlink to `target` (1..=127 bytes, no NUL):
    /// sets the flag, size, inline area, and clears the extent fields.
    pub fn set_fast_symlink(&mut self, target: &[u8]) -> Result<(), FormatError> {
        if target.is_empty() || target.len() > FAST_SYMLINK_MAX || target.contains(&0) {
            return Err(FormatError::BadSymlink);
        }
        self.inline = [0; INLINE_SIZE];
        put_bytes(&mut self.inline, 0, target);
        self.flags |= INODE_FLAG_INLINE_DATA;
        self.size = target.len() as u64;
        self.extent_count = 0;
        self.extent_overflow = 0;
        self.blocks = 0;
        Ok(())
    }

    /// Device number of a character or block device inode (Linux
    /// `new_encode_dev` encoding, first four bytes of the inline area).
    pub fn rdev(&self) -> u32 {
        get_u32(&self.inline, 0)
    }

    /// Sets the device number (see [`Inode::rdev`]).
    pub fn set_rdev(&mut self, rdev: u32) {
        put_u32(&mut self.inline, 0, rdev);
    }

    /// Number of file blocks the size covers: `ceil(size / 4096)`.
    pub fn size_in_blocks(&self) -> u64 {
        self.size.div_ceil(BLOCK_SIZE_U64)
    }

    /// Checks everything that can be checked from the inode alone (plus the
    /// geometry for its inline extents and overflow pointer): a valid file
    /// type, known flags, timestamps, `dir_parent` presence, size and extent
    /// fields consistent with the type, inline extents valid and in order.
    ///
    /// Not checked here (they need other blocks): the overflow chain, the
    /// `blocks` count, link counts, and that no block is mapped beyond the
    /// size.
    pub fn check(&self, geometry: &Geometry) -> Result<(), FormatError> {
        let kind = self.kind().ok_or(FormatError::BadMode)?;
        if self.flags & !INODE_FLAGS_KNOWN != 0 {
            return Err(FormatError::BadFlags);
        }
        if self.has_inline_data() && kind != FileKind::Symlink {
            return Err(FormatError::BadFlags);
        }
        for t in [self.atime, self.mtime, self.ctime, self.crtime] {
            if t.nsec >= 1_000_000_000 {
                return Err(FormatError::BadTimestamp);
            }
        }
        if kind == FileKind::Dir {
            if !geometry.is_valid_ino(self.dir_parent) {
                return Err(FormatError::BadParent);
            }
        } else if self.dir_parent != 0 {
            return Err(FormatError::BadParent);
        }
        if self.has_inline_data() {
            if self.extent_count != 0 || self.extent_overflow != 0 {
                return Err(FormatError::BadExtentCount);
            }
        } else if (self.extent_overflow != 0) != (self.extent_count as usize > INLINE_EXTENTS) {
            return Err(FormatError::BadExtentCount);
        }
        if self.extent_overflow != 0 && !geometry.is_data_range(self.extent_overflow, 1) {
            return Err(FormatError::BadExtent);
        }
        match kind {
            FileKind::Regular => {
                if self.size > MAX_FILE_SIZE {
                    return Err(FormatError::BadSize);
                }
            }
            FileKind::Dir => {
                if self.size > MAX_FILE_SIZE || self.size & (BLOCK_SIZE_U64 - 1) != 0 {
                    return Err(FormatError::BadSize);
                }
            }
            FileKind::Symlink => {
                if self.size == 0 || self.size > SYMLINK_MAX as u64 {
                    return Err(FormatError::BadSymlink);
                }
                if self.size <= FAST_SYMLINK_MAX as u64 {
                    // Short targets are always stored inline.
                    match self.fast_symlink_target() {
                        Some(t) if !t.contains(&0) => {}
                        _ => return Err(FormatError::BadSymlink),
                    }
                } else if self.has_inline_data() || self.extent_count != 1 {
                    return Err(FormatError::BadSymlink);
                }
            }
            FileKind::Fifo | FileKind::CharDev | FileKind::BlockDev | FileKind::Socket => {
                if self.size != 0 {
                    return Err(FormatError::BadSize);
                }
                if self.extent_count != 0 {
                    return Err(FormatError::BadExtentCount);
                }
            }
        }
        let mut prev: Option<Extent> = None;
        for i in 0..self.inline_extent_count() {
            let e = self.inline_extent(i).ok_or(FormatError::BadExtent)?;
            e.check(geometry)?;
            if kind == FileKind::Symlink && (e.logical != 0 || e.len != 1 || e.unwritten) {
                return Err(FormatError::BadSymlink);
            }
            check_extent_order(prev.as_ref(), &e)?;
            prev = Some(e);
        }
        Ok(())
    }
}
