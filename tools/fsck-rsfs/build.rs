// SPDX-License-Identifier: GPL-2.0

//! Makes `fsck.rsfs` a symlink to the `fsck-rsfs` binary in the output
//! directory (e.g. `target/release/`). Cargo cannot give a binary a name with
//! a dot in it, and `fsck.rsfs` is the name `fsck -t rsfs` looks for.

use std::path::Path;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    let (Some(out), Some(profile)) = (std::env::var_os("OUT_DIR"), std::env::var_os("PROFILE"))
    else {
        return;
    };
    // OUT_DIR is <profile dir>/build/<package>-<hash>/out.
    let Some(dir) = Path::new(&out).ancestors().nth(3) else {
        return;
    };
    if dir.file_name() != Some(profile.as_os_str()) {
        return;
    }
    let link = dir.join("fsck.rsfs");
    let _ = std::fs::remove_file(&link);
    let _ = std::os::unix::fs::symlink("fsck-rsfs", &link);
}
