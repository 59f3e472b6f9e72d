// SPDX-License-Identifier: GPL-2.0

//! Unit tests of the shared format code (rust/rsfs/format), through the
//! rsfs-format crate: checksums, encode/decode round trips, validation
//! errors, directory block editing, bitmaps, and decoding garbage without
//! panicking.

use rsfs_format::*;

/// xorshift64* pseudo-random numbers (deterministic per seed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf.iter_mut() {
            *b = self.next() as u8;
        }
    }
    /// Overwrites a few random bytes, sometimes with "interesting" values.
    fn mutate(&mut self, buf: &mut [u8], edits: u64) {
        let len = buf.len() as u64;
        for _ in 0..edits {
            let i = self.below(len) as usize;
            buf[i] = match self.below(4) {
                0 => 0,
                1 => 0xff,
                2 => 1 << self.below(8),
                _ => self.next() as u8,
            };
        }
    }
}

fn block() -> Box<Block> {
    Box::new([0u8; BLOCK_SIZE])
}

fn geometry() -> Geometry {
    Geometry::compute(16384, 4096, 64).unwrap()
}

// ---- crc32c ---------------------------------------------------------------

#[test]
fn crc32c_check_value() {
    assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    assert_eq!(crc32c(b""), 0);
    // Known vector: 32 zero bytes (RFC 3720 B.4).
    assert_eq!(crc32c(&[0u8; 32]), 0x8A91_36AA);
    assert_eq!(crc32c(&[0xffu8; 32]), 0x62A8_AB43);
    let inc = Crc32c::new()
        .update(b"1234")
        .update(b"")
        .update(b"56789")
        .finish();
    assert_eq!(inc, 0xE306_9283);
}

// ---- superblock and geometry ----------------------------------------------

fn sample_sb() -> Superblock {
    let mut sb = Superblock::new(geometry(), 1_700_000_000, [7; 16]);
    sb.set_label(b"test volume").unwrap();
    sb.mount_time = 1_700_000_100;
    sb.mount_count = 3;
    sb.free_blocks -= 5;
    sb
}

#[test]
fn geometry_compute() {
    let g = geometry();
    assert_eq!(g.journal_start, 1);
    assert_eq!(g.block_bitmap_start, 65);
    assert_eq!(g.block_bitmap_blocks, 1);
    assert_eq!(g.inode_bitmap_start, 66);
    assert_eq!(g.inode_bitmap_blocks, 1);
    assert_eq!(g.inode_table_start, 67);
    assert_eq!(g.inode_table_blocks, 256);
    assert_eq!(g.data_start, 323);
    assert_eq!(g.data_blocks(), 16384 - 323);
    g.validate().unwrap();

    // Inode counts are rounded up to whole inode table blocks.
    let g = Geometry::compute(1000, 20, 0).unwrap();
    assert_eq!(g.inode_count, 32);
    assert_eq!(g.inode_table_blocks, 2);
    assert_eq!(g.journal_blocks, 0);
    assert_eq!(g.block_bitmap_start, 1);

    // Bitmaps grow with the counts.
    let g = Geometry::compute(BITS_PER_BLOCK * 3 + 1, BITS_PER_BLOCK + 16, 10).unwrap();
    assert_eq!(g.block_bitmap_blocks, 4);
    assert_eq!(g.inode_bitmap_blocks, 2);

    assert_eq!(
        Geometry::compute(10, 16, 64),
        Err(FormatError::NoDataBlocks)
    );
    assert_eq!(
        Geometry::compute(1000, 1, 0),
        Err(FormatError::BadInodeCount)
    );
    assert_eq!(
        Geometry::compute(1 << 40, u32::MAX as u64, 0),
        Err(FormatError::BadInodeCount)
    );
    assert_eq!(
        Geometry::compute(MAX_TOTAL_BLOCKS + 1, 64, 0),
        Err(FormatError::TooManyBlocks)
    );
    assert_eq!(
        Geometry::compute(1000, 64, u64::MAX),
        Err(FormatError::NoDataBlocks)
    );
    let g = Geometry::compute(1 << 40, MAX_INODES - 15, 8192).unwrap();
    assert_eq!(g.inode_count, MAX_INODES - 15);
}

#[test]
fn journal_homes() {
    // Journal at 1..65, block bitmap at 65, data up to 16383.
    let g = geometry();
    assert!(g.is_journal_home(0), "the superblock is logged");
    for b in 1..65 {
        assert!(!g.is_journal_home(b), "journal block {b}");
    }
    assert!(g.is_journal_home(65) && g.is_journal_home(67) && g.is_journal_home(323));
    assert!(g.is_journal_home(16383));
    assert!(!g.is_journal_home(16384) && !g.is_journal_home(u64::MAX));
    let mut bad = g;
    bad.journal_blocks = u64::MAX;
    assert!(bad.is_journal_home(0) && !bad.is_journal_home(100));
}

#[test]
fn geometry_locations() {
    let g = geometry();
    assert_eq!(g.inode_location(1), Ok((67, 256)));
    assert_eq!(g.inode_location(16), Ok((68, 0)));
    assert_eq!(g.inode_location(4095), Ok((67 + 255, 15 * 256)));
    assert_eq!(g.inode_location(0), Err(FormatError::BadInodeNumber));
    assert_eq!(g.inode_location(4096), Err(FormatError::BadInodeNumber));
    assert_eq!(g.block_bitmap_location(32769), Err(FormatError::OutOfRange));
    assert_eq!(g.block_bitmap_location(100), Ok((65, 100)));
    assert_eq!(g.inode_bitmap_location(4095), Ok((66, 4095)));
    assert!(g.is_data_range(323, 1));
    assert!(!g.is_data_range(322, 1));
    assert!(!g.is_data_range(16383, 2));
    assert!(!g.is_data_range(400, 0));
    assert!(!g.is_data_range(u64::MAX, 2));
}

