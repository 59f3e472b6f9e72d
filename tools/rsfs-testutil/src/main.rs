// SPDX-License-Identifier: GPL-2.0

//! `rsfs-testutil COMMAND ARGS...`: see [`USAGE`]. Failures print
//! `rsfs-testutil: WHAT: ENAME: text (os error N)` on stderr and exit 1.

use rsfs_image::format::Superblock;
use rsfs_image::{BlockDev, Image};
use rsfs_testutil::corrupt::{self, Kind};
use rsfs_testutil::crash;
use rsfs_testutil::crashload;
use rsfs_testutil::errno;
use rsfs_testutil::pattern::Pattern;
use rsfs_testutil::records;
use rsfs_testutil::sys::{self, AlignedBuf, Mapping, Seek, O_DIRECT, O_SYNC, PAGE};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::exit;

const USAGE: &str = "usage: rsfs-testutil COMMAND ARGS...

Names (each prints the errno name and text on failure and exits 1):
  rename [--noreplace|--exchange] OLD NEW    renameat2(2)
  mkdir PATH [MODE]  rmdir PATH  unlink PATH  link OLD NEW [NEW...]  symlink TARGET LINK
  creat [--excl] PATH                        open(O_CREAT [|O_EXCL])
  mount [--ro] DEVICE DIR FSTYPE [OPTIONS]   mount(2), OPTIONS as the data string

Many files (names DIR/PREFIX0 .. DIR/PREFIX<COUNT-1>, PREFIX default f):
  mkfiles [--size BYTES] DIR COUNT [PREFIX]  create them (file n holds pattern n);
                                             prints created=N, stops at the first error
  checkfiles [--size BYTES] DIR COUNT [PREFIX]  each exists, is a regular file, right contents
  rmfiles DIR COUNT [PREFIX]                 unlink them
  count DIR                                  entries, without . and ..

Data (OFFSET, LEN, BYTES take K and M suffixes; SEED is a number or zero):
  pwrite [--direct] [--sync] [--fsync] [--fdatasync] [--mmap [--no-msync]] FILE OFFSET LEN SEED
         [OFFSET LEN SEED]...
                    write pattern SEED at OFFSET, range after range (--mmap extends
                    the file if needed); the sync flags apply once, after the last
  verify [--direct] [--mmap] [--or-zeros] [--size BYTES] FILE OFFSET LEN SEED [OFFSET LEN SEED]...
                    each range holds its pattern SEED (zero: zeros), and the file has
                    BYTES bytes if given; prints the first mismatch. (One process for
                    many checks: an exec is dear in the debug-kernel VM.) --or-zeros:
                    a 4 KiB block of zeros passes too (data a power cut lost)
  fill [--direct] [--chunk BYTES] [--no-fsync] FILE SEED
                    write the pattern until the filesystem is full, then fsync; prints
                    written=N errno=E fsync=ok|E; exits 0 only for ENOSPC and a good fsync
  checkerboard [--verify] FILE COUNT SEED
                    every other 4 KiB block, COUNT of them, holds pattern SEED (a
                    file of COUNT extents): write and fsync, or check (gaps: zeros)
  seek FILE data|hole OFFSET                 lseek SEEK_DATA/SEEK_HOLE: the offset, or ENXIO
  append-records FILE WRITER COUNT SIZE      O_APPEND COUNT records of SIZE bytes
  check-records FILE WRITERS COUNT SIZE      every record present once, whole, in order

Power cuts:
  crash-workload DIR MANIFEST PREFIX COUNT SIZE SEED
                    create DIR/PREFIX-<i>, fsync it and DIR, then list it in MANIFEST;
                    stops at the first error (the cut); prints synced=N errno=E|none
  crash-verify DIR MANIFEST                  every listed file is there, whole

{CRASH}

Devices and images:
  corrupt DEVICE KIND    damage the superblock: magic, crc, version, too-big, layout,
                         inode-table, bitmap-size
  sb-info DEVICE         the superblock as key=value lines (it must be valid)
  image-cat IMAGE PATH   a file's contents, read from an image with the tools' code (its
                         journal replayed in memory: what a crash would leave)";

