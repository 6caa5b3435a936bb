//! Deployments made at test time outside the tree, as a user makes them: a
//! manifest in a folder of its own, naming a guest image file beside it.
//! The test boots it exactly as `cargo xtask run <folder>/<name>.toml`
//! would.

use std::fs;
use std::path::PathBuf;

use crate::cargo_build::{self, Profile};
use crate::guests;
use crate::workspace::Workspace;

/// A deployment written outside the tree.
#[derive(Debug)]
pub struct OutsideTree {
    /// The manifest's file stem, so the deployment's name.
    pub name: &'static str,
    /// The manifest's text.
    pub manifest: &'static str,
    /// The test-guest crate whose image is copied beside the manifest ...
    pub guest_crate: &'static str,
    /// ... under this name.
    pub guest_file: &'static str,
}

/// Every one of them.
pub const OUTSIDE_TREE: &[OutsideTree] = &[OutsideTree {
    name: "my",
    manifest: MY_TOML,
    guest_crate: "hello",
    guest_file: "guest.elf",
}];

/// A guest with 512 MiB and two VPs on two CPUs: QEMU must get more than
/// its default memory, sized from the manifest.
const MY_TOML: &str = r#"# A deployment outside the tree: its guest is the file beside it.
[deployment]
component-memory = "522 MiB"
cpus = 2

[component.partition-manager]
image = "partition-manager"
memory = "516 MiB"
priority = 10
console = true
verdict = true
provides = ["exits"]

[component.devices]
image = "devices"
memory = "512 KiB"
priority = 10
console = true
provides = ["io"]

[partition.my-guest]
manager = "partition-manager"
image = "./guest.elf"
memory = "512 MiB"
vps = 2
cpus = [0, 1]
routes = [
  { exit = "lifecycle", to = "partition-manager.exits" },
  { exit = "io", ports = "0xf4", to = "partition-manager.exits", state = ["rax"] },
  { exit = "io", ports = "0x3f8-0x3ff", to = "devices.io", state = ["rax"] },
]
"#;

/// The one called `name`.
pub fn find(name: &str) -> Option<&'static OutsideTree> {
    OUTSIDE_TREE.iter().find(|d| d.name == name)
}

/// Writes `deployment` into a fresh folder under the system's temporary
/// directory, with its guest image built and copied beside it; returns the
/// manifest's path.
pub fn make(workspace: &Workspace, deployment: &OutsideTree) -> Result<PathBuf, String> {
    let known = guests::all(&workspace.root)?;
    let guest = guests::resolve(
        deployment.name,
        &[deployment.guest_crate.to_owned()],
        &known,
    )?;
    let built = cargo_build::build(workspace, Profile::Release, &[], &guest)?;
    let dir = std::env::temp_dir().join(format!(
        "tessera-outside-tree-{}-{}",
        deployment.name,
        std::process::id()
    ));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let image = built.guest(&guest[0]);
    fs::copy(&image, dir.join(deployment.guest_file))
        .map_err(|e| format!("cannot copy {}: {e}", image.display()))?;
    let manifest = dir.join(format!("{}.toml", deployment.name));
    fs::write(&manifest, deployment.manifest)
        .map_err(|e| format!("{}: {e}", manifest.display()))?;
    Ok(manifest)
}

/// Removes the folder [`make`] wrote (once the deployment is assembled, its
/// files are copied into the target directory).
pub fn remove(manifest: &std::path::Path) {
    if let Some(dir) = manifest.parent() {
        let _ = fs::remove_dir_all(dir);
    }
}