#[test]
fn superblock_roundtrip() {
    let sb = sample_sb();
    let mut buf = block();
    sb.encode(&mut buf);
    assert_eq!(&buf[0..4], b"RSFS");
    assert!(buf[224..4092].iter().all(|b| *b == 0));
    assert_eq!(
        u32::from_le_bytes(buf[4092..].try_into().unwrap()),
        crc32c(&buf[..4092])
    );
    let back = Superblock::decode_and_validate(&buf, 16384).unwrap();
    assert_eq!(back, sb);
    assert_eq!(back.label_bytes(), b"test volume");
    assert!(back.is_clean());
    assert!(!back.has_unknown_ro_compat());
    // New filesystems are journalled: format 1.1.
    assert!(back.has_journal());
    assert_eq!((back.version_minor, back.feature_incompat), (1, FEATURE_INCOMPAT_JOURNAL));
    assert_eq!(u32::from_le_bytes(buf[16..20].try_into().unwrap()), 1);
    let mut old = sb;
    old.set_journal(false);
    assert!(!old.has_journal());
    assert_eq!((old.version_minor, old.feature_incompat), (0, 0));
    old.set_journal(true);
    assert_eq!(old, sb);
    let mut later = sb;
    later.version_minor = 7;
    later.set_journal(true);
    assert_eq!(later.version_minor, 7, "a later minor version is kept");

    // A full 32-byte label has no terminator.
    let mut sb2 = sb;
    sb2.set_label(&[b'x'; 32]).unwrap();
    assert_eq!(sb2.label_bytes(), &[b'x'; 32][..]);
    assert!(sb2.set_label(&[b'x'; 33]).is_err());
    assert!(sb2.set_label(b"a\0b").is_err());
}

/// Encodes `sb` after `f` changed it, with a valid checksum.
fn sb_with(f: impl FnOnce(&mut Superblock)) -> Box<Block> {
    let mut sb = sample_sb();
    f(&mut sb);
    let mut buf = block();
    sb.encode(&mut buf);
    buf
}

#[test]
fn superblock_validation_errors() {
    let check = |buf: &Block| Superblock::decode_and_validate(buf, 16384).err();
    let mut buf = sb_with(|_| {});
    assert_eq!(check(&buf), None);
    buf[0] ^= 1;
    assert_eq!(check(&buf), Some(FormatError::BadMagic));
    let mut buf = sb_with(|_| {});
    buf[100] ^= 1;
    assert_eq!(check(&buf), Some(FormatError::BadChecksum));
    let mut buf = sb_with(|_| {});
    buf[4095] ^= 1;
    assert_eq!(check(&buf), Some(FormatError::BadChecksum));
    assert_eq!(
        check(&sb_with(|s| s.version_major = 2)),
        Some(FormatError::UnsupportedVersion)
    );
    assert_eq!(check(&sb_with(|s| s.version_minor = 9)), None);
    assert_eq!(
        check(&sb_with(|s| s.block_size = 1024)),
        Some(FormatError::BadBlockSize)
    );
    assert_eq!(
        check(&sb_with(|s| s.feature_incompat |= 2)),
        Some(FormatError::IncompatFeatures)
    );
    assert_eq!(
        check(&sb_with(|s| s.feature_incompat = 1 << 31)),
        Some(FormatError::IncompatFeatures)
    );
    // The journal: known, and only with a region that can hold one.
    assert_eq!(check(&sb_with(|s| s.set_journal(false))), None);
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.journal_blocks = MIN_JOURNAL_BLOCKS - 1;
            s.geometry.block_bitmap_start = 1 + MIN_JOURNAL_BLOCKS - 1;
            s.geometry.inode_bitmap_start = s.geometry.block_bitmap_start + 1;
            s.geometry.inode_table_start = s.geometry.inode_bitmap_start + 1;
            s.geometry.data_start = s.geometry.inode_table_start + s.geometry.inode_table_blocks;
            s.free_blocks = 0;
        })),
        Some(FormatError::JournalTooSmall)
    );
    assert_eq!(
        check(&sb_with(|s| {
            s.set_journal(false);
            s.geometry.journal_blocks = 0;
            s.geometry.block_bitmap_start = 1;
            s.geometry.inode_bitmap_start = 2;
            s.geometry.inode_table_start = 3;
            s.geometry.data_start = 3 + s.geometry.inode_table_blocks;
            s.free_blocks = 0;
        })),
        None,
        "a 1.0 filesystem may have no journal region at all"
    );
    assert_eq!(check(&sb_with(|s| s.feature_compat = 1)), None);
    let ro = sb_with(|s| s.feature_ro_compat = 4);
    assert_eq!(check(&ro), None);
    assert!(Superblock::decode(&ro).unwrap().has_unknown_ro_compat());
    assert_eq!(
        check(&sb_with(|s| s.geometry.journal_start = 2)),
        Some(FormatError::BadLayout)
    );
    assert_eq!(
        check(&sb_with(|s| s.geometry.data_start += 1)),
        Some(FormatError::BadLayout)
    );
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.inode_table_blocks = 1;
            s.geometry.data_start = s.geometry.inode_table_start + 1;
        })),
        Some(FormatError::BadInodeTableSize)
    );
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.inode_count = BITS_PER_BLOCK + 16;
            s.geometry.inode_table_blocks = s.geometry.inode_count / 16;
            s.geometry.data_start = s.geometry.inode_table_start + s.geometry.inode_table_blocks;
            s.geometry.total_blocks = s.geometry.data_start + 10;
            s.free_blocks = 0;
        })),
        Some(FormatError::BadInodeBitmapSize)
    );
    assert_eq!(
        check(&sb_with(|s| s.geometry.total_blocks = BITS_PER_BLOCK + 1)),
        Some(FormatError::BadBlockBitmapSize)
    );
    // A region one block too large, the later ones shifted to match: the
    // layout is contiguous, but the allocator would walk a bitmap block
    // with no bits in use (once an arithmetic overflow in the kernel).
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.block_bitmap_blocks += 1;
            s.geometry.inode_bitmap_start += 1;
            s.geometry.inode_table_start += 1;
            s.geometry.data_start += 1;
            s.free_blocks -= 1;
        })),
        Some(FormatError::BadBlockBitmapSize)
    );
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.inode_bitmap_blocks += 1;
            s.geometry.inode_table_start += 1;
            s.geometry.data_start += 1;
            s.free_blocks -= 1;
        })),
        Some(FormatError::BadInodeBitmapSize)
    );
    assert_eq!(
        check(&sb_with(|s| {
            s.geometry.inode_table_blocks += 1;
            s.geometry.data_start += 1;
            s.free_blocks -= 1;
        })),
        Some(FormatError::BadInodeTableSize)
    );
    assert_eq!(
        check(&sb_with(|s| s.geometry.inode_count -= 1)),
        Some(FormatError::BadInodeTableSize)
    );
    assert_eq!(
        Superblock::decode_and_validate(&sb_with(|_| {}), 16383).err(),
        Some(FormatError::FsLargerThanDevice)
    );
    assert_eq!(
        check(&sb_with(|s| s.geometry.total_blocks = s.geometry.data_start)),
        Some(FormatError::NoDataBlocks)
    );
    assert_eq!(
        check(&sb_with(|s| s.free_blocks = 16384)),
        Some(FormatError::BadFreeBlocks)
    );
    assert_eq!(
        check(&sb_with(|s| s.free_inodes = 4095)),
        Some(FormatError::BadFreeInodes)
    );
    assert_eq!(
        check(&sb_with(|s| s.root_ino = 2)),
        Some(FormatError::BadRootIno)
    );
    assert_eq!(
        check(&sb_with(|s| s.state = 0)),
        Some(FormatError::BadState)
    );
    assert_eq!(check(&sb_with(|s| s.state = STATE_DIRTY)), None);
    assert_eq!(
        check(&sb_with(
            |s| s.geometry.inode_count = u64::from(u32::MAX) + 1
        )),
        Some(FormatError::BadInodeCount)
    );
}

