//! Building the bare-metal crates (kernel now; components and test guests later).

use std::path::{Path, PathBuf};

use crate::workspace::Workspace;

/// The target every bare-metal crate is built for.
pub const BARE_METAL_TARGET: &str = "x86_64-unknown-none";

/// The kernel's package (and binary) name.
pub const KERNEL: &str = "tessera-kernel";

/// Every package built for [`BARE_METAL_TARGET`]. Adding a component or a test guest
/// is one line here.
pub const BARE_METAL_PACKAGES: &[&str] = &[KERNEL];

/// Cargo's build profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

impl Profile {
    pub fn from_release_flag(release: bool) -> Self {
        if release { Self::Release } else { Self::Debug }
    }

    /// The directory cargo puts this profile's artifacts in.
    pub fn dir_name(self) -> &'static str {
        match self {
            Self::Debug => "debug",
            Self::Release => "release",
        }
    }
}

/// The built bare-metal images.
#[derive(Debug, Clone)]
pub struct Artifacts {
    pub kernel: PathBuf,
}

/// Builds every bare-metal package in one cargo invocation.
pub fn build(workspace: &Workspace, profile: Profile) -> Result<Artifacts, String> {
    println!(
        "xtask: building {} ({}, {BARE_METAL_TARGET})",
        BARE_METAL_PACKAGES.join(", "),
        profile.dir_name()
    );
    let status = workspace
        .cargo()
        .args(build_args(profile))
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build of the bare-metal crates failed ({status})"
        ));
    }
    let kernel = artifact_path(&workspace.target_dir, profile, KERNEL);
    if !kernel.is_file() {
        return Err(format!(
            "cargo build succeeded but {} does not exist",
            kernel.display()
        ));
    }
    Ok(Artifacts { kernel })
}

/// The arguments after `cargo`.
pub fn build_args(profile: Profile) -> Vec<String> {
    let mut args = vec!["build".to_string()];
    for package in BARE_METAL_PACKAGES {
        args.push("-p".into());
        args.push((*package).into());
    }
    args.push("--target".into());
    args.push(BARE_METAL_TARGET.into());
    if profile == Profile::Release {
        args.push("--release".into());
    }
    args
}

/// Where cargo puts the binary `name` of a bare-metal package.
pub fn artifact_path(target_dir: &Path, profile: Profile, name: &str) -> PathBuf {
    target_dir
        .join(BARE_METAL_TARGET)
        .join(profile.dir_name())
        .join(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_build_arguments() {
        assert_eq!(
            build_args(Profile::Debug),
            [
                "build",
                "-p",
                "tessera-kernel",
                "--target",
                "x86_64-unknown-none"
            ]
        );
    }

    #[test]
    fn release_build_arguments() {
        assert_eq!(
            build_args(Profile::Release).last().map(String::as_str),
            Some("--release")
        );
    }

    #[test]
    fn artifact_paths_follow_cargo_layout() {
        assert_eq!(
            artifact_path(Path::new("/t"), Profile::Release, KERNEL),
            Path::new("/t/x86_64-unknown-none/release/tessera-kernel")
        );
        assert_eq!(
            artifact_path(Path::new("/t"), Profile::Debug, KERNEL),
            Path::new("/t/x86_64-unknown-none/debug/tessera-kernel")
        );
    }
}
