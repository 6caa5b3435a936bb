//! The test-guest crates: a manifest's partition `image` names a directory
//! `test-guests/<image>/`, a workspace member whose binary is the guest
//! image. Its package and binary usually carry the image's name, but need
//! not (`test-guests/multiboot` is the package and binary
//! `multiboot-guest`): the module string is always the image name, the file
//! is the binary cargo builds.

use std::fs;
use std::path::Path;

use crate::components::workspace_members;

/// The directory of the guest crates, relative to the workspace root.
pub const GUESTS_DIR: &str = "test-guests";

/// A guest image and the crate that builds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestCrate {
    /// The manifest's name (the directory under `test-guests/`, and the
    /// module string).
    pub image: String,
    /// The cargo package to build (`-p`).
    pub package: String,
    /// The binary it builds (the file under `target/<triple>/<profile>/`).
    pub binary: String,
}

/// The package name and the first binary's name in a crate's `Cargo.toml`
/// (the binary defaults to the package).
pub fn package_and_binary(cargo_toml: &str) -> Result<(String, String), String> {
    let table: toml::Table = toml::from_str(cargo_toml).map_err(|e| e.to_string())?;
    let package = table
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(|n| n.as_str())
        .ok_or("no package.name")?
        .to_owned();
    let binary = table
        .get("bin")
        .and_then(|b| b.as_array())
        .and_then(|bins| bins.first())
        .and_then(|bin| bin.get("name"))
        .and_then(|n| n.as_str())
        .map_or_else(|| package.clone(), str::to_owned);
    Ok((package, binary))
}

/// Every guest crate of the workspace: the members `test-guests/<name>`
/// with a binary (`src/main.rs`), in member order.
pub fn all(root: &Path) -> Result<Vec<GuestCrate>, String> {
    let manifest = root.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let members = workspace_members(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let mut guests = Vec::new();
    for member in &members {
        let Some(name) = member
            .trim_end_matches('/')
            .strip_prefix(GUESTS_DIR)
            .and_then(|rest| rest.strip_prefix('/'))
        else {
            continue;
        };
        let dir = root.join(GUESTS_DIR).join(name);
        if name.contains('/') || !dir.join("src/main.rs").is_file() {
            continue;
        }
        let cargo_toml = dir.join("Cargo.toml");
        let text = fs::read_to_string(&cargo_toml)
            .map_err(|e| format!("{}: {e}", cargo_toml.display()))?;
        let (package, binary) =
            package_and_binary(&text).map_err(|e| format!("{}: {e}", cargo_toml.display()))?;
        guests.push(GuestCrate {
            image: name.to_owned(),
            package,
            binary,
        });
    }
    Ok(guests)
}

/// The guest crates of `images`, in that order, or which ones are missing.
pub fn resolve(
    deployment: &str,
    images: &[String],
    known: &[GuestCrate],
) -> Result<Vec<GuestCrate>, String> {
    let mut found = Vec::new();
    let mut missing = Vec::new();
    for image in images {
        match known.iter().find(|g| &g.image == image) {
            Some(guest) => found.push(guest.clone()),
            None => missing.push(image.as_str()),
        }
    }
    if missing.is_empty() {
        return Ok(found);
    }
    let names: Vec<&str> = known.iter().map(|g| g.image.as_str()).collect();
    Err(format!(
        "deployment {deployment:?} names the guest image(s) {} with no test-guest crate: each \
         guest image is a workspace member test-guests/<image> with a binary (guests: {})",
        missing.join(", "),
        if names.is_empty() {
            "none".to_owned()
        } else {
            names.join(", ")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_and_binary_names() {
        assert_eq!(
            package_and_binary(
                "[package]\nname = \"multiboot-guest\"\n[[bin]]\nname = \"multiboot-guest\"\npath = \"src/main.rs\"\n"
            ),
            Ok(("multiboot-guest".into(), "multiboot-guest".into()))
        );
        assert_eq!(
            package_and_binary("[package]\nname = \"hello\"\n"),
            Ok(("hello".into(), "hello".into()))
        );
        assert!(package_and_binary("[workspace]\n").is_err());
    }

    #[test]
    fn unknown_guests_are_named() {
        let known = vec![GuestCrate {
            image: "multiboot".into(),
            package: "multiboot-guest".into(),
            binary: "multiboot-guest".into(),
        }];
        let found = resolve("d", &["multiboot".into()], &known).unwrap();
        assert_eq!(found[0].binary, "multiboot-guest");
        let error = resolve("d", &["hello".into()], &known).unwrap_err();
        assert!(
            error.contains("hello") && error.contains("guests: multiboot"),
            "{error}"
        );
        assert!(
            resolve("d", &["x".into()], &[])
                .unwrap_err()
                .contains("guests: none")
        );
    }

    #[test]
    fn the_workspace_guests_resolve_when_they_exist() {
        // The guest crates are written alongside; check whichever exist.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let guests = all(&root).unwrap();
        for guest in &guests {
            assert!(!guest.package.is_empty() && !guest.binary.is_empty());
            assert!(root.join(GUESTS_DIR).join(&guest.image).is_dir());
        }
        if let Some(multiboot) = guests.iter().find(|g| g.image == "multiboot") {
            assert_eq!(multiboot.binary, "multiboot-guest");
        }
        assert!(
            !guests.iter().any(|g| g.image == "framework"),
            "a library, no image"
        );
    }
}