#[test]
fn error_messages_distinct() {
    use FormatError::*;
    let all = [
        BadMagic,
        UnsupportedVersion,
        BadBlockSize,
        BadChecksum,
        IncompatFeatures,
        BadLayout,
        BadBlockBitmapSize,
        BadInodeBitmapSize,
        BadInodeTableSize,
        NoDataBlocks,
        FsLargerThanDevice,
        TooManyBlocks,
        BadInodeCount,
        BadFreeBlocks,
        BadFreeInodes,
        BadRootIno,
        BadState,
        BadInodeNumber,
        BadMode,
        BadFlags,
        BadSize,
        BadTimestamp,
        BadParent,
        BadExtentCount,
        BadExtent,
        ExtentOrder,
        BadExtentBlock,
        BadOwner,
        BadSymlink,
        BadRecLen,
        BadName,
        BadFileType,
        NoSpace,
        NotFound,
        OutOfRange,
    ];
    let mut msgs: Vec<&str> = all.iter().map(|e| e.as_str()).collect();
    assert!(msgs.iter().all(|m| !m.is_empty()));
    msgs.sort_unstable();
    msgs.dedup();
    assert_eq!(msgs.len(), all.len());
}

// ---- inodes -----------------------------------------------------------------

fn sample_file() -> Inode {
    let mut i = Inode::new(S_IFREG | 0o640);
    i.uid = 1000;
    i.gid = 100;
    i.nlink = 2;
    i.size = 3 * 4096 + 17;
    i.atime = Timespec {
        sec: -5,
        nsec: 999_999_999,
    };
    i.mtime = Timespec {
        sec: 1_700_000_000,
        nsec: 1,
    };
    i.ctime = Timespec {
        sec: 1_700_000_001,
        nsec: 2,
    };
    i.crtime = Timespec {
        sec: 1_600_000_000,
        nsec: 3,
    };
    i.generation = 0xdead_beef;
    let exts = [
        Extent {
            logical: 0,
            len: 2,
            unwritten: false,
            physical: 400,
        },
        Extent {
            logical: 2,
            len: 2,
            unwritten: true,
            physical: 1000,
        },
    ];
    for (n, e) in exts.iter().enumerate() {
        i.set_inline_extent(n, e).unwrap();
    }
    i.extent_count = 2;
    i.blocks = 4;
    i
}

#[test]
fn inode_roundtrip() {
    let g = geometry();
    let i = sample_file();
    i.check(&g).unwrap();
    let mut raw = [0u8; INODE_SIZE];
    i.encode(42, &mut raw);
    assert_eq!(raw_inode_mode(&raw), S_IFREG | 0o640);
    assert!(raw[232..252].iter().all(|b| *b == 0));
    let back = Inode::decode(42, &raw).unwrap();
    assert_eq!(back, i);
    assert_eq!(back.inline_extent_count(), 2);
    assert!(back.inline_extent(1).unwrap().unwritten);
    assert_eq!(back.size_in_blocks(), 4);
    // The inode number seeds the checksum: a misplaced inode is detected.
    assert_eq!(Inode::decode(43, &raw), Err(FormatError::BadChecksum));
    let mut bad = raw;
    bad[16] ^= 1;
    assert_eq!(Inode::decode(42, &bad), Err(FormatError::BadChecksum));
    // A zeroed slot is free (mode 0) and does not checksum.
    assert_eq!(raw_inode_mode(&[0; INODE_SIZE]), 0);
    assert!(Inode::decode(1, &[0; INODE_SIZE]).is_err());
    assert_eq!(FileKind::from_mode(i.mode), Some(FileKind::Regular));
    assert_eq!(mode_to_dt(S_IFDIR | 0o755), Some(DT_DIR));
    assert_eq!(mode_to_dt(0o170000), None);
}

