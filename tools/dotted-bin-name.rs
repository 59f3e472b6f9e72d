// SPDX-License-Identifier: GPL-2.0

//! Build script shared by mkfs-rsfs and fsck-rsfs: links `mkfs.rsfs` (or
//! `fsck.rsfs`) to the package's binary in the output directory (e.g.
//! `target/release/`). Cargo cannot give a binary a name with a dot in it,
//! and `mkfs -t rsfs` / `fsck -t rsfs` look for exactly those names.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=../dotted-bin-name.rs");
    let (Some(out), Some(profile), Ok(package)) = (
        std::env::var_os("OUT_DIR"),
        std::env::var_os("PROFILE"),
        std::env::var("CARGO_PKG_NAME"),
    ) else {
        return;
    };
    // The package `mkfs-rsfs` builds binary `mkfs-rsfs`, linked as `mkfs.rsfs`.
    let Some((tool, fs)) = package.split_once('-') else {
        return;
    };
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(dir) = Path::new(&out).ancestors().nth(3) else {
        return;
    };
    if dir.file_name() != Some(profile.as_os_str()) {
        return;
    }
    let link = dir.join(format!("{tool}.{fs}"));
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink(&package, &link);
}