fn die(msg: &str) -> ! {
    eprintln!("rsfs-testutil: {msg}");
    exit(1);
}

/// The usage text, with the crash commands' part.
fn usage_text() -> String {
    USAGE.replace("{CRASH}", crash::cli::USAGE)
}

fn usage(msg: &str) -> ! {
    eprintln!("rsfs-testutil: {msg}\n{}", usage_text());
    exit(2);
}

/// Dies with `what: ENAME: text` for an I/O error.
fn fail(what: &str, e: &io::Error) -> ! {
    die(&format!("{what}: {}", errno::describe(e)))
}

fn or_fail<T>(r: io::Result<T>, what: impl FnOnce() -> String) -> T {
    r.unwrap_or_else(|e| fail(&what(), &e))
}

/// A size or offset: a number with an optional K, M or G (binary) suffix.
fn size(s: &str) -> u64 {
    let (digits, mult) = match s.as_bytes().last() {
        Some(b'K' | b'k') => (&s[..s.len() - 1], 1 << 10),
        Some(b'M' | b'm') => (&s[..s.len() - 1], 1 << 20),
        Some(b'G' | b'g') => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    digits
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .unwrap_or_else(|| usage(&format!("not a size: {s:?}")))
}

fn seed(s: &str) -> Pattern {
    Pattern::parse(s).unwrap_or_else(|| usage(&format!("not a seed: {s:?}")))
}

/// Command-line arguments split into `--flags` (with values where asked)
/// and positional arguments.
struct Args {
    flags: Vec<String>,
    values: Vec<(String, String)>,
    pos: Vec<String>,
}

impl Args {
    fn parse(raw: &[String], with_value: &[&str]) -> Args {
        let mut a = Args {
            flags: Vec::new(),
            values: Vec::new(),
            pos: Vec::new(),
        };
        let mut it = raw.iter();
        while let Some(s) = it.next() {
            if with_value.contains(&s.as_str()) {
                let v = it.next().unwrap_or_else(|| usage(&format!("{s} needs a value")));
                a.values.push((s.clone(), v.clone()));
            } else if s.starts_with("--") {
                a.flags.push(s.clone());
            } else {
                a.pos.push(s.clone());
            }
        }
        a
    }

    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn value(&self, flag: &str) -> Option<&str> {
        self.values.iter().find(|(f, _)| f == flag).map(|(_, v)| v.as_str())
    }

    /// Exactly `min..=max` positional arguments, and no unknown flags.
    fn expect(&self, known: &[&str], min: usize, max: usize) -> &[String] {
        if let Some(f) = self.flags.iter().find(|f| !known.contains(&f.as_str())) {
            usage(&format!("unknown option {f}"));
        }
        if self.pos.len() < min || self.pos.len() > max {
            usage("wrong number of arguments");
        }
        &self.pos
    }
}

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((cmd, rest)) = argv.split_first() else {
        usage("no command");
    };
    match cmd.as_str() {
        "rename" => cmd_rename(rest),
        "mkdir" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 1, 2);
            let mode = p.get(1).map_or(0o755, |m| {
                u32::from_str_radix(m, 8).unwrap_or_else(|_| usage("MODE is octal"))
            });
            or_fail(fs::DirBuilder::new().mode(mode).create(&p[0]), || format!("mkdir {}", p[0]));
        }
        "rmdir" => {
            let p = Args::parse(rest, &[]).expect(&[], 1, 1)[0].clone();
            or_fail(fs::remove_dir(&p), || format!("rmdir {p}"));
        }
        "unlink" => {
            let p = Args::parse(rest, &[]).expect(&[], 1, 1)[0].clone();
            or_fail(fs::remove_file(&p), || format!("unlink {p}"));
        }
        "link" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 2, usize::MAX);
            for new in &p[1..] {
                or_fail(fs::hard_link(&p[0], new), || format!("link {} {new}", p[0]));
            }
        }
        "symlink" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 2, 2);
            or_fail(std::os::unix::fs::symlink(&p[0], &p[1]), || {
                format!("symlink -> {} at {}", p[0], p[1])
            });
        }
        "creat" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&["--excl"], 1, 1);
            let mut o = OpenOptions::new();
            o.write(true);
            if a.has("--excl") {
                o.create_new(true);
            } else {
                o.create(true);
            }
            or_fail(o.open(&p[0]), || format!("creat {}", p[0]));
        }
        "mount" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&["--ro"], 3, 4);
            let flags = if a.has("--ro") { sys::MS_RDONLY } else { 0 };
            let opts = p.get(3).map_or("", |s| s.as_str());
            or_fail(
                sys::mount_fs(Path::new(&p[0]), Path::new(&p[1]), &p[2], flags, opts),
                || format!("mount -t {} -o '{opts}' {} {}", p[2], p[0], p[1]),
            );
        }
        "mkfiles" => cmd_mkfiles(rest),
        "checkfiles" => cmd_checkfiles(rest),
        "rmfiles" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 2, 3);
            let (dir, count, prefix) = many(p);
            for i in 0..count {
                let f = dir.join(format!("{prefix}{i}"));
                or_fail(fs::remove_file(&f), || format!("unlink {}", f.display()));
            }
        }
        "count" => {
            let p = Args::parse(rest, &[]).expect(&[], 1, 1)[0].clone();
            let mut n = 0u64;
            for e in or_fail(fs::read_dir(&p), || format!("opendir {p}")) {
                or_fail(e, || format!("readdir {p}"));
                n += 1;
            }
            println!("{n}");
        }
        "pwrite" => cmd_pwrite(rest),
        "verify" => cmd_verify(rest),
        "checkerboard" => cmd_checkerboard(rest),
        "fill" => cmd_fill(rest),
        "seek" => cmd_seek(rest),
        "append-records" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 4, 4);
            let (writer, count, rsize) = (num(&p[1]), num(&p[2]), size(&p[3]) as usize);
            if rsize < records::MIN_RECORD {
                usage(&format!("records are at least {} bytes", records::MIN_RECORD));
            }
            let f = or_fail(OpenOptions::new().append(true).create(true).open(&p[0]), || {
                format!("open {} O_APPEND", p[0])
            });
            for s in 0..count {
                let r = records::record(writer, s, rsize);
                // One write(2) per record: O_APPEND makes each land whole.
                match (&f).write(&r) {
                    Ok(n) if n == r.len() => {}
                    Ok(n) => die(&format!("short append: {n} of {} bytes", r.len())),
                    Err(e) => fail(&format!("append record {s} to {}", p[0]), &e),
                }
            }
        }
        "check-records" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 4, 4);
            let data = or_fail(fs::read(&p[0]), || format!("read {}", p[0]));
            if let Err(e) = records::check(&data, num(&p[1]), num(&p[2]), size(&p[3]) as usize) {
                die(&format!("{}: {e}", p[0]));
            }
        }
        "crash-workload" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 6, 6);
            let (count, bytes, sd) = (u64::from(num(&p[3])), size(&p[4]), u64::from(num(&p[5])));
            let out = crashload::run(Path::new(&p[0]), Path::new(&p[1]), &p[2], count, bytes, sd);
            let err = out.error.as_ref().map_or("none".to_string(), errno::describe);
            println!("synced={} errno={err}", out.synced);
        }
        "crash-verify" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 2, 2);
            match crashload::verify(Path::new(&p[0]), Path::new(&p[1])) {
                Ok(n) => println!("verified={n}"),
                Err(e) => die(&e),
            }
        }
        "corrupt" => cmd_corrupt(rest),
        "sb-info" => cmd_sb_info(rest),
        "image-cat" => {
            let a = Args::parse(rest, &[]);
            let p = a.expect(&[], 2, 2);
            let img = Image::open_replayed(Path::new(&p[0])).unwrap_or_else(|e| die(&format!("{}: {e}", p[0])));
            let ino = img.resolve(&p[1]).unwrap_or_else(|e| die(&format!("{}: {e}", p[0])));
            let data = img.read_file(ino).unwrap_or_else(|e| die(&format!("{}: {}: {e}", p[0], p[1])));
            or_fail(io::stdout().lock().write_all(&data), || "write to stdout".into());
        }
        c if crash::cli::COMMANDS.contains(&c) => exit(crash::cli::main(c, rest)),
        "-h" | "--help" | "help" => println!("{}", usage_text()),
        _ => usage(&format!("unknown command {cmd}")),
    }
}

