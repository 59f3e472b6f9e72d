// SPDX-License-Identifier: GPL-2.0

//! Directory blocks and the entries in them.
//!
//! A directory block is `magic: u32` ("RSDR"), a reserved `u32`,
//! `owner_ino: u64`, then records tiling bytes `16..4088` exactly, a reserved
//! `u32` and the checksum at 4092. A record is `ino: u32`, `rec_len: u16`,
//! `name_len: u8`, `file_type: u8` and the name; `rec_len` is a multiple of 8
//! and at least [`rec_len_for`]`(name_len)`. A record with `ino == 0` is free
//! space. `.` and `..` are not stored.
//!
//! The functions that change a block ([`dir_insert`], [`dir_remove`], ...)
//! do not update the checksum: call [`super::seal_block`] before writing the
//! block out.

use super::le::{
    get_u16, get_u32, get_u64, get_u8, put_bytes, put_u16, put_u32, put_u64, put_u8, zero,
};
use super::{block_checksum_ok, Block, FileKind, FormatError};

/// Directory block magic: `"RSDR"` as a little-endian `u32`.
pub const DIR_BLOCK_MAGIC: u32 = 0x5244_5352;
/// First byte of the entry area.
pub const DIR_ENTRIES_START: usize = 16;
/// One past the last byte of the entry area.
pub const DIR_ENTRIES_END: usize = 4088;
/// Size of a record header (before the name).
pub const DIR_ENTRY_HEADER_SIZE: usize = 8;
/// Longest name.
pub const MAX_NAME_LEN: usize = 255;

/// Directory block field offsets.
pub mod dir_off {
    /// `magic: u32`
    pub const MAGIC: usize = 0;
    /// reserved `u32` (zero)
    pub const RESERVED0: usize = 4;
    /// `owner_ino: u64`
    pub const OWNER: usize = 8;
    /// reserved `u32` after the entries (zero)
    pub const RESERVED1: usize = 4088;
    /// Record field: `ino: u32` (relative to the record)
    pub const ENT_INO: usize = 0;
    /// Record field: `rec_len: u16`
    pub const ENT_REC_LEN: usize = 4;
    /// Record field: `name_len: u8`
    pub const ENT_NAME_LEN: usize = 6;
    /// Record field: `file_type: u8`
    pub const ENT_FILE_TYPE: usize = 7;
    /// Record field: first name byte
    pub const ENT_NAME: usize = 8;
}

/// The smallest record length for a name of `name_len` bytes: 8 bytes of
/// header plus the name, rounded up to a multiple of 8.
pub const fn rec_len_for(name_len: usize) -> usize {
    DIR_ENTRY_HEADER_SIZE
        .saturating_add(name_len)
        .saturating_add(7)
        & !7
}

/// Checks a directory entry name: 1..=255 bytes, no `/` or NUL, not `.` or `..`.
pub fn check_name(name: &[u8]) -> Result<(), FormatError> {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(FormatError::BadName);
    }
    if name == b"." || name == b".." || name.iter().any(|b| *b == b'/' || *b == 0) {
        return Err(FormatError::BadName);
    }
    Ok(())
}

/// Initialises `buf` as an empty directory block of directory `owner`: one
/// free record spanning the entry area, everything else zero. Seal it before
/// writing.
pub fn dir_block_init(buf: &mut Block, owner: u64) {
    for b in buf.iter_mut() {
        *b = 0;
    }
    put_u32(buf, dir_off::MAGIC, DIR_BLOCK_MAGIC);
    put_u64(buf, dir_off::OWNER, owner);
    put_u16(
        buf,
        DIR_ENTRIES_START + dir_off::ENT_REC_LEN,
        (DIR_ENTRIES_END - DIR_ENTRIES_START) as u16,
    );
}

/// The owner inode recorded in a directory block.
pub fn dir_block_owner(buf: &Block) -> u64 {
    get_u64(buf, dir_off::OWNER)
}

