// SPDX-License-Identifier: GPL-2.0

//! Scratch image files for tests.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

/// A file under the system temporary directory, unique to this process
/// and call, removed when dropped.
pub struct TempFile(pub PathBuf);

impl TempFile {
    /// A path for a new scratch file; `tag` makes it recognisable.
    pub fn new(tag: &str) -> TempFile {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("rsfs-test-{}-{n}-{tag}.img", std::process::id()));
        let _ = std::fs::remove_file(&p);
        TempFile(p)
    }

    /// A scratch file of `bytes` bytes, every byte `fill`.
    pub fn with_size(tag: &str, bytes: usize, fill: u8) -> std::io::Result<TempFile> {
        let t = TempFile::new(tag);
        std::fs::write(&t.0, vec![fill; bytes])?;
        Ok(t)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