fn num(s: &str) -> u32 {
    s.parse().unwrap_or_else(|_| usage(&format!("not a number: {s:?}")))
}

fn many(p: &[String]) -> (PathBuf, u32, String) {
    (
        PathBuf::from(&p[0]),
        num(&p[1]),
        p.get(2).cloned().unwrap_or_else(|| "f".into()),
    )
}

fn cmd_rename(rest: &[String]) {
    let a = Args::parse(rest, &[]);
    let p = a.expect(&["--noreplace", "--exchange"], 2, 2);
    let mut flags = 0;
    if a.has("--noreplace") {
        flags |= sys::RENAME_NOREPLACE;
    }
    if a.has("--exchange") {
        flags |= sys::RENAME_EXCHANGE;
    }
    or_fail(sys::rename2(Path::new(&p[0]), Path::new(&p[1]), flags), || {
        format!("rename {} {}", p[0], p[1])
    });
}

fn cmd_mkfiles(rest: &[String]) {
    let a = Args::parse(rest, &["--size"]);
    let p = a.expect(&[], 2, 3);
    let (dir, count, prefix) = many(p);
    let bytes = a.value("--size").map_or(0, size) as usize;
    let mut buf = vec![0u8; bytes];
    for i in 0..count {
        let f = dir.join(format!("{prefix}{i}"));
        let r = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&f)
            .and_then(|file| {
                if bytes > 0 {
                    Pattern::Seeded(u64::from(i)).fill(0, &mut buf);
                    file.write_all_at(&buf, 0)?;
                }
                Ok(())
            });
        if let Err(e) = r {
            println!("created={i}");
            fail(&format!("create {}", f.display()), &e);
        }
    }
    println!("created={count}");
}