/// Checks a directory block's header: magic, checksum, and that it belongs
/// to directory `owner`. The records are checked by iterating them (or all
/// at once by [`dir_block_verify`]).
pub fn dir_block_check_header(buf: &Block, owner: u64) -> Result<(), FormatError> {
    if get_u32(buf, dir_off::MAGIC) != DIR_BLOCK_MAGIC {
        return Err(FormatError::BadMagic);
    }
    if !block_checksum_ok(buf) {
        return Err(FormatError::BadChecksum);
    }
    if dir_block_owner(buf) != owner {
        return Err(FormatError::BadOwner);
    }
    Ok(())
}

/// Checks a whole directory block: the header ([`dir_block_check_header`])
/// and every record. Duplicate names are not detected (they may be in other
/// blocks of the directory).
pub fn dir_block_verify(buf: &Block, owner: u64) -> Result<(), FormatError> {
    dir_block_check_header(buf, owner)?;
    for rec in dir_records(buf) {
        rec?;
    }
    Ok(())
}

/// One record of a directory block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DirEntry<'a> {
    /// Byte offset of the record in the block.
    pub offset: usize,
    /// Record length.
    pub rec_len: usize,
    /// Inode number; 0 for free space.
    pub ino: u32,
    /// `DT_*` file type (meaningless for free space).
    pub file_type: u8,
    /// The name (empty for free space).
    pub name: &'a [u8],
}

impl DirEntry<'_> {
    /// Returns whether this record is free space.
    pub fn is_free(&self) -> bool {
        self.ino == 0
    }

    /// Bytes at the end of the record not needed by its entry: the room an
    /// insertion can take from it (all of it for a free record).
    pub fn slack(&self) -> usize {
        if self.is_free() {
            self.rec_len
        } else {
            self.rec_len.saturating_sub(rec_len_for(self.name.len()))
        }
    }
}

/// Parses the record at `pos`.
fn parse_record(buf: &Block, pos: usize) -> Result<DirEntry<'_>, FormatError> {
    let header_end = pos
        .checked_add(DIR_ENTRY_HEADER_SIZE)
        .ok_or(FormatError::BadRecLen)?;
    if pos < DIR_ENTRIES_START || header_end > DIR_ENTRIES_END {
        return Err(FormatError::BadRecLen);
    }
    let ino = get_u32(buf, pos.saturating_add(dir_off::ENT_INO));
    let rec_len = usize::from(get_u16(buf, pos.saturating_add(dir_off::ENT_REC_LEN)));
    let name_len = usize::from(get_u8(buf, pos.saturating_add(dir_off::ENT_NAME_LEN)));
    let file_type = get_u8(buf, pos.saturating_add(dir_off::ENT_FILE_TYPE));
    let end = pos.checked_add(rec_len).ok_or(FormatError::BadRecLen)?;
    if rec_len < DIR_ENTRY_HEADER_SIZE || rec_len % 8 != 0 || end > DIR_ENTRIES_END {
        return Err(FormatError::BadRecLen);
    }
    if ino == 0 {
        return Ok(DirEntry {
            offset: pos,
            rec_len,
            ino,
            file_type,
            name: &[],
        });
    }
    if rec_len < rec_len_for(name_len) {
        return Err(FormatError::BadRecLen);
    }
    let name = buf
        .get(header_end..header_end.saturating_add(name_len))
        .ok_or(FormatError::BadRecLen)?;
    check_name(name)?;
    if FileKind::from_dt(file_type).is_none() {
        return Err(FormatError::BadFileType);
    }
    Ok(DirEntry {
        offset: pos,
        rec_len,
        ino,
        file_type,
        name,
    })
}

/// Iterator over every record (free ones included) of a directory block.
///
/// Yields `Err` once for the first malformed record, then stops. Does not
/// check the block header.
#[derive(Clone, Debug)]
pub struct DirRecords<'a> {
    buf: &'a Block,
    pos: usize,
    done: bool,
}

