//! Scratch directories for tests that touch files: one per test, under the
//! system's temporary directory, emptied when made.

use std::fs;
use std::path::PathBuf;

/// A fresh, empty directory named after the test and this process.
pub fn dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("xtask-{test}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    dir
}