#[test]
fn inode_slots() {
    let mut b = block();
    let i = sample_file();
    i.encode(18, inode_slot_mut(&mut b, 2).unwrap());
    assert_eq!(Inode::decode(18, inode_slot(&b, 2).unwrap()).unwrap(), i);
    assert!(inode_slot(&b, 16).is_none());
    assert!(inode_slot(&b, usize::MAX).is_none());
}

#[test]
fn file_kinds() {
    let kinds = [
        (FileKind::Fifo, S_IFIFO, DT_FIFO),
        (FileKind::CharDev, S_IFCHR, DT_CHR),
        (FileKind::Dir, S_IFDIR, DT_DIR),
        (FileKind::BlockDev, S_IFBLK, DT_BLK),
        (FileKind::Regular, S_IFREG, DT_REG),
        (FileKind::Symlink, S_IFLNK, DT_LNK),
        (FileKind::Socket, S_IFSOCK, DT_SOCK),
    ];
    for (k, ifmt, dt) in kinds {
        assert_eq!(k.ifmt(), ifmt);
        assert_eq!(k.dt(), dt);
        assert_eq!(FileKind::from_mode(ifmt | 0o7777), Some(k));
        assert_eq!(FileKind::from_dt(dt), Some(k));
    }
    assert_eq!(FileKind::from_dt(DT_UNKNOWN), None);
    assert_eq!(FileKind::from_dt(3), None);
    assert!(is_dir(S_IFDIR) && is_reg(S_IFREG) && is_symlink(S_IFLNK));
}

#[test]
fn inode_check_rules() {
    let g = geometry();
    let ok = |i: &Inode| i.check(&g);
    let mut i = sample_file();
    i.mode = 0o644;
    assert_eq!(ok(&i), Err(FormatError::BadMode));
    let mut i = sample_file();
    i.flags = 2;
    assert_eq!(ok(&i), Err(FormatError::BadFlags));
    let mut i = sample_file();
    i.flags = INODE_FLAG_INLINE_DATA;
    assert_eq!(ok(&i), Err(FormatError::BadFlags));
    let mut i = sample_file();
    i.mtime.nsec = 1_000_000_000;
    assert_eq!(ok(&i), Err(FormatError::BadTimestamp));
    let mut i = sample_file();
    i.dir_parent = 1;
    assert_eq!(ok(&i), Err(FormatError::BadParent));
    let mut i = sample_file();
    i.extent_overflow = 500;
    assert_eq!(ok(&i), Err(FormatError::BadExtentCount));
    let mut i = sample_file();
    i.extent_count = 9;
    assert_eq!(ok(&i), Err(FormatError::BadExtentCount));
    i.extent_overflow = 5; // metadata block
    assert_eq!(ok(&i), Err(FormatError::BadExtent));
    let mut i = sample_file();
    i.size = MAX_FILE_SIZE + 1;
    assert_eq!(ok(&i), Err(FormatError::BadSize));
    // Extents: in the data region, non-empty, sorted, not overlapping.
    let mut i = sample_file();
    i.set_inline_extent(
        0,
        &Extent {
            logical: 0,
            len: 2,
            unwritten: false,
            physical: 300,
        },
    )
    .unwrap();
    assert_eq!(ok(&i), Err(FormatError::BadExtent));
    let mut i = sample_file();
    i.set_inline_extent(
        0,
        &Extent {
            logical: 0,
            len: 0,
            unwritten: false,
            physical: 400,
        },
    )
    .unwrap();
    assert_eq!(ok(&i), Err(FormatError::BadExtent));
    let mut i = sample_file();
    i.set_inline_extent(
        1,
        &Extent {
            logical: 1,
            len: 2,
            unwritten: false,
            physical: 1000,
        },
    )
    .unwrap();
    assert_eq!(ok(&i), Err(FormatError::ExtentOrder));
    let mut i = sample_file();
    i.set_inline_extent(
        1,
        &Extent {
            logical: 2,
            len: 2,
            unwritten: false,
            physical: 16383,
        },
    )
    .unwrap();
    assert_eq!(ok(&i), Err(FormatError::BadExtent));

    // Directories: parent required, size a multiple of the block size.
    let mut d = Inode::new(S_IFDIR | 0o755);
    d.nlink = 2;
    assert_eq!(ok(&d), Err(FormatError::BadParent));
    d.dir_parent = 1;
    ok(&d).unwrap();
    d.dir_parent = 4096;
    assert_eq!(ok(&d), Err(FormatError::BadParent));
    d.dir_parent = 1;
    d.size = 100;
    assert_eq!(ok(&d), Err(FormatError::BadSize));

    // Symlinks.
    let mut s = Inode::new(S_IFLNK | 0o777);
    assert_eq!(ok(&s), Err(FormatError::BadSymlink));
    s.set_fast_symlink(b"/some/where").unwrap();
    ok(&s).unwrap();
    assert_eq!(s.fast_symlink_target(), Some(&b"/some/where"[..]));
    assert_eq!(s.size, 11);
    assert!(s.set_fast_symlink(&[b'a'; 128]).is_err());
    assert!(s.set_fast_symlink(b"").is_err());
    assert!(s.set_fast_symlink(b"a\0b").is_err());
    s.set_fast_symlink(&[b'a'; 127]).unwrap();
    ok(&s).unwrap();
    s.inline[3] = 0;
    assert_eq!(ok(&s), Err(FormatError::BadSymlink));
    // A short target must be inline; a long one must be in one block.
    let mut s = Inode::new(S_IFLNK | 0o777);
    s.size = 100;
    s.extent_count = 1;
    s.set_inline_extent(
        0,
        &Extent {
            logical: 0,
            len: 1,
            unwritten: false,
            physical: 400,
        },
    )
    .unwrap();
    assert_eq!(ok(&s), Err(FormatError::BadSymlink));
    s.size = 300;
    ok(&s).unwrap();
    s.size = 4096;
    assert_eq!(ok(&s), Err(FormatError::BadSymlink));
    s.size = 300;
    s.set_inline_extent(
        0,
        &Extent {
            logical: 0,
            len: 2,
            unwritten: false,
            physical: 400,
        },
    )
    .unwrap();
    assert_eq!(ok(&s), Err(FormatError::BadSymlink));

    // Devices, FIFOs, sockets: no data.
    let mut c = Inode::new(S_IFCHR | 0o600);
    c.set_rdev(0x0010_0005);
    ok(&c).unwrap();
    assert_eq!(c.rdev(), 0x0010_0005);
    c.size = 1;
    assert_eq!(ok(&c), Err(FormatError::BadSize));
    let mut f = Inode::new(S_IFIFO | 0o600);
    f.extent_count = 1;
    assert_eq!(ok(&f), Err(FormatError::BadExtentCount));
}

