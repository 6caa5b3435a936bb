//! Building what the selected system tests boot, once: the release kernel,
//! each deployment's modules, and the ISOs of the tests that boot through
//! GRUB.

use std::path::PathBuf;

use super::outside;
use super::{BootMethod, SystemTest};
use crate::cargo_build::{self, Profile};
use crate::components;
use crate::deployment::{self, Deployment};
use crate::guests::{self, GuestCrate};
use crate::host_tools::{self, Needs};
use crate::image;
use crate::workspace::Workspace;

/// A deployment of the system tests, ready to boot: `None` is the kernel
/// alone.
pub type Key = Option<&'static str>;

/// What the system tests boot, built once: the release kernel, and for each
/// deployment the tests name its modules (and its ISO, if a test boots it
/// through GRUB), or why it could not be prepared.
#[derive(Debug)]
pub struct Prepared {
    pub kernel: PathBuf,
    pub deployments: Vec<(Key, Result<Deployment, String>)>,
    pub isos: Vec<(Key, Result<PathBuf, String>)>,
}

impl Prepared {
    pub fn deployment(&self, key: Key) -> Result<&Deployment, String> {
        lookup(&self.deployments, key)?
            .as_ref()
            .map_err(Clone::clone)
    }

    pub fn iso(&self, key: Key) -> Result<PathBuf, String> {
        lookup(&self.isos, key)?.clone()
    }
}

fn lookup<T>(entries: &[(Key, T)], key: Key) -> Result<&T, String> {
    entries
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, value)| value)
        .ok_or_else(|| format!("deployment {key:?} was not prepared"))
}

/// The deployments the tests boot, each once, in the order of the tests.
pub fn deployments_of(tests: &[&SystemTest]) -> Vec<Key> {
    let mut keys: Vec<Key> = Vec::new();
    for test in tests {
        if !keys.contains(&test.deployment) {
            keys.push(test.deployment);
        }
    }
    keys
}

/// A valid manifest and the guest crates it needs.
type Checked = (tessera_manifest::Deployment, Vec<GuestCrate>);

/// Loads the manifest behind `name`: a deployment of the tree, or one
/// written outside it now.
fn load(workspace: &Workspace, name: &str) -> Result<tessera_manifest::Deployment, String> {
    match outside::find(name) {
        None => deployment::load_named(&workspace.root, name),
        // Its folder stays until the deployment is assembled (`prepare`).
        Some(outside_tree) => deployment::load_manifest(&outside::make(workspace, outside_tree)?),
    }
}

/// One cargo invocation builds the kernel and every image of every
/// deployment without partitions whose manifest is valid; then one more per
/// deployment with partitions builds its components and guests (which are
/// younger crates: one that does not build fails only its own tests). A
/// deployment that is not valid only fails its own tests.
pub fn prepare(workspace: &Workspace, tests: &[&SystemTest]) -> Result<Prepared, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: tests.iter().any(|t| t.boot == BootMethod::Grub),
    })?;
    let known = components::all(&workspace.root)?;
    let known_guests = guests::all(&workspace.root)?;
    let keys = deployments_of(tests);
    let manifests: Vec<(Key, Result<Option<Checked>, String>)> = keys
        .iter()
        .map(|&key| {
            let manifest = key
                .map(|name| {
                    let manifest = load(workspace, name)?;
                    components::check_images(name, &manifest.images, &known)?;
                    let guests = guests::resolve(name, &manifest.guest_crates(), &known_guests)?;
                    Ok((manifest, guests))
                })
                .transpose();
            (key, manifest)
        })
        .collect();
    let mut images: Vec<String> = Vec::new();
    for (key, manifest) in &manifests {
        match manifest {
            Ok(Some((manifest, _))) if manifest.partitions.is_empty() => {
                images.extend(deployment::images_to_build(manifest));
            }
            Ok(_) => {}
            Err(e) => eprintln!("xtask: deployment {}: {e}", key.unwrap_or("")),
        }
    }
    let artifacts = cargo_build::build(workspace, Profile::Release, &images, &[])
        .map_err(|e| format!("the kernel and components did not build: {e}"))?;

    let deployments: Vec<(Key, Result<Deployment, String>)> = manifests
        .into_iter()
        .map(|(key, manifest)| {
            let deployment = manifest.and_then(|manifest| match manifest {
                None => Ok(Deployment::kernel_only()),
                Some((manifest, guests)) if manifest.partitions.is_empty() => {
                    deployment::assemble(&workspace.out_dir(), &manifest, &artifacts, &guests)
                }
                Some((manifest, guests)) => {
                    let images = deployment::images_to_build(&manifest);
                    let assembled =
                        cargo_build::build(workspace, Profile::Release, &images, &guests)
                            .map_err(|e| format!("its components and guests did not build: {e}"))
                            .and_then(|built| {
                                deployment::assemble(
                                    &workspace.out_dir(),
                                    &manifest,
                                    &built,
                                    &guests,
                                )
                            });
                    if key.and_then(outside::find).is_some() {
                        outside::remove(&manifest.source);
                    }
                    assembled
                }
            });
            if let (Some(name), Err(e)) = (key, &deployment) {
                eprintln!("xtask: deployment {name}: {e}");
            }
            (key, deployment)
        })
        .collect();
    let grub_keys = keys.iter().copied().filter(|&key| {
        tests
            .iter()
            .any(|t| t.deployment == key && t.boot == BootMethod::Grub)
    });
    let isos = grub_keys
        .map(|key| {
            let iso = lookup(&deployments, key)
                .and_then(|d| d.clone())
                .and_then(|d| image::make_iso(workspace, &d, &artifacts.kernel))
                .map_err(|e| format!("the ISO was not made: {e}"));
            if let Err(e) = &iso {
                eprintln!("xtask: {e}");
            }
            (key, iso)
        })
        .collect();
    Ok(Prepared {
        kernel: artifacts.kernel,
        deployments,
        isos,
    })
}
