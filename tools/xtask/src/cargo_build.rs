//! Building the bare-metal crates: the kernel, the component images and the
//! guest images, in one cargo invocation.

use std::path::{Path, PathBuf};

use crate::guests::GuestCrate;
use crate::workspace::Workspace;

/// The target every bare-metal crate is built for.
pub const BARE_METAL_TARGET: &str = "x86_64-unknown-none";

/// The kernel's package (and binary) name.
pub const KERNEL: &str = "tessera-kernel";

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
    /// Where the component ELFs are (`<dir>/<image>`), and the guests'
    /// (`<dir>/<binary>`).
    pub dir: PathBuf,
}

impl Artifacts {
    /// The ELF of component image `name`.
    pub fn image(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The image of a guest crate.
    pub fn guest(&self, guest: &GuestCrate) -> PathBuf {
        self.dir.join(&guest.binary)
    }
}

/// Builds the kernel, the component `images` and the `guests` in one cargo
/// invocation.
pub fn build(
    workspace: &Workspace,
    profile: Profile,
    images: &[String],
    guests: &[GuestCrate],
) -> Result<Artifacts, String> {
    crate::toolchain::ensure_target(workspace)?;
    let packages = packages(images, guests);
    println!(
        "xtask: building {} ({}, {BARE_METAL_TARGET})",
        packages.join(", "),
        profile.dir_name()
    );
    let status = workspace
        .cargo()
        .args(build_args(profile, &packages))
        .status()
        .map_err(|e| format!("cannot run cargo build: {e}"))?;
    if !status.success() {
        return Err(format!(
            "cargo build of the bare-metal crates failed ({status})"
        ));
    }
    let artifacts = Artifacts {
        kernel: artifact_path(&workspace.target_dir, profile, KERNEL),
        dir: artifact_path(&workspace.target_dir, profile, ""),
    };
    let built = std::iter::once(artifacts.kernel.clone())
        .chain(images.iter().map(|image| artifacts.image(image)))
        .chain(guests.iter().map(|guest| artifacts.guest(guest)));
    for path in built {
        if !path.is_file() {
            return Err(format!(
                "cargo build succeeded but {} does not exist",
                path.display()
            ));
        }
    }
    Ok(artifacts)
}

/// The kernel, then each component image and each guest package once, in
/// order.
pub fn packages<'a>(images: &'a [String], guests: &'a [GuestCrate]) -> Vec<&'a str> {
    let mut packages = vec![KERNEL];
    let names = images
        .iter()
        .map(String::as_str)
        .chain(guests.iter().map(|g| g.package.as_str()));
    for name in names {
        if !packages.contains(&name) {
            packages.push(name);
        }
    }
    packages
}

/// The arguments after `cargo`.
pub fn build_args(profile: Profile, packages: &[&str]) -> Vec<String> {
    let mut args = vec!["build".to_string()];
    for package in packages {
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
            build_args(Profile::Debug, &[KERNEL]),
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
            build_args(Profile::Release, &[KERNEL])
                .last()
                .map(String::as_str),
            Some("--release")
        );
    }

    #[test]
    fn the_kernel_and_every_image_in_one_invocation() {
        let images = [
            "echo-server".to_string(),
            "echo-client".into(),
            "echo-server".into(),
        ];
        let guests = [GuestCrate {
            image: "multiboot".into(),
            package: "multiboot-guest".into(),
            binary: "multiboot-guest".into(),
        }];
        assert_eq!(
            packages(&images, &guests),
            [KERNEL, "echo-server", "echo-client", "multiboot-guest"]
        );
        let packages = packages(&images, &[]);
        assert_eq!(packages, [KERNEL, "echo-server", "echo-client"]);
        assert_eq!(
            build_args(Profile::Debug, &packages).join(" "),
            "build -p tessera-kernel -p echo-server -p echo-client --target x86_64-unknown-none"
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
        let artifacts = Artifacts {
            kernel: PathBuf::new(),
            dir: artifact_path(Path::new("/t"), Profile::Debug, ""),
        };
        assert_eq!(
            artifacts.image("echo-client"),
            Path::new("/t/x86_64-unknown-none/debug/echo-client")
        );
        let guest = GuestCrate {
            image: "multiboot".into(),
            package: "multiboot-guest".into(),
            binary: "multiboot-guest".into(),
        };
        assert_eq!(
            artifacts.guest(&guest),
            Path::new("/t/x86_64-unknown-none/debug/multiboot-guest")
        );
    }
}
