// SPDX-License-Identifier: GPL-2.0

//! The operations the VM suite runs on a mounted crafted image, here on a
//! directory tree of the host's filesystem (they are the same system
//! calls): on a sound tree every one succeeds and leaves what it says.

use rsfs_fuzz::exercise::{use_tree, Mount, Report, PREFIX};
use std::fs;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rsfs-fuzz-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn every_operation_works_on_a_sound_tree() {
    let root = scratch("tree");
    fs::write(root.join("a"), b"first file").unwrap();
    fs::write(root.join("b"), vec![7u8; 100_000]).unwrap();
    fs::create_dir_all(root.join("d/e")).unwrap();
    fs::create_dir(root.join("f")).unwrap();
    fs::write(root.join("f/g"), b"in f").unwrap();
    std::os::unix::fs::symlink("d/e", root.join("link")).unwrap();
    // A sparse file larger than the 4 MiB read whole: SEEK_DATA finds the rest.
    let mut big = fs::File::create(root.join("sparse")).unwrap();
    big.seek(SeekFrom::Start(6 << 20)).unwrap();
    big.write_all(b"data far out").unwrap();
    big.set_len(8 << 20).unwrap();
    drop(big);
    // A file too large to append to is skipped, not failed.
    fs::File::create(root.join("huge"))
        .unwrap()
        .set_len(2 << 30)
        .unwrap();

    let (ops, failures) = use_tree(&root, true, true);
    assert!(failures.is_empty(), "{failures:?}");
    assert!(ops > 30, "only {ops} operations");

    // What the operations leave: the 64 KiB file, the first small file
    // appended to, the second truncated to half, the empty directory gone,
    // the last directory (f) renamed, the last file still where the walk
    // saw it (sparse; f/g moved with f) renamed and removed, nothing else
    // of ours.
    assert_eq!(
        fs::metadata(root.join(format!("{PREFIX}file")))
            .unwrap()
            .len(),
        64 << 10
    );
    assert_eq!(fs::metadata(root.join("a")).unwrap().len(), 10 + 100);
    assert_eq!(fs::metadata(root.join("b")).unwrap().len(), 50_000);
    assert!(!root.join("d/e").exists() && root.join("d").is_dir());
    assert_eq!(
        fs::read(root.join(format!("{PREFIX}renamed-dir/g"))).unwrap(),
        b"in f"
    );
    assert!(!root.join("sparse").exists() && root.join("huge").exists());
    let mut names: Vec<String> = fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(PREFIX))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [format!("{PREFIX}file"), format!("{PREFIX}renamed-dir")]
    );
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn read_only_walk_changes_nothing() {
    let root = scratch("ro");
    fs::create_dir(root.join("d")).unwrap();
    fs::write(root.join("d/x"), b"x").unwrap();
    let (ops, failures) = use_tree(&root, false, false);
    assert!(failures.is_empty(), "{failures:?}");
    assert_eq!(
        ops, 6,
        "stat+readdir of two directories, stat+read of one file"
    );
    assert_eq!(fs::read_dir(&root).unwrap().count(), 1);
    fs::remove_dir_all(&root).unwrap();
}

#[test]
fn failures_are_counted_by_errno() {
    let (_, failures) = use_tree(std::path::Path::new("/nonexistent-rsfs-fuzz"), true, false);
    assert!(!failures.is_empty());
    let r = Report {
        mount: Mount::ReadWrite,
        ops: 10,
        failures: vec![
            ("read /m/a".into(), io::Error::from_raw_os_error(117)),
            ("append /m/b".into(), io::Error::from_raw_os_error(5)),
            ("read-back-64k".into(), io::Error::other("different")),
        ],
        umount: Ok(()),
    };
    assert_eq!(r.exit_code(), 1);
    assert_eq!(
        r.summary(),
        "summary mount=rw ops=10 failed=3 euclean=1 eio=1 first=read:/m/a:EUCLEAN umount=ok"
    );
    let refused = Report {
        mount: Mount::Refused(io::Error::from_raw_os_error(117)),
        ops: 0,
        failures: vec![],
        umount: Ok(()),
    };
    assert_eq!(refused.exit_code(), 2);
    assert!(refused
        .summary()
        .starts_with("summary mount=refused:EUCLEAN ops=0"));
    let stuck = Report {
        mount: Mount::ReadWrite,
        ops: 1,
        failures: vec![],
        umount: Err(io::Error::from_raw_os_error(16)),
    };
    assert_eq!(stuck.exit_code(), 3);
    assert!(stuck.summary().ends_with("umount=EBUSY"));
}