fn cmd_checkfiles(rest: &[String]) {
    let a = Args::parse(rest, &["--size"]);
    let p = a.expect(&[], 2, 3);
    let (dir, count, prefix) = many(p);
    let bytes = a.value("--size").map_or(0, size);
    for i in 0..count {
        let f = dir.join(format!("{prefix}{i}"));
        let m = or_fail(fs::symlink_metadata(&f), || format!("stat {}", f.display()));
        if !m.is_file() || m.len() != bytes {
            die(&format!("{}: not a regular file of {bytes} bytes ({m:?})", f.display()));
        }
        if bytes > 0 {
            let data = or_fail(fs::read(&f), || format!("read {}", f.display()));
            if let Some((at, n)) = Pattern::Seeded(u64::from(i)).compare(0, &data) {
                die(&format!("{}: {n} bytes differ, first at {at}", f.display()));
            }
        }
    }
}

fn open_flags(direct: bool, sync: bool) -> i32 {
    (if direct { O_DIRECT } else { 0 }) | (if sync { O_SYNC } else { 0 })
}

const CHUNK: usize = 1 << 20;

fn cmd_pwrite(rest: &[String]) {
    let a = Args::parse(rest, &[]);
    let p = a.expect(
        &["--direct", "--sync", "--fsync", "--fdatasync", "--mmap", "--no-msync"],
        4,
        usize::MAX,
    );
    let (path, ranges) = (&p[0], &p[1..]);
    if ranges.len() % 3 != 0 {
        usage("pwrite: ranges come as OFFSET LEN SEED triples");
    }
    let f = or_fail(
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .custom_flags(open_flags(a.has("--direct"), a.has("--sync")))
            .open(path),
        || format!("open {path}"),
    );
    for r in ranges.chunks_exact(3) {
        let (offset, len, pat) = (size(&r[0]), size(&r[1]) as usize, seed(&r[2]));
        if a.has("--mmap") {
            mmap_write(&f, path, offset, len, pat, !a.has("--no-msync"));
            continue;
        }
        let mut buf = AlignedBuf::new(len.clamp(1, CHUNK));
        let mut done = 0usize;
        while done < len {
            let n = (len - done).min(CHUNK);
            let at = offset + done as u64;
            pat.fill(at, &mut buf[..n]);
            or_fail(f.write_all_at(&buf[..n], at), || {
                format!("pwrite {path} at {at} ({n} bytes)")
            });
            done += n;
        }
    }
    if a.has("--fsync") {
        or_fail(f.sync_all(), || format!("fsync {path}"));
    }
    if a.has("--fdatasync") {
        or_fail(f.sync_data(), || format!("fdatasync {path}"));
    }
}

