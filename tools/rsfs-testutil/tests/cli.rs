// SPDX-License-Identifier: GPL-2.0

//! rsfs-testutil's device commands on image files, end to end: each
//! superblock corruption makes fsck.rsfs refuse the image; sb-info reports
//! what mkfs made; image-cat reads files back; fill stops at ENOSPC.

use rsfs_image::mkfs::{mkfs, MkfsOptions};
use rsfs_image::{FileLayout, Image, TempFile};
use rsfs_testutil::corrupt::KINDS;
use rsfs_testutil::pattern::Pattern;
use std::process::Command;

const TU: &str = env!("CARGO_BIN_EXE_rsfs-testutil");

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(TU).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn image(tag: &str, blocks: u64) -> TempFile {
    let t = TempFile::new(tag);
    let opts = MkfsOptions {
        blocks: Some(blocks),
        ..MkfsOptions::default()
    };
    mkfs(&t.0, &opts).unwrap();
    t
}

fn fsck_code(t: &TempFile) -> i32 {
    fsck_rsfs::fsck(
        &t.0,
        &fsck_rsfs::Options {
            repair: false,
            verbose: false,
        },
    )
    .exit_code
}

#[test]
fn every_corruption_is_refused_by_fsck_and_sb_info() {
    for k in KINDS {
        // 3000 blocks: the one bitmap block covers more than the image.
        let t = image(k.name(), 3000);
        assert_eq!(fsck_code(&t), 0);
        let p = t.0.to_str().unwrap();
        let (code, out, err) = run(&["corrupt", p, k.name()]);
        assert_eq!(code, 0, "{}: {out}{err}", k.name());
        assert!(out.contains(k.expected().as_str()), "{out}");
        assert!(fsck_code(&t) >= 4, "fsck accepted a bad {}", k.name());
        let (code, _, err) = run(&["sb-info", p]);
        assert_eq!(code, 1, "sb-info accepted a bad {}", k.name());
        assert!(err.contains("superblock"), "{err}");
        // A damaged superblock is not damaged again.
        let (code, _, err) = run(&["corrupt", p, k.name()]);
        assert_eq!(code, 1, "{err}");
    }
}

#[test]
fn sb_info_reports_the_geometry() {
    let t = image("info", 4096);
    let (code, out, err) = run(&["sb-info", t.0.to_str().unwrap()]);
    assert_eq!(code, 0, "{err}");
    let g = Image::open(&t.0, false).unwrap().geometry();
    assert!(out.contains("total_blocks=4096\n"), "{out}");
    assert!(out.contains(&format!("data_blocks={}\n", g.data_blocks())), "{out}");
    assert!(out.contains(&format!("free_inodes={}\n", g.allocatable_inodes())), "{out}");
    assert!(out.contains("state=1\n"), "{out}");
}

#[test]
fn image_cat_reads_files_and_fails_on_missing_ones() {
    let t = image("cat", 4096);
    let mut data = vec![0u8; 3 * 4096 + 123];
    Pattern::Seeded(5).fill(0, &mut data);
    {
        let mut img = Image::open(&t.0, true).unwrap();
        let d = img.mkdir(1, b"dir", 0o755).unwrap();
        img.create_file(d, b"f", &data, FileLayout::fragmented(1)).unwrap();
        img.flush().unwrap();
    }
    let p = t.0.to_str().unwrap();
    let out = Command::new(TU).args(["image-cat", p, "/dir/f"]).output().unwrap();
    assert!(out.status.success());
    assert_eq!(out.stdout, data);
    let (code, _, err) = run(&["image-cat", p, "/dir/none"]);
    assert_eq!(code, 1, "{err}");
}

#[test]
fn pwrite_verify_and_seek_on_a_regular_file() {
    let t = TempFile::new("pv");
    let p = t.0.to_str().unwrap();
    assert_eq!(run(&["pwrite", p, "1M", "5000", "9"]).0, 0);
    assert_eq!(run(&["verify", p, "1M", "5000", "9"]).0, 0);
    assert_eq!(run(&["verify", p, "0", "1M", "zero"]).0, 0);
    let (code, _, err) = run(&["verify", p, "1M", "5000", "8"]);
    assert_eq!(code, 1);
    assert!(err.contains("differ"), "{err}");
    let (code, _, err) = run(&["verify", p, "1M", "5001", "9"]);
    assert_eq!(code, 1);
    assert!(err.contains("shorter"), "{err}");
    assert_eq!(run(&["seek", p, "data", "2M"]).1, "ENXIO\n");
    let (code, _, err) = run(&["mkdir", p]);
    assert_eq!(code, 1);
    assert!(err.contains("EEXIST: File exists"), "{err}");
}
