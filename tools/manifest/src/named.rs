//! Files a manifest names by what they are rather than where they lie,
//! which whoever loads the manifest (xtask) fetches or builds:
//!
//! - `debian:PACKAGE`: the Linux kernel of a Debian kernel package, at the
//!   version xtask pins (`tools/xtask/src/debian/pins.rs`) — such as
//!   `debian:linux-image-cloud-amd64`, the package a Debian user installs
//!   for a virtual machine;
//! - `initramfs:NAME`: an initramfs xtask builds, such as
//!   `initramfs:linux` (busybox-static and `test-guests/linux/init`).
//!
//! Anything else is a file path, relative to the manifest.

use std::path::PathBuf;

/// A named file, as a manifest writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedFile<'a> {
    /// `debian:PACKAGE`.
    Debian(&'a str),
    /// `initramfs:NAME`.
    Initramfs(&'a str),
}

impl<'a> NamedFile<'a> {
    /// The named file `written` stands for, if it is one.
    #[must_use]
    pub fn parse(written: &'a str) -> Option<Self> {
        let (scheme, name) = written.split_once(':')?;
        let named = match scheme {
            "debian" => Self::Debian(name),
            "initramfs" => Self::Initramfs(name),
            _ => return None,
        };
        (!name.is_empty()).then_some(named)
    }
}

impl std::fmt::Display for NamedFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Debian(package) => write!(f, "debian:{package}"),
            Self::Initramfs(name) => write!(f, "initramfs:{name}"),
        }
    }
}

/// Where a named file is on the host, or why it cannot be had.
pub type Resolver<'r> = &'r dyn Fn(NamedFile<'_>) -> Result<PathBuf, String>;

/// The resolver of [`crate::load`]: none (named files are xtask's).
pub fn unresolved(named: NamedFile<'_>) -> Result<PathBuf, String> {
    Err(format!(
        "`{named}` is fetched or built by cargo xtask (cargo xtask manifest checks this \
         manifest with it)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_have_a_known_scheme_and_a_name() {
        assert_eq!(
            NamedFile::parse("debian:linux-image-cloud-amd64"),
            Some(NamedFile::Debian("linux-image-cloud-amd64"))
        );
        assert_eq!(
            NamedFile::parse("initramfs:linux"),
            Some(NamedFile::Initramfs("linux"))
        );
        for path in [
            "./vmlinuz",
            "debian:",
            "c:/vmlinuz",
            "vmlinuz",
            "images/debian:x",
        ] {
            assert_eq!(NamedFile::parse(path), None, "{path}");
        }
        assert_eq!(
            NamedFile::Debian("linux-image-cloud-amd64").to_string(),
            "debian:linux-image-cloud-amd64"
        );
    }
}
