//! The component crates: each `components/<name>/` that is a workspace
//! member and has a binary (`src/main.rs`) is the component image `<name>`
//! (package, binary and ELF all carry that name). The runtime,
//! `components/rt`, is a library and no image.

use std::fs;
use std::path::Path;

/// The directory of the component crates, relative to the workspace root.
pub const COMPONENTS_DIR: &str = "components";

/// Every component image of the workspace, in the order of its members.
pub fn all(root: &Path) -> Result<Vec<String>, String> {
    let manifest = root.join("Cargo.toml");
    let text = fs::read_to_string(&manifest).map_err(|e| format!("{}: {e}", manifest.display()))?;
    let members = workspace_members(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
    Ok(images_among(&members, |name| {
        root.join(COMPONENTS_DIR)
            .join(name)
            .join("src/main.rs")
            .is_file()
    }))
}

/// `workspace.members` of a workspace `Cargo.toml`.
pub fn workspace_members(cargo_toml: &str) -> Result<Vec<String>, String> {
    let table: toml::Table = toml::from_str(cargo_toml).map_err(|e| e.to_string())?;
    let members = table
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(|m| m.as_array())
        .ok_or("no workspace.members")?;
    Ok(members
        .iter()
        .filter_map(|m| m.as_str().map(str::to_owned))
        .collect())
}

/// The members `components/<name>` for which `has_binary(name)`.
pub fn images_among(members: &[String], has_binary: impl Fn(&str) -> bool) -> Vec<String> {
    members
        .iter()
        .filter_map(|member| {
            let name = member
                .trim_end_matches('/')
                .strip_prefix(COMPONENTS_DIR)?
                .strip_prefix('/')?;
            (!name.contains('/') && has_binary(name)).then(|| name.to_owned())
        })
        .collect()
}

/// Checks that every image a deployment names is a component of the
/// workspace, before cargo is asked to build it.
pub fn check_images(deployment: &str, images: &[String], known: &[String]) -> Result<(), String> {
    let missing: Vec<&str> = images
        .iter()
        .filter(|image| !known.contains(image))
        .map(String::as_str)
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(format!(
        "deployment {deployment:?} names the image(s) {} with no component crate: each image \
         is a workspace member components/<image> with a binary of that name (components: {})",
        missing.join(", "),
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_component_members_with_a_binary() {
        let members = workspace_members(
            r#"[workspace]
members = ["kernel", "components/rt", "components/echo-server", "components/nested/x", "tools/xtask", "components/lib-only/"]
"#,
        )
        .unwrap();
        let images = images_among(&members, |name| name != "rt" && name != "lib-only");
        assert_eq!(images, ["echo-server"]);
    }

    #[test]
    fn the_workspace_has_the_demo_components() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let images = all(&root).unwrap();
        for image in [
            "echo-server",
            "echo-client",
            "cap-probe",
            "crasher",
            "fault-driver",
        ] {
            assert!(images.iter().any(|i| i == image), "{image} in {images:?}");
        }
        assert!(!images.iter().any(|i| i == "rt"));
    }

    #[test]
    fn unknown_images_are_named() {
        let known = vec!["echo-server".to_string()];
        assert!(check_images("d", &["echo-server".into()], &known).is_ok());
        let error = check_images("d", &["echo-server".into(), "nope".into()], &known).unwrap_err();
        assert!(
            error.contains("nope") && !error.contains("echo-server,"),
            "{error}"
        );
        assert!(workspace_members("[package]\nname = \"x\"\n").is_err());
    }
}
