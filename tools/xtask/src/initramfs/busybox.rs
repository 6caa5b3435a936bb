//! Busybox in an initramfs: Debian's `busybox-static` at its pinned
//! version, as `/bin/busybox` with `/bin/sh`, and the directories an
//! `/init` mounts on. Every initramfs xtask builds starts from this.

use std::path::Path;

use super::Initramfs;
use crate::debian::{deb, pins};

/// Where busybox-static puts busybox (bookworm; later releases under /usr).
const BUSYBOX_PATHS: &[&str] = &["bin/busybox", "usr/bin/busybox"];

/// Adds busybox (fetched and unpacked into `cache` if need be), `/bin/sh`,
/// and `/proc`, `/sys`, `/dev` and `/tmp`.
pub fn add(tree: &mut Initramfs, cache: &Path) -> Result<(), String> {
    let package = deb::unpacked(&pins::BUSYBOX_STATIC, cache)?;
    let busybox = BUSYBOX_PATHS
        .iter()
        .map(|path| package.join(path))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{} has no busybox", pins::BUSYBOX_STATIC.spec()))?;
    tree.host_file("/bin/busybox", &busybox)?;
    tree.symlink("/bin/sh", "busybox")?;
    for dir in ["/proc", "/sys", "/dev", "/tmp"] {
        tree.dir(dir)?;
    }
    Ok(())
}