/// `checkerboard [--verify] FILE COUNT SEED`: every other 4 KiB block,
/// COUNT of them, holds pattern SEED (a file of COUNT extents); written and
/// fsynced, or checked (the gaps read as zeros).
fn cmd_checkerboard(rest: &[String]) {
    let a = Args::parse(rest, &[]);
    let p = a.expect(&["--verify"], 3, 3);
    let (path, count, pat) = (&p[0], size(&p[1]), seed(&p[2]));
    let verify = a.has("--verify");
    let f = or_fail(
        OpenOptions::new().read(true).write(!verify).create(!verify).open(path),
        || format!("open {path}"),
    );
    let mut buf = vec![0u8; PAGE];
    let mut want = vec![0u8; PAGE];
    for i in 0..count {
        let at = 2 * i * PAGE as u64;
        if !verify {
            pat.fill(at, &mut buf);
            or_fail(f.write_all_at(&buf, at), || format!("pwrite {path} at {at}"));
            continue;
        }
        for (off, zero) in [(at, false), (at + PAGE as u64, true)] {
            if zero && i + 1 == count {
                break;
            }
            or_fail(f.read_exact_at(&mut buf, off), || format!("read {path} at {off}"));
            if zero {
                want.fill(0);
            } else {
                pat.fill(off, &mut want);
            }
            if buf != want {
                die(&format!("{path}: the block at {off} does not hold {}", if zero { "zeros" } else { "its pattern" }));
            }
        }
    }
    if !verify {
        or_fail(f.sync_all(), || format!("fsync {path}"));
    }
}

fn mmap_write(f: &File, path: &str, offset: u64, len: usize, pat: Pattern, msync: bool) {
    let end = offset + len as u64;
    let cur = or_fail(f.metadata(), || format!("stat {path}")).len();
    if cur < end {
        or_fail(f.set_len(end), || format!("extend {path} to {end}"));
    }
    let start = offset / PAGE as u64 * PAGE as u64;
    let mut m = or_fail(Mapping::new(f, start, (end - start) as usize, true), || {
        format!("mmap {path} at {start}")
    });
    let skip = (offset - start) as usize;
    pat.fill(offset, &mut m[skip..]);
    if msync {
        or_fail(m.sync(), || format!("msync {path}"));
    }
}

fn cmd_verify(rest: &[String]) {
    let a = Args::parse(rest, &["--size"]);
    let p = a.expect(&["--direct", "--mmap", "--or-zeros"], 1, usize::MAX);
    let (path, ranges) = (&p[0], &p[1..]);
    if ranges.len() % 3 != 0 || (ranges.is_empty() && a.value("--size").is_none()) {
        usage("verify: FILE, then --size or OFFSET LEN SEED triples");
    }
    let direct = a.has("--direct");
    let f = or_fail(
        OpenOptions::new().read(true).custom_flags(open_flags(direct, false)).open(path),
        || format!("open {path}"),
    );
    let fsize = or_fail(f.metadata(), || format!("stat {path}")).len();
    if let Some(want) = a.value("--size").map(size) {
        if fsize != want {
            die(&format!("{path}: size {fsize}, expected {want}"));
        }
    }
    let file = Verified { f: &f, path, fsize, direct, mmap: a.has("--mmap"), or_zeros: a.has("--or-zeros") };
    for r in ranges.chunks_exact(3) {
        file.check(size(&r[0]), size(&r[1]) as usize, seed(&r[2]));
    }
}

