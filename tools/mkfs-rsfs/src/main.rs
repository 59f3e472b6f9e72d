// SPDX-License-Identifier: GPL-2.0

//! `mkfs.rsfs [-b 4096] [-L label] [-N inodes] [-J journal_blocks]
//! [-O [^]journal] [-f] [-q] DEVICE_OR_FILE [BLOCKS]`

use rsfs_image::format::BLOCK_SIZE_U64;
use rsfs_image::mkfs::{mkfs, MkfsOptions};
use std::path::PathBuf;
use std::process::exit;

const USAGE: &str = "usage: mkfs.rsfs [-b 4096] [-L label] [-N inodes] [-J journal_blocks] [-O [^]journal] [-f] [-q] DEVICE_OR_FILE [BLOCKS]

  -b SIZE    block size; only 4096 is supported
  -L LABEL   volume label, at most 32 bytes
  -N COUNT   inode slots (rounded up to a multiple of 16; default one per 16 KiB, at least 64)
  -J BLOCKS  journal blocks: the metadata journal, at least 16 (default total/64, 256..16384, at most total/8)
  -O journal   a journalled filesystem, format 1.1 (the default)
  -O ^journal  no journal: format 1.0, the journal region reserved and unused
             (the kernel mounts it read-only only; fsck.rsfs -O journal adds one)
  -f         overwrite an existing filesystem
  -q         quiet
  BLOCKS     use only this many 4 KiB blocks (or a size with a K, M, G or T
             suffix); a regular file that is missing or shorter is created or
             extended to this size";

fn fail(msg: &str) -> ! {
    eprintln!("mkfs.rsfs: {msg}");
    exit(1);
}

fn usage(msg: &str) -> ! {
    eprintln!("mkfs.rsfs: {msg}\n{USAGE}");
    exit(1);
}

fn number(what: &str, s: &str) -> u64 {
    s.parse::<u64>()
        .unwrap_or_else(|_| usage(&format!("invalid {what}: {s:?}")))
}

/// Blocks from "N" (blocks) or "N[KMGT]" (bytes, rounded down to blocks).
fn size_in_blocks(s: &str) -> u64 {
    let (digits, shift) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let shift = match c.to_ascii_uppercase() {
                'K' => 10,
                'M' => 20,
                'G' => 30,
                'T' => 40,
                _ => usage(&format!("invalid size: {s:?}")),
            };
            (&s[..i], Some(shift))
        }
        _ => (s, None),
    };
    let n = number("size", digits);
    match shift {
        None => n,
        Some(sh) => n
            .checked_mul(1u64 << sh)
            .map(|b| b / BLOCK_SIZE_U64)
            .unwrap_or_else(|| usage(&format!("size too large: {s:?}"))),
    }
}

fn main() {
    let mut opts = MkfsOptions::default();
    let mut quiet = false;
    let mut positional: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    let mut only_positional = false;
    while let Some(arg) = args.next() {
        if only_positional || !arg.starts_with('-') || arg == "-" {
            positional.push(arg);
            continue;
        }
        if arg == "--" {
            only_positional = true;
            continue;
        }
        if arg == "-h" || arg == "--help" {
            println!("{USAGE}");
            exit(0);
        }
        for (i, c) in arg[1..].char_indices() {
            match c {
                'f' => opts.force = true,
                'q' => quiet = true,
                'b' | 'L' | 'N' | 'J' | 'O' => {
                    let rest = &arg[1 + i + 1..];
                    let value = if rest.is_empty() {
                        args.next()
                            .unwrap_or_else(|| usage(&format!("-{c} needs a value")))
                    } else {
                        rest.to_string()
                    };
                    match c {
                        'b' => {
                            if value != "4096" {
                                fail("rsfs supports only 4096-byte blocks for now");
                            }
                        }
                        'L' => opts.label = value.into_bytes(),
                        'N' => opts.inodes = Some(number("inode count", &value)),
                        'O' => {
                            for feature in value.split(',') {
                                match feature {
                                    "journal" => opts.no_journal = false,
                                    "^journal" => opts.no_journal = true,
                                    _ => usage(&format!(
                                        "unknown feature {feature:?} (known: journal, ^journal)"
                                    )),
                                }
                            }
                        }
                        _ => opts.journal_blocks = Some(number("journal size", &value)),
                    }
                    break;
                }
                _ => usage(&format!("unknown option -{c}")),
            }
        }
    }
    let path = match positional.as_slice() {
        [p] => PathBuf::from(p),
        [p, b] => {
            opts.blocks = Some(size_in_blocks(b));
            PathBuf::from(p)
        }
        [] => usage("no device given"),
        _ => usage("too many arguments"),
    };
    let sb = mkfs(&path, &opts).unwrap_or_else(|e| fail(&e.to_string()));
    if !quiet {
        let g = sb.geometry;
        println!(
            "mkfs.rsfs: made rsfs {}.{} on {}",
            sb.version_major,
            sb.version_minor,
            path.display()
        );
        println!(
            "  size:    {} blocks of 4096 bytes ({} MiB)",
            g.total_blocks,
            (g.total_blocks * BLOCK_SIZE_U64) >> 20
        );
        println!(
            "  inodes:  {} slots ({} usable), table at blocks {}..{}",
            g.inode_count,
            g.allocatable_inodes() + 1,
            g.inode_table_start,
            g.inode_table_start + g.inode_table_blocks - 1
        );
        if sb.has_journal() {
            println!(
                "  journal: {} blocks at block {}",
                g.journal_blocks, g.journal_start
            );
        } else {
            println!(
                "  journal: none ({} blocks reserved at block {})",
                g.journal_blocks, g.journal_start
            );
        }
        println!(
            "  data:    {} blocks from block {}",
            g.data_blocks(),
            g.data_start
        );
        println!("  uuid:    {}", rsfs_image::format_uuid(&sb.uuid));
        if !sb.label_bytes().is_empty() {
            println!("  label:   {}", String::from_utf8_lossy(sb.label_bytes()));
        }
    }
}
