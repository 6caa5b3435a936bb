//! The files a manifest names by what they are (`tessera_manifest::NamedFile`),
//! fetched or built on demand into `target/tessera/`:
//!
//! - `debian:linux-image-cloud-amd64` — the kernel the way a Debian user
//!   gets it: the pinned cloud kernel package (`debian::pins`, the one
//!   place its version is written), fetched with `apt-get download`,
//!   unpacked, its `/boot/vmlinuz-RELEASE`. The pinned package's own name
//!   (`linux-image-6.1.0-50-cloud-amd64`) names it too.
//! - `initramfs:linux` — the Linux guest's initramfs: busybox-static and
//!   `test-guests/linux/init` as `/init`, a newc cpio archive, written
//!   anew each time (it is small) so it always holds the `init` of the tree.
//!
//! Downloads and unpacked packages are cached between runs
//! (`target/tessera/debian/`).

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use tessera_manifest::NamedFile;

use crate::debian::{self, deb, pins};
use crate::initramfs::{Initramfs, Source, busybox};
use crate::workspace::Workspace;

/// The metapackage a Debian user installs for a virtual machine's kernel.
pub const CLOUD_KERNEL: &str = "linux-image-cloud-amd64";

/// The kernel packages a manifest may name, and the pin each stands for.
const KERNELS: &[(&str, pins::Pin)] = &[
    (CLOUD_KERNEL, pins::LINUX_IMAGE_CLOUD),
    (pins::LINUX_IMAGE_CLOUD.package, pins::LINUX_IMAGE_CLOUD),
];

/// The initramfs images xtask builds, by name: the `/init` each runs
/// (relative to the repository root).
const INITRAMFS: &[(&str, &str)] = &[("linux", "test-guests/linux/init")];

/// One resolution at a time in this process: two threads that load the
/// same manifest (the unit tests do) must not fetch, unpack or write one
/// file at once.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Where `named` is on the host, fetching or building it first.
pub fn resolve(named: NamedFile<'_>) -> Result<PathBuf, String> {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(PoisonError::into_inner);
    let workspace = Workspace::locate()?;
    match named {
        NamedFile::Debian(package) => kernel(&workspace, package),
        NamedFile::Initramfs(name) => initramfs(&workspace, name),
    }
}

/// The pin behind kernel package `package`.
pub fn kernel_pin(package: &str) -> Result<pins::Pin, String> {
    KERNELS
        .iter()
        .find(|(name, _)| *name == package)
        .map(|(_, pin)| *pin)
        .ok_or_else(|| {
            let known: Vec<&str> = KERNELS.iter().map(|(name, _)| *name).collect();
            format!(
                "xtask pins no Debian kernel package `{package}`; it knows {}",
                known.join(", ")
            )
        })
}

/// The kernel of `package`, fetched and unpacked.
fn kernel(workspace: &Workspace, package: &str) -> Result<PathBuf, String> {
    let pin = kernel_pin(package)?;
    let release = pin
        .kernel_release()
        .ok_or_else(|| format!("{} is not a linux-image package", pin.package))?;
    let unpacked = deb::unpacked(&pin, &debian::cache_dir(&workspace.out_dir()))?;
    let vmlinuz = unpacked.join("boot").join(format!("vmlinuz-{release}"));
    if vmlinuz.is_file() {
        Ok(vmlinuz)
    } else {
        Err(format!(
            "{} has no /boot/vmlinuz-{release} ({})",
            pin.spec(),
            vmlinuz.display()
        ))
    }
}

/// The initramfs called `name`, built into `target/tessera/initramfs/`.
fn initramfs(workspace: &Workspace, name: &str) -> Result<PathBuf, String> {
    let Some((_, init)) = INITRAMFS.iter().find(|(known, _)| *known == name) else {
        let known: Vec<&str> = INITRAMFS.iter().map(|(name, _)| *name).collect();
        return Err(format!(
            "xtask builds no initramfs `{name}`; it builds {}",
            known.join(", ")
        ));
    };
    let dir = workspace.out_dir().join("initramfs");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let out = dir.join(format!("{name}.cpio"));
    let tree = tree(
        &workspace.root.join(init),
        &debian::cache_dir(&workspace.out_dir()),
    )?;
    tree.write(&out)?;
    Ok(out)
}

/// Busybox and `init` as `/init`.
fn tree(init: &Path, cache: &Path) -> Result<Initramfs, String> {
    let script = std::fs::read(init).map_err(|e| format!("{}: {e}", init.display()))?;
    let mut tree = Initramfs::new();
    busybox::add(&mut tree, cache)?;
    tree.file("/init", Source::Bytes(script), 0o755)?;
    Ok(tree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cloud_kernel_is_the_pinned_package() {
        assert_eq!(kernel_pin(CLOUD_KERNEL).unwrap(), pins::LINUX_IMAGE_CLOUD);
        assert_eq!(
            kernel_pin(pins::LINUX_IMAGE_CLOUD.package).unwrap(),
            pins::LINUX_IMAGE_CLOUD
        );
        let error = kernel_pin("linux-image-amd64").unwrap_err();
        assert!(error.contains("`linux-image-amd64`"), "{error}");
        assert!(error.contains(CLOUD_KERNEL), "{error}");
    }

    #[test]
    fn the_linux_init_is_in_the_tree_and_a_script() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for (_, init) in INITRAMFS {
            let script = std::fs::read_to_string(root.join(init)).unwrap();
            assert!(script.starts_with("#!/bin/sh\n"), "{init}");
        }
    }

    #[test]
    fn unknown_initramfs_names_are_refused_with_the_known_ones() {
        let workspace = Workspace::locate().unwrap();
        let error = initramfs(&workspace, "windows").unwrap_err();
        assert!(error.contains("no initramfs `windows`"), "{error}");
        assert!(error.contains("linux"), "{error}");
    }
}
