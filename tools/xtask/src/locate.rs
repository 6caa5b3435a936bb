//! Which manifest a command means: a deployment's name (`echo`:
//! `boot/deployments/echo.toml`) or the path of any manifest file
//! (`../guests/my.toml`).

use std::fs;
use std::path::{Path, PathBuf};

/// Where the deployments of the tree live, relative to the workspace root.
pub const MANIFEST_DIR: &str = "boot/deployments";

/// The manifest `what` names. A path is anything with a `/` or ending in
/// `.toml`, or an existing file; anything else is a deployment name, which
/// must exist in `boot/deployments/` (the error lists those that do).
pub fn manifest(root: &Path, what: &str) -> Result<PathBuf, String> {
    let as_path = Path::new(what);
    if what.contains('/') || what.ends_with(".toml") || as_path.is_file() {
        return if as_path.is_file() {
            Ok(as_path.to_path_buf())
        } else {
            Err(format!("no manifest file {what}"))
        };
    }
    let path = named(root, what);
    if path.is_file() {
        return Ok(path);
    }
    let known = deployments(root);
    let near = known
        .iter()
        .filter(|name| name.contains(what) || what.contains(name.as_str()))
        .map(String::as_str)
        .collect::<Vec<_>>();
    let hint = if near.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", near.join(" or "))
    };
    Err(format!(
        "no deployment {what:?}{hint}; the deployments are: {}; or give the path of a \
         manifest file",
        known.join(", ")
    ))
}

/// The manifest of deployment `name` in the tree.
pub fn named(root: &Path, name: &str) -> PathBuf {
    root.join(MANIFEST_DIR).join(format!("{name}.toml"))
}

/// The deployments of the tree, by name, sorted.
pub fn deployments(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join(MANIFEST_DIR))
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|entry| {
                    let path = entry.path();
                    (path.extension()? == "toml")
                        .then(|| path.file_stem()?.to_str().map(str::to_owned))
                        .flatten()
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Every manifest of the tree, sorted by name.
pub fn all_manifests(root: &Path) -> Vec<PathBuf> {
    deployments(root)
        .iter()
        .map(|name| named(root, name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn a_name_is_a_deployment_of_the_tree() {
        assert_eq!(
            manifest(&root(), "echo").unwrap(),
            root().join("boot/deployments/echo.toml")
        );
        assert!(deployments(&root()).contains(&"default".to_string()));
        assert_eq!(all_manifests(&root()).len(), deployments(&root()).len());
    }

    #[test]
    fn a_path_is_taken_as_it_is_and_never_gets_a_second_toml() {
        let path = root().join("boot/deployments/echo.toml");
        let text = path.to_str().unwrap();
        assert_eq!(manifest(&root(), text).unwrap(), path);
        let error = manifest(&root(), "/nowhere/x.toml").unwrap_err();
        assert_eq!(error, "no manifest file /nowhere/x.toml");
        assert!(manifest(&root(), "x.toml").unwrap_err().contains("x.toml"));
    }

    #[test]
    fn an_unknown_name_lists_the_deployments() {
        let error = manifest(&root(), "no-such-deployment").unwrap_err();
        assert!(error.starts_with("no deployment \"no-such-deployment\"; the deployments are: "));
        assert!(error.contains("default, echo"), "{error}");
        let error = manifest(&root(), "vm-hv").unwrap_err();
        assert!(error.contains("did you mean vm-hv-crash or "), "{error}");
    }
}