// ---- extents ----------------------------------------------------------------

#[test]
fn extent_roundtrip() {
    let g = geometry();
    for e in [
        Extent {
            logical: 0,
            len: 1,
            unwritten: false,
            physical: 323,
        },
        Extent {
            logical: 7,
            len: 100,
            unwritten: true,
            physical: 5000,
        },
        Extent {
            logical: u32::MAX,
            len: 1,
            unwritten: false,
            physical: 16383,
        },
    ] {
        let mut raw = [0u8; EXTENT_SIZE];
        e.encode(&mut raw);
        assert_eq!(Extent::decode(&raw), e);
        e.check(&g).unwrap();
        assert_eq!(
            u32::from_le_bytes(raw[4..8].try_into().unwrap()) >> 31,
            e.unwritten as u32
        );
    }
    let e = Extent {
        logical: 10,
        len: 5,
        unwritten: false,
        physical: 1000,
    };
    assert_eq!(e.map(9), None);
    assert_eq!(e.map(10), Some(1000));
    assert_eq!(e.map(14), Some(1004));
    assert_eq!(e.map(15), None);
    assert!(e.is_contiguous_with(&Extent {
        logical: 15,
        len: 1,
        unwritten: false,
        physical: 1005
    }));
    assert!(!e.is_contiguous_with(&Extent {
        logical: 15,
        len: 1,
        unwritten: true,
        physical: 1005
    }));
    assert!(!e.is_contiguous_with(&Extent {
        logical: 16,
        len: 1,
        unwritten: false,
        physical: 1005
    }));
    let bad = Extent {
        logical: u32::MAX,
        len: 2,
        unwritten: false,
        physical: 400,
    };
    assert_eq!(bad.check(&g), Err(FormatError::BadExtent));
    let bad = Extent {
        logical: 0,
        len: 1,
        unwritten: false,
        physical: u64::MAX,
    };
    assert_eq!(bad.check(&g), Err(FormatError::BadExtent));
    assert_eq!(bad.physical_end(), None);
    assert_eq!(
        check_extent_order(Some(&e), &e),
        Err(FormatError::ExtentOrder)
    );
    assert_eq!(
        check_extent_order(Some(&e), &Extent { logical: 15, ..e }),
        Ok(())
    );
    assert_eq!(check_extent_order(None, &e), Ok(()));
}

#[test]
fn extent_block_roundtrip() {
    assert_eq!(EXTENTS_PER_BLOCK, 253);
    let mut b = block();
    extent_block_init(&mut b, 77, 999);
    let n = EXTENTS_PER_BLOCK;
    for i in 0..n {
        let e = Extent {
            logical: i as u32 * 2,
            len: 1,
            unwritten: i % 3 == 0,
            physical: 1000 + i as u64,
        };
        extent_block_set(&mut b, i, &e).unwrap();
    }
    assert_eq!(
        extent_block_set(&mut b, n, &Extent::default()),
        Err(FormatError::OutOfRange)
    );
    ExtentBlockHeader {
        count: n as u32,
        next: 999,
        owner_ino: 77,
    }
    .encode(&mut b);
    assert_eq!(ExtentBlockHeader::decode(&b), Err(FormatError::BadChecksum));
    seal_block(&mut b);
    let h = ExtentBlockHeader::decode_for(&b, 77).unwrap();
    assert_eq!(
        h,
        ExtentBlockHeader {
            count: 253,
            next: 999,
            owner_ino: 77
        }
    );
    assert_eq!(
        ExtentBlockHeader::decode_for(&b, 78),
        Err(FormatError::BadOwner)
    );
    for i in 0..n {
        let e = extent_block_get(&b, i).unwrap();
        assert_eq!(e.physical, 1000 + i as u64);
        assert_eq!(e.unwritten, i % 3 == 0);
    }
    assert!(extent_block_get(&b, n).is_none());
    // Extents stop before the checksum.
    assert_eq!(32 + n * EXTENT_SIZE, 4080);
    ExtentBlockHeader {
        count: 254,
        next: 0,
        owner_ino: 77,
    }
    .encode(&mut b);
    seal_block(&mut b);
    assert_eq!(
        ExtentBlockHeader::decode(&b),
        Err(FormatError::BadExtentBlock)
    );
    b[0] = 0;
    seal_block(&mut b);
    assert_eq!(ExtentBlockHeader::decode(&b), Err(FormatError::BadMagic));
}