impl<'a> Iterator for DirRecords<'a> {
    type Item = Result<DirEntry<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done || self.pos >= DIR_ENTRIES_END {
            return None;
        }
        match parse_record(self.buf, self.pos) {
            Ok(e) => {
                self.pos = self.pos.saturating_add(e.rec_len);
                Some(Ok(e))
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

/// Iterates over every record of a directory block, free ones included.
pub fn dir_records(buf: &Block) -> DirRecords<'_> {
    DirRecords {
        buf,
        pos: DIR_ENTRIES_START,
        done: false,
    }
}

/// Iterator over the used entries of a directory block (free records
/// skipped). Yields `Err` once for the first malformed record, then stops.
#[derive(Clone, Debug)]
pub struct DirEntries<'a> {
    records: DirRecords<'a>,
}

impl<'a> Iterator for DirEntries<'a> {
    type Item = Result<DirEntry<'a>, FormatError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.records.next()? {
                Ok(e) if e.is_free() => {}
                other => return Some(other),
            }
        }
    }
}

/// Iterates over the used entries of a directory block.
pub fn dir_entries(buf: &Block) -> DirEntries<'_> {
    DirEntries {
        records: dir_records(buf),
    }
}

/// Finds the entry called `name` in a directory block.
pub fn dir_lookup<'a>(buf: &'a Block, name: &[u8]) -> Result<Option<DirEntry<'a>>, FormatError> {
    for e in dir_entries(buf) {
        let e = e?;
        if e.name == name {
            return Ok(Some(e));
        }
    }
    Ok(None)
}

/// [`dir_lookup`] for a block already checked by [`dir_block_verify`]: the
/// kernel's hot path, where a lookup or create in a big directory scans
/// every block. It walks the records comparing only the name length and
/// then the name, instead of re-validating every record on the way; the
/// entry it returns is fully parsed. A record length that would not move
/// forward or runs off the entry area is still an error, so even a block
/// that was corrupted after its check cannot loop or read out of bounds.
pub fn dir_lookup_verified<'a>(
    buf: &'a Block,
    name: &[u8],
) -> Result<Option<DirEntry<'a>>, FormatError> {
    let mut pos = DIR_ENTRIES_START;
    while pos < DIR_ENTRIES_END {
        let header = pos
            .checked_add(DIR_ENTRY_HEADER_SIZE)
            .and_then(|end| buf.get(pos..end));
        let Some(&[i0, i1, i2, i3, r0, r1, name_len, _]) = header else {
            return Err(FormatError::BadRecLen);
        };
        let rec_len = usize::from(u16::from_le_bytes([r0, r1]));
        if rec_len < DIR_ENTRY_HEADER_SIZE {
            return Err(FormatError::BadRecLen);
        }
        let used = u32::from_le_bytes([i0, i1, i2, i3]) != 0;
        if used && usize::from(name_len) == name.len() {
            let start = pos.saturating_add(DIR_ENTRY_HEADER_SIZE);
            if buf.get(start..start.saturating_add(name.len())) == Some(name) {
                return parse_record(buf, pos).map(Some);
            }
        }
        pos = pos.saturating_add(rec_len);
    }
    Ok(None)
}

/// Returns whether a directory block has no used entries.
pub fn dir_block_is_empty(buf: &Block) -> Result<bool, FormatError> {
    match dir_entries(buf).next() {
        None => Ok(true),
        Some(Ok(_)) => Ok(false),
        Some(Err(e)) => Err(e),
    }
}

/// Finds room for an entry with a name of `name_len` bytes: the offset of the
/// first record with enough slack, or `None` if the block is full.
pub fn dir_find_space(buf: &Block, name_len: usize) -> Result<Option<usize>, FormatError> {
    let need = rec_len_for(name_len);
    for e in dir_records(buf) {
        let e = e?;
        if e.slack() >= need {
            return Ok(Some(e.offset));
        }
    }
    Ok(None)
}

fn write_record(buf: &mut Block, pos: usize, rec_len: usize, ino: u32, file_type: u8, name: &[u8]) {
    zero(buf, pos, rec_len);
    put_u32(buf, pos.saturating_add(dir_off::ENT_INO), ino);
    put_u16(
        buf,
        pos.saturating_add(dir_off::ENT_REC_LEN),
        rec_len as u16,
    );
    put_u8(
        buf,
        pos.saturating_add(dir_off::ENT_NAME_LEN),
        name.len() as u8,
    );
    put_u8(buf, pos.saturating_add(dir_off::ENT_FILE_TYPE), file_type);
    put_bytes(buf, pos.saturating_add(dir_off::ENT_NAME), name);
}

