//! The Debian packages xtask fetches, each at one pinned version: this
//! table is the only place their names and versions are written.
//!
//! A pin names the exact file: its size and SHA-256 are Debian's (the
//! `Size` and `SHA256` fields of `apt-cache show`), and a cached or freshly
//! downloaded `.deb` that does not match them is refused.
//!
//! # Updating a pin
//!
//! Debian keeps a version fetchable while it is in `bookworm` (main, replaced
//! at each point release) or in `bookworm-security` (replaced by the next
//! security upload). Prefer a version both carry: it lasts longest. When a
//! pinned version can no longer be fetched (xtask says so, naming it):
//!
//! ```sh
//! sudo apt-get update
//! apt-cache policy linux-image-cloud-amd64 busybox-static   # the versions on offer
//! apt-cache show linux-image-cloud-amd64=VERSION | grep Depends   # its ABI package
//! apt-cache show PACKAGE=VERSION | grep -E '^(Package|Version|Size|SHA256):'
//! ```
//!
//! and copy the four fields into the pin. The kernel's package name carries
//! its ABI (`6.1.0-50`), so a new kernel is a new name as well as a new
//! version.

/// One Debian package file, as the archive lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pin {
    pub package: &'static str,
    pub version: &'static str,
    /// The `.deb`'s size in bytes.
    pub size: u64,
    /// The `.deb`'s SHA-256, lower-case hex.
    pub sha256: &'static str,
}

/// Debian's kernel for virtual machines ("cloud"): L1 of the nested-KVM run
/// (its `kvm`, `kvm-amd` and `irqbypass` modules), and the Linux guest of the
/// `linux` deployment (its `/boot/vmlinuz-RELEASE`).
/// In `bookworm` main and `bookworm-security` alike.
pub const LINUX_IMAGE_CLOUD: Pin = Pin {
    package: "linux-image-6.1.0-50-cloud-amd64",
    version: "6.1.176-1",
    size: 26_484_304,
    sha256: "efe19f605b6f54a8352e68d85a629abb2d30b72a085faef603a9152590baa791",
};

/// A statically linked busybox: the shell and tools of every initramfs xtask builds.
pub const BUSYBOX_STATIC: Pin = Pin {
    package: "busybox-static",
    version: "1:1.35.0-4+deb12u1+b1",
    size: 928_188,
    sha256: "3d3fdbe91d4660c873e14b092c213fe81c1da6362daa236eb25d0171eb108744",
};

impl Pin {
    /// `package=version`, as apt takes it.
    pub fn spec(&self) -> String {
        format!("{}={}", self.package, self.version)
    }

    /// The cache's file name: `package_version_amd64.deb`, the epoch's colon
    /// written `%3a` as apt writes it.
    pub fn file_name(&self) -> String {
        format!(
            "{}_{}_amd64.deb",
            self.package,
            self.version.replace(':', "%3a")
        )
    }

    /// The kernel release a `linux-image-RELEASE` package installs
    /// (`/boot/vmlinuz-RELEASE`, `/lib/modules/RELEASE/`); `None` for
    /// another package.
    pub fn kernel_release(&self) -> Option<&'static str> {
        self.package.strip_prefix("linux-image-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Pin; 2] = [LINUX_IMAGE_CLOUD, BUSYBOX_STATIC];

    #[test]
    fn pins_are_well_formed() {
        for pin in ALL {
            assert_eq!(pin.sha256.len(), 64, "{}", pin.package);
            assert!(
                pin.sha256
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
                "{}",
                pin.package
            );
            assert!(pin.size > 0 && !pin.version.is_empty(), "{}", pin.package);
        }
    }

    #[test]
    fn file_names_are_apt_s() {
        assert_eq!(
            BUSYBOX_STATIC.file_name(),
            "busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb"
        );
        assert_eq!(
            BUSYBOX_STATIC.spec(),
            "busybox-static=1:1.35.0-4+deb12u1+b1"
        );
    }

    #[test]
    fn the_kernel_package_names_its_release() {
        assert_eq!(
            LINUX_IMAGE_CLOUD.kernel_release(),
            Some("6.1.0-50-cloud-amd64")
        );
        assert_eq!(BUSYBOX_STATIC.kernel_release(), None);
    }
}