// ---- directories --------------------------------------------------------------

#[test]
fn names_and_rec_len() {
    assert_eq!(rec_len_for(1), 16);
    assert_eq!(rec_len_for(8), 16);
    assert_eq!(rec_len_for(9), 24);
    assert_eq!(rec_len_for(255), 264);
    assert!(check_name(b"a").is_ok());
    assert!(check_name(&[b'x'; 255]).is_ok());
    for bad in [&b""[..], b".", b"..", b"a/b", b"a\0", &[b'x'; 256]] {
        assert_eq!(check_name(bad), Err(FormatError::BadName));
    }
    assert!(check_name(b"...").is_ok());
}

fn records(b: &Block) -> Vec<(usize, usize, u32, Vec<u8>)> {
    dir_records(b)
        .map(|r| r.unwrap())
        .map(|e| (e.offset, e.rec_len, e.ino, e.name.to_vec()))
        .collect()
}

fn tiles(b: &Block) -> bool {
    let mut pos = DIR_ENTRIES_START;
    for (off, len, _, _) in records(b) {
        if off != pos {
            return false;
        }
        pos += len;
    }
    pos == DIR_ENTRIES_END
}

#[test]
fn dir_block_edit() {
    let mut b = block();
    dir_block_init(&mut b, 5);
    assert_eq!(&b[0..4], b"RSDR");
    assert_eq!(dir_block_owner(&b), 5);
    assert_eq!(records(&b), vec![(16, 4072, 0, vec![])]);
    assert!(dir_block_is_empty(&b).unwrap());
    assert_eq!(dir_block_check_header(&b, 5), Err(FormatError::BadChecksum));
    seal_block(&mut b);
    dir_block_verify(&b, 5).unwrap();
    assert_eq!(dir_block_check_header(&b, 6), Err(FormatError::BadOwner));

    assert_eq!(dir_insert(&mut b, b"hello", 10, DT_REG), Ok(16));
    assert_eq!(dir_insert(&mut b, b"world", 11, DT_DIR), Ok(32));
    assert_eq!(
        dir_insert(&mut b, b"x", 0, DT_DIR),
        Err(FormatError::BadInodeNumber)
    );
    assert_eq!(
        dir_insert(&mut b, b"x", 1, 3),
        Err(FormatError::BadFileType)
    );
    assert_eq!(
        dir_insert(&mut b, b"..", 1, DT_DIR),
        Err(FormatError::BadName)
    );
    assert!(tiles(&b));
    let e = dir_lookup(&b, b"world").unwrap().unwrap();
    assert_eq!((e.ino, e.file_type, e.offset), (11, DT_DIR, 32));
    assert!(dir_lookup(&b, b"nothere").unwrap().is_none());
    for name in [&b"world"[..], b"hello", b"nothere", b"worl", b"worlds"] {
        assert_eq!(dir_lookup_verified(&b, name), dir_lookup(&b, name), "{name:?}");
    }
    assert!(!dir_block_is_empty(&b).unwrap());

    // Fill the block with 255-byte names until it is full.
    let mut n = 0u32;
    loop {
        let mut name = vec![b'n'; 255];
        name[..4].copy_from_slice(&n.to_le_bytes().map(|d| b'a' + d % 26));
        match dir_insert(&mut b, &name, 100 + n, DT_REG) {
            Ok(_) => n += 1,
            Err(FormatError::NoSpace) => break,
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(n, (4072 - 32) / 264);
    assert!(tiles(&b));
    assert_eq!(dir_find_space(&b, 255).unwrap(), None);
    let small_room = dir_find_space(&b, 1).unwrap();
    assert!(small_room.is_some());

    // Remove from the middle (merges into the previous record) and the
    // start (becomes free space), then reuse the space.
    assert_eq!(dir_remove(&mut b, b"world"), Ok(11));
    assert_eq!(dir_remove(&mut b, b"world"), Err(FormatError::NotFound));
    assert!(tiles(&b));
    assert_eq!(dir_remove(&mut b, b"hello"), Ok(10));
    assert!(tiles(&b));
    assert_eq!(records(&b)[0].2, 0);
    assert_eq!(dir_insert(&mut b, b"again", 12, DT_LNK), Ok(16));
    assert_eq!(dir_replace(&mut b, b"again", 13, DT_REG), Ok(12));
    let e = dir_lookup(&b, b"again").unwrap().unwrap();
    assert_eq!((e.ino, e.file_type), (13, DT_REG));
    assert_eq!(
        dir_replace(&mut b, b"none", 13, DT_REG),
        Err(FormatError::NotFound)
    );
    seal_block(&mut b);
    dir_block_verify(&b, 5).unwrap();
    assert_eq!(dir_entries(&b).count() as u32, n + 1);

    // Remove everything: the block is empty again and still tiles.
    let names: Vec<Vec<u8>> = dir_entries(&b).map(|e| e.unwrap().name.to_vec()).collect();
    for name in names {
        dir_remove(&mut b, &name).unwrap();
    }
    assert!(dir_block_is_empty(&b).unwrap());
    assert!(tiles(&b));
    assert_eq!(dir_find_space(&b, 255).unwrap(), Some(16));
}

#[test]
fn dir_block_bad_records() {
    let mut base = block();
    dir_block_init(&mut base, 5);
    dir_insert(&mut base, b"abc", 10, DT_REG).unwrap();
    let first_err = |b: &Block| dir_records(b).find_map(|r| r.err());
    let mut b = base.clone();
    b[16 + 4] = 12; // rec_len not a multiple of 8
    b[16 + 5] = 0;
    assert_eq!(first_err(&b), Some(FormatError::BadRecLen));
    let mut b = base.clone();
    b[16 + 4] = 8; // too short for the name
    b[16 + 5] = 0;
    assert_eq!(first_err(&b), Some(FormatError::BadRecLen));
    let mut b = base.clone();
    b[16 + 4] = 0; // zero length would loop forever
    b[16 + 5] = 0;
    assert_eq!(first_err(&b), Some(FormatError::BadRecLen));
    let mut b = base.clone();
    b[16 + 4] = 0xf8; // past the end of the entry area
    b[16 + 5] = 0x0f;
    assert_eq!(first_err(&b), Some(FormatError::BadRecLen));
    let mut b = base.clone();
    b[16 + 8] = b'/';
    assert_eq!(first_err(&b), Some(FormatError::BadName));
    let mut b = base.clone();
    b[16 + 6] = 0; // empty name
    assert_eq!(first_err(&b), Some(FormatError::BadName));
    let mut b = base.clone();
    b[16 + 7] = 5;
    assert_eq!(first_err(&b), Some(FormatError::BadFileType));
    // The iterator stops after the first error.
    assert_eq!(dir_records(&b).count(), 1);
    let mut b = base.clone();
    b[0] = b'X';
    seal_block(&mut b);
    assert_eq!(dir_block_verify(&b, 5), Err(FormatError::BadMagic));
}

// ---- bitmaps --------------------------------------------------------------------

#[test]
fn bitmaps() {
    let mut m = vec![0u8; 16];
    assert_eq!(bitmap_set(&mut m, 0, true), Ok(false));
    assert_eq!(bitmap_set(&mut m, 9, true), Ok(false));
    assert_eq!(bitmap_set(&mut m, 9, true), Ok(true));
    assert_eq!(m[0], 1);
    assert_eq!(m[1], 2); // LSB first
    assert_eq!(bitmap_get(&m, 9), Ok(true));
    assert_eq!(bitmap_get(&m, 10), Ok(false));
    assert_eq!(bitmap_get(&m, 128), Err(FormatError::OutOfRange));
    assert_eq!(
        bitmap_set(&mut m, u64::MAX, true),
        Err(FormatError::OutOfRange)
    );
    assert_eq!(bitmap_find_zero(&m, 0, 128), Some(1));
    assert_eq!(bitmap_count_zeros(&m, 128), 126);
    assert_eq!(bitmap_count_zeros(&m, 10), 8);
    assert_eq!(bitmap_count_zeros(&m, 1000), 126);
    bitmap_set_range(&mut m, 3, 100, true);
    assert_eq!(bitmap_find_zero(&m, 0, 128), Some(1));
    assert_eq!(bitmap_find_zero(&m, 3, 128), Some(100));
    assert_eq!(bitmap_find_zero(&m, 3, 100), None);
    assert_eq!(bitmap_count_zeros(&m, 128), 2 + 28);
    bitmap_set_range(&mut m, 0, u64::MAX, true);
    assert_eq!(bitmap_find_zero(&m, 0, u64::MAX), None);
    assert!(m.iter().all(|b| *b == 0xff));
    bitmap_set_range(&mut m, 5, 6, false);
    assert_eq!(bitmap_find_zero(&m, 0, u64::MAX), Some(5));
}

// ---- garbage never panics ---------------------------------------------------------

const FUZZ_ITERS: u64 = 4000;

#[test]
fn fuzz_superblock() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let mut valid = block();
    sample_sb().encode(&mut valid);
    let mut b = block();
    for it in 0..FUZZ_ITERS {
        if it % 2 == 0 {
            rng.fill(&mut b[..]);
        } else {
            b.copy_from_slice(&valid[..]);
            let edits = 1 + rng.below(16);
            // Mostly the fields, sometimes anywhere.
            let mut head = [0u8; 224];
            head.copy_from_slice(&b[..224]);
            rng.mutate(&mut head, edits);
            b[..224].copy_from_slice(&head);
        }
        if it % 4 != 0 {
            b[..4].copy_from_slice(b"RSFS");
            b[4..6].copy_from_slice(&1u16.to_le_bytes());
            seal_block(&mut b);
        }
        let dev = rng.next() >> rng.below(64);
        if let Ok(sb) = Superblock::decode(&b) {
            if sb.validate(dev).is_ok() {
                // Whatever validates has a sane layout.
                let g = sb.geometry;
                assert!(g.data_start < g.total_blocks && g.total_blocks <= dev);
                let _ = g.inode_location(sb.root_ino).unwrap();
            }
            let _ = sb.label_bytes();
            let _ = sb.geometry.inode_location(rng.next());
            let _ = sb.geometry.block_bitmap_location(rng.next());
            let _ = sb.geometry.inode_bitmap_location(rng.next());
            let _ = sb.geometry.is_data_range(rng.next(), rng.next());
        }
    }
}

#[test]
fn fuzz_inode() {
    let mut rng = Rng(0xfeed_f00d_0bad_cafe);
    let g = geometry();
    let mut valid = [0u8; INODE_SIZE];
    sample_file().encode(3, &mut valid);
    let mut raw = [0u8; INODE_SIZE];
    let mut checked_ok = 0;
    for it in 0..FUZZ_ITERS * 4 {
        if it % 2 == 0 {
            rng.fill(&mut raw);
        } else {
            raw = valid;
            let edits = 1 + rng.below(8);
            rng.mutate(&mut raw, edits);
        }
        let ino = rng.below(4096);
        if it % 3 != 0 {
            // Fix the checksum so decoding goes deeper.
            let sum = inode_checksum(ino, &raw);
            raw[252..].copy_from_slice(&sum.to_le_bytes());
        }
        let Ok(inode) = Inode::decode(ino, &raw) else {
            continue;
        };
        if inode.check(&g).is_ok() {
            checked_ok += 1;
        }
        for i in 0..INLINE_EXTENTS + 1 {
            if let Some(e) = inode.inline_extent(i) {
                let _ = e.check(&g);
                let _ = e.map(rng.next());
                let _ = e.physical_end();
            }
        }
        let _ = inode.fast_symlink_target();
        let _ = inode.inline_extent_count();
        let _ = inode.overflow_extent_count();
        let _ = inode.size_in_blocks();
        let _ = inode.kind();
        let mut again = [0u8; INODE_SIZE];
        inode.encode(ino, &mut again);
        assert_eq!(Inode::decode(ino, &again), Ok(inode));
    }
    assert!(checked_ok > 0, "the mutations never produced a valid inode");
}

#[test]
fn fuzz_dir_block() {
    let mut rng = Rng(0x0dd_ba11_5eed_0001);
    let mut valid = block();
    dir_block_init(&mut valid, 9);
    for i in 0..40u32 {
        let len = 1 + rng.below(40) as usize;
        let name: Vec<u8> = (0..len).map(|_| b'a' + rng.below(26) as u8).collect();
        let _ = dir_insert(&mut valid, &name, 100 + i, DT_REG);
    }
    seal_block(&mut valid);
    dir_block_verify(&valid, 9).unwrap();
    let mut b = block();
    for it in 0..FUZZ_ITERS {
        match it % 3 {
            0 => rng.fill(&mut b[..]),
            1 => {
                b.copy_from_slice(&valid[..]);
                let edits = 1 + rng.below(12);
                rng.mutate(&mut b[..], edits);
            }
            _ => {
                // Random records, mostly plausible lengths.
                b.copy_from_slice(&valid[..]);
                let mut pos = 16usize;
                while pos < 4088 {
                    let len = (8 * (1 + rng.below(40)) as usize).min(4088 - pos);
                    let len = if rng.below(10) == 0 {
                        rng.below(65536) as usize
                    } else {
                        len
                    };
                    b[pos..pos + 4].copy_from_slice(&(rng.below(3) as u32).to_le_bytes());
                    b[pos + 4..pos + 6].copy_from_slice(&(len as u16).to_le_bytes());
                    b[pos + 6] = rng.next() as u8;
                    b[pos + 7] = [DT_REG, DT_DIR, 3, 0][rng.below(4) as usize];
                    pos += len.max(8);
                    if pos + 8 > 4088 {
                        break;
                    }
                }
            }
        }
        if it % 2 == 0 {
            seal_block(&mut b);
        }
        let _ = dir_block_verify(&b, 9);
        let _ = dir_block_check_header(&b, rng.next());
        let mut n = 0;
        for r in dir_records(&b) {
            n += 1;
            assert!(n <= 4072 / 8, "iterator does not terminate");
            if let Ok(e) = r {
                assert!(e.offset >= 16 && e.offset + e.rec_len <= 4088);
                let _ = e.slack();
            }
        }
        let _ = dir_entries(&b).count();
        let _ = dir_lookup(&b, b"abc");
        let fast = dir_lookup_verified(&b, b"abc");
        if dir_records(&b).all(|r| r.is_ok()) {
            assert_eq!(fast, dir_lookup(&b, b"abc"));
        }
        let _ = dir_find_space(&b, rng.below(300) as usize);
        let _ = dir_block_is_empty(&b);
        let mut m = b.clone();
        let _ = dir_insert(&mut m, b"newname", 5, DT_REG);
        let _ = dir_remove(&mut m, b"abc");
        let _ = dir_remove_at(&mut m, rng.below(5000) as usize);
        let _ = dir_replace(&mut m, b"newname", 6, DT_DIR);
        // Editing a block that iterated cleanly keeps it well-formed.
        if dir_records(&b).all(|r| r.is_ok()) {
            let mut m = b.clone();
            if dir_insert(&mut m, b"fresh", 5, DT_REG).is_ok() {
                assert!(dir_records(&m).all(|r| r.is_ok()));
                assert_eq!(dir_remove(&mut m, b"fresh"), Ok(5));
                assert!(tiles(&m));
            }
        }
    }
}

#[test]
fn fuzz_extent_block() {
    let mut rng = Rng(0xabad_1dea_f00d_b00c);
    let g = geometry();
    let mut b = block();
    for it in 0..FUZZ_ITERS {
        rng.fill(&mut b[..]);
        if it % 4 != 0 {
            b[..4].copy_from_slice(b"RSEX");
            if it % 2 == 0 {
                let c = rng.below(300) as u32;
                b[4..8].copy_from_slice(&c.to_le_bytes());
            }
            seal_block(&mut b);
        }
        if let Ok(h) = ExtentBlockHeader::decode(&b) {
            assert!(h.count as usize <= EXTENTS_PER_BLOCK);
            let mut prev = None;
            for i in 0..h.count as usize {
                let e = extent_block_get(&b, i).unwrap();
                let _ = e.check(&g);
                let _ = check_extent_order(prev.as_ref(), &e);
                let _ = e.map(rng.next());
                let _ = e.logical_end();
                prev = Some(e);
            }
        }
        let _ = ExtentBlockHeader::decode_for(&b, rng.next());
        let _ = extent_block_get(&b, rng.next() as usize);
    }
}

#[test]
fn fuzz_bitmap() {
    let mut rng = Rng(42);
    for _ in 0..FUZZ_ITERS {
        let mut m = vec![0u8; rng.below(64) as usize];
        rng.fill(&mut m);
        let a = rng.next() >> rng.below(64);
        let c = rng.next() >> rng.below(64);
        let _ = bitmap_get(&m, a);
        let _ = bitmap_set(&mut m, a, true);
        let _ = bitmap_find_zero(&m, a, c);
        let _ = bitmap_count_zeros(&m, c);
        bitmap_set_range(&mut m, a.min(c), a.max(c).min(1 << 20), rng.below(2) == 0);
    }
}