/// The file `verify` reads, and how it reads it.
struct Verified<'a> {
    f: &'a File,
    path: &'a str,
    fsize: u64,
    direct: bool,
    mmap: bool,
    /// A whole 4 KiB block of zeros passes too (a block whose data a
    /// power cut lost must read as zeros, never as anything else).
    or_zeros: bool,
}

impl Verified<'_> {
    /// One range: `len` bytes at `offset` hold `pat`; dies at the first mismatch.
    fn check(&self, offset: u64, len: usize, pat: Pattern) {
        let Verified { f, path, fsize, direct, mmap, or_zeros } = *self;
        if offset + len as u64 > fsize {
            die(&format!("{path}: {fsize} bytes, shorter than {offset}+{len}"));
        }
        let report = |at: u64, got: &[u8]| {
            let mut i = 0;
            while or_zeros && i < got.len() {
                let end = ((at + i as u64) / 4096 + 1) * 4096;
                let n = ((end - at) as usize).min(got.len()) - i;
                if got[i..i + n].iter().any(|&b| b != 0) {
                    if let Some((j, k)) = pat.compare(at + i as u64, &got[i..i + n]) {
                        let mut want = [0u8; 1];
                        pat.fill(at + (i + j) as u64, &mut want);
                        die(&format!(
                            "{path}: block at {} is neither zeros nor its pattern: {k} bytes differ, first at {}: got {:#04x}, expected {:#04x}",
                            at + i as u64, at + (i + j) as u64, got[i + j], want[0]
                        ));
                    }
                }
                i += n;
            }
            if or_zeros {
                return;
            }
            if let Some((i, n)) = pat.compare(at, got) {
                let mut want = [0u8; 1];
                pat.fill(at + i as u64, &mut want);
                die(&format!(
                    "{path}: {n} bytes differ in [{at}, +{}); first at offset {}: got {:#04x}, expected {:#04x}",
                    got.len(),
                    at + i as u64,
                    got[i],
                    want[0]
                ));
            }
        };
        if mmap {
            if len == 0 {
                return;
            }
            let start = offset / PAGE as u64 * PAGE as u64;
            let m = or_fail(Mapping::new(f, start, (offset + len as u64 - start) as usize, false), || {
                format!("mmap {path} at {start}")
            });
            report(offset, &m[(offset - start) as usize..]);
            return;
        }
        // O_DIRECT needs whole blocks: read whole pages, compare the range.
        let mut buf = AlignedBuf::new(CHUNK);
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let n = (len - done).min(CHUNK);
            let want = if direct { n.div_ceil(PAGE) * PAGE } else { n };
            let mut got = 0;
            while got < n {
                match f.read_at(&mut buf[got..want], at + got as u64) {
                    Ok(0) => die(&format!("{path}: unexpected end of file at {}", at + got as u64)),
                    Ok(k) => got += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => fail(&format!("read {path} at {}", at + got as u64), &e),
                }
            }
            report(at, &buf[..n]);
            done += n;
        }
    }
}