/// Adds entry `name` -> `ino` of type `file_type` (`DT_*`) to a directory
/// block, returning its offset. Fails with [`FormatError::NoSpace`] if the
/// block is full. Does not look for an existing entry of the same name (the
/// caller looks the name up in all the directory's blocks first). Does not
/// update the checksum.
pub fn dir_insert(
    buf: &mut Block,
    name: &[u8],
    ino: u32,
    file_type: u8,
) -> Result<usize, FormatError> {
    check_name(name)?;
    if ino == 0 {
        return Err(FormatError::BadInodeNumber);
    }
    if FileKind::from_dt(file_type).is_none() {
        return Err(FormatError::BadFileType);
    }
    let need = rec_len_for(name.len());
    let mut found = None;
    for e in dir_records(buf) {
        let e = e?;
        if e.slack() >= need {
            found = Some((e.offset, e.rec_len, e.is_free(), rec_len_for(e.name.len())));
            break;
        }
    }
    let (offset, old_len, free, own) = found.ok_or(FormatError::NoSpace)?;
    let (pos, rec_len) = if free {
        (offset, old_len)
    } else {
        // Shrink the existing entry to what it needs; the new one takes the rest.
        put_u16(buf, offset.saturating_add(dir_off::ENT_REC_LEN), own as u16);
        (offset.saturating_add(own), old_len.saturating_sub(own))
    };
    write_record(buf, pos, rec_len, ino, file_type, name);
    Ok(pos)
}

/// Removes the record at `offset` (which must be a used entry), returning the
/// inode it pointed to. Its space joins the previous record, or becomes a
/// free record if it is the first. Does not update the checksum.
pub fn dir_remove_at(buf: &mut Block, offset: usize) -> Result<u32, FormatError> {
    let mut prev: Option<DirEntry<'_>> = None;
    let mut target = None;
    for e in dir_records(buf) {
        let e = e?;
        if e.offset == offset {
            target = Some(e);
            break;
        }
        prev = Some(e);
    }
    let e = target.ok_or(FormatError::NotFound)?;
    if e.is_free() {
        return Err(FormatError::NotFound);
    }
    let (ino, rec_len) = (e.ino, e.rec_len);
    let prev = prev.map(|p| (p.offset, p.rec_len));
    match prev {
        Some((p_off, p_len)) => {
            zero(buf, offset, rec_len);
            let merged = p_len.checked_add(rec_len).ok_or(FormatError::BadRecLen)?;
            put_u16(
                buf,
                p_off.saturating_add(dir_off::ENT_REC_LEN),
                merged as u16,
            );
        }
        None => write_record(buf, offset, rec_len, 0, 0, &[]),
    }
    Ok(ino)
}

/// Removes entry `name`, returning the inode it pointed to
/// ([`FormatError::NotFound`] if absent). Does not update the checksum.
pub fn dir_remove(buf: &mut Block, name: &[u8]) -> Result<u32, FormatError> {
    let offset = match dir_lookup(buf, name)? {
        Some(e) => e.offset,
        None => return Err(FormatError::NotFound),
    };
    dir_remove_at(buf, offset)
}

/// Points existing entry `name` at `ino` with type `file_type` (rename over
/// an existing name), returning the inode it pointed to before. Does not
/// update the checksum.
pub fn dir_replace(
    buf: &mut Block,
    name: &[u8],
    ino: u32,
    file_type: u8,
) -> Result<u32, FormatError> {
    if ino == 0 {
        return Err(FormatError::BadInodeNumber);
    }
    if FileKind::from_dt(file_type).is_none() {
        return Err(FormatError::BadFileType);
    }
    let (offset, old) = match dir_lookup(buf, name)? {
        Some(e) => (e.offset, e.ino),
        None => return Err(FormatError::NotFound),
    };
    put_u32(buf, offset.saturating_add(dir_off::ENT_INO), ino);
    put_u8(
        buf,
        offset.saturating_add(dir_off::ENT_FILE_TYPE),
        file_type,
    );
    Ok(old)
}
