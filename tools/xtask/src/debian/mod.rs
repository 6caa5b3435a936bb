//! Debian packages at pinned versions: fetched with `apt-get download`,
//! cached and unpacked under `target/tessera/debian/`.

pub mod deb;
pub mod fetch;
pub mod pins;

use std::path::{Path, PathBuf};

/// Where fetched and unpacked packages are kept between runs.
pub fn cache_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("debian")
}