fn cmd_fill(rest: &[String]) {
    let a = Args::parse(rest, &["--chunk"]);
    let p = a.expect(&["--direct", "--no-fsync"], 2, 2);
    let (path, pat) = (&p[0], seed(&p[1]));
    let mut chunk = a.value("--chunk").map_or(64 << 10, size) as usize;
    let f = or_fail(
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(open_flags(a.has("--direct"), false))
            .open(path),
        || format!("open {path}"),
    );
    let mut buf = AlignedBuf::new(chunk);
    let mut off = 0u64;
    let err = loop {
        pat.fill(off, &mut buf[..chunk]);
        match f.write_at(&buf[..chunk], off) {
            Ok(0) => break io::Error::from_raw_os_error(28),
            Ok(n) => off += n as u64,
            Err(e) if e.raw_os_error() == Some(28) && chunk > PAGE && off.is_multiple_of(PAGE as u64) => {
                // Use up the last blocks a page at a time.
                chunk = PAGE;
            }
            Err(e) => break e,
        }
    };
    let fsync = if a.has("--no-fsync") {
        "skipped".to_string()
    } else {
        match f.sync_all() {
            Ok(()) => "ok".to_string(),
            Err(e) => errno::of(&e),
        }
    };
    println!("written={off} errno={} fsync={fsync}", errno::of(&err));
    if err.raw_os_error() != Some(28) {
        fail(&format!("write {path} at {off}"), &err);
    }
    if fsync != "ok" && fsync != "skipped" {
        die(&format!("fsync {path} after filling the filesystem: {fsync}"));
    }
}

fn cmd_seek(rest: &[String]) {
    let a = Args::parse(rest, &[]);
    let p = a.expect(&[], 3, 3);
    let whence = match p[1].as_str() {
        "data" => Seek::Data,
        "hole" => Seek::Hole,
        _ => usage("seek FILE data|hole OFFSET"),
    };
    let f = or_fail(File::open(&p[0]), || format!("open {}", p[0]));
    match or_fail(sys::seek(&f, size(&p[2]), whence), || format!("lseek {}", p[0])) {
        Some(o) => println!("{o}"),
        None => println!("ENXIO"),
    }
}

fn cmd_corrupt(rest: &[String]) {
    let a = Args::parse(rest, &[]);
    let p = a.expect(&[], 2, 2);
    let kind = Kind::parse(&p[1]).unwrap_or_else(|| {
        let names: Vec<_> = corrupt::KINDS.iter().map(|k| k.name()).collect();
        usage(&format!("KIND is one of {}", names.join(", ")))
    });
    // Read-write opens of block devices are exclusive: this fails if mounted.
    let dev = BlockDev::open(Path::new(&p[0]), true).unwrap_or_else(|e| die(&e.to_string()));
    let mut b = dev.read_block_new(0).unwrap_or_else(|e| die(&e.to_string()));
    corrupt::apply(kind, &mut b, dev.blocks()).unwrap_or_else(|e| die(&format!("{}: {e}", p[0])));
    dev.write_block(0, &b).unwrap_or_else(|e| die(&e.to_string()));
    dev.sync().unwrap_or_else(|e| die(&e.to_string()));
    println!("{}: superblock {}: {}", p[0], kind.name(), kind.expected().as_str());
}

fn cmd_sb_info(rest: &[String]) {
    let p = Args::parse(rest, &[]).expect(&[], 1, 1)[0].clone();
    let dev = BlockDev::open(Path::new(&p), false).unwrap_or_else(|e| die(&e.to_string()));
    let b = dev.read_block_new(0).unwrap_or_else(|e| die(&e.to_string()));
    let sb = Superblock::decode_and_validate(&b, dev.blocks())
        .unwrap_or_else(|e| die(&format!("{p}: superblock: {}", e.as_str())));
    let g = sb.geometry;
    for (k, v) in [
        ("total_blocks", g.total_blocks),
        ("data_start", g.data_start),
        ("data_blocks", g.data_blocks()),
        ("journal_blocks", g.journal_blocks),
        ("inode_count", g.inode_count),
        ("allocatable_inodes", g.allocatable_inodes()),
        ("block_bitmap_start", g.block_bitmap_start),
        ("inode_bitmap_start", g.inode_bitmap_start),
        ("inode_table_start", g.inode_table_start),
        ("inode_table_blocks", g.inode_table_blocks),
        ("free_blocks", sb.free_blocks),
        ("free_inodes", sb.free_inodes),
        ("state", u64::from(sb.state)),
        ("mount_count", u64::from(sb.mount_count)),
        ("device_blocks", dev.blocks()),
    ] {
        println!("{k}={v}");
    }
}
