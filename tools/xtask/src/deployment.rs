//! What gets booted: the kernel command line, the Multiboot modules, and
//! what the machine needs to run it. A deployment comes from a manifest (a
//! deployment of the tree, `boot/deployments/<name>.toml`, or any manifest
//! file; checked by `tessera-manifest`); without one, the kernel boots
//! alone.

use std::fs;
use std::path::{Path, PathBuf};

use tessera_manifest::ModuleKind;

use crate::cargo_build::Artifacts;
use crate::elf_strip;
use crate::guests::GuestCrate;
use crate::machine::{self, Need, Overrides};

/// The kernel command line every boot starts with; a manifest's
/// `kernel-args` and a system test's extra words are appended.
pub const BASE_CMDLINE: &str = "log=info debug-exit=0xf4";

/// The deployment `cargo xtask run` and `image` boot unless told otherwise.
pub const DEFAULT_DEPLOYMENT: &str = "default";

/// The name of the boot without a deployment (its ISO is `kernel.iso`).
pub const KERNEL_ONLY: &str = "kernel";

/// CPUs of the machine for the kernel alone.
const KERNEL_ONLY_SMP: u32 = 4;

/// A Multiboot module the boot loader loads next to the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// The module's string (GRUB: the file name under `/boot/` too).
    pub name: String,
    /// The file on the host.
    pub source: PathBuf,
}

/// A bootable composition of Tessera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    /// Names the ISO (`<target>/tessera/<name>.iso`) and the logs.
    pub name: String,
    /// The kernel command line.
    pub cmdline: String,
    /// In the order the kernel expects them: the boot plan, then the images.
    pub modules: Vec<Module>,
    /// What it needs of the machine.
    pub need: Need,
    /// Whether a component holds the verdict (a deployment without one runs
    /// interactively: no limit, the console's input reaches it).
    pub has_verdict: bool,
}

impl Deployment {
    /// The kernel alone, with no modules: it brings the machine up and gives
    /// its verdict.
    pub fn kernel_only() -> Self {
        Self {
            name: KERNEL_ONLY.into(),
            cmdline: BASE_CMDLINE.into(),
            modules: Vec::new(),
            need: Need {
                component_memory: 0,
                modules: 0,
                cpus: KERNEL_ONLY_SMP,
            },
            has_verdict: true,
        }
    }

    /// The machine's CPUs and MiB of memory, with the user's `overrides`,
    /// or why that machine cannot run it.
    pub fn machine(&self, overrides: Overrides) -> Result<(u32, u32), String> {
        machine::size(&self.name, &self.need, overrides)
    }

    /// The deployment a checked manifest describes: module 0 is the boot
    /// plan (the file `plan`), module `i + 1` is image `i` (the file
    /// `image_file(kind, name)`: component images, then guest images; a
    /// file the manifest names, a guest image file or a module file the
    /// partitions pass their Multiboot guests, is taken from where it is),
    /// in [`tessera_manifest::Deployment::modules`] order, and the last
    /// module is [`INIT_IMAGE`], the component that builds the deployment;
    /// the machine needs the manifest's CPUs and memory (module sizes are
    /// counted by [`assemble`], which has the files).
    pub fn from_manifest(
        manifest: &tessera_manifest::Deployment,
        plan: &Path,
        image_file: impl Fn(ModuleKind, &str) -> PathBuf,
    ) -> Self {
        let modules = manifest
            .modules()
            .into_iter()
            .map(|module| {
                let source = match (module.kind, module.source) {
                    (ModuleKind::BootPlan, _) => plan.to_path_buf(),
                    (_, Some(file)) => file,
                    (kind, None) => image_file(kind, &module.name),
                };
                Module {
                    name: module.name,
                    source,
                }
            })
            .chain(std::iter::once(Module {
                name: INIT_IMAGE.into(),
                source: image_file(ModuleKind::ComponentImage, INIT_IMAGE),
            }))
            .collect();
        Self {
            name: manifest.name.clone(),
            cmdline: cmdline(&[manifest.kernel_args.as_deref().unwrap_or("")]),
            modules,
            need: Need {
                component_memory: manifest.component_memory,
                modules: 0,
                cpus: u32::from(manifest.cpus),
            },
            has_verdict: manifest.components.iter().any(|c| c.verdict),
        }
    }
}

/// The component the kernel starts first, which builds the deployment from
/// the boot plan (components/init); every deployment boots it, last.
pub const INIT_IMAGE: &str = "init";

/// The images to build for `manifest`: its own and init.
pub fn images_to_build(manifest: &tessera_manifest::Deployment) -> Vec<String> {
    let mut images = manifest.images.clone();
    images.push(INIT_IMAGE.into());
    images
}

/// [`BASE_CMDLINE`] followed by the non-empty `extra` parts, one space apart.
pub fn cmdline(extra: &[&str]) -> String {
    let mut line = BASE_CMDLINE.to_string();
    for part in extra.iter().map(|part| part.trim()) {
        if !part.is_empty() {
            line.push(' ');
            line.push_str(part);
        }
    }
    line
}

/// Loads and checks the manifest at `path`, fetching or building the files
/// it names (`crate::named_files`); on failure, every problem as
/// `tessera-manifest` renders it.
pub fn load_manifest(path: &Path) -> Result<tessera_manifest::Deployment, String> {
    tessera_manifest::load_with(path, &crate::named_files::resolve).map_err(|errors| {
        let count = errors.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        format!(
            "{}\n{count} {noun} in {}",
            tessera_manifest::render(&errors).trim_end(),
            path.display()
        )
    })
}

/// Loads and checks the manifest of deployment `name` of the tree.
pub fn load_named(root: &Path, name: &str) -> Result<tessera_manifest::Deployment, String> {
    load_manifest(&crate::locate::named(root, name))
}

/// Where the compiled boot plan of deployment `name` goes.
pub fn plan_path(out_dir: &Path, name: &str) -> PathBuf {
    out_dir.join(name).join(tessera_manifest::PLAN_MODULE_NAME)
}

/// Compiles the manifest's boot plan into [`plan_path`]; returns the path.
pub fn write_plan(
    out_dir: &Path,
    manifest: &tessera_manifest::Deployment,
) -> Result<PathBuf, String> {
    let path = plan_path(out_dir, &manifest.name);
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    fs::write(&path, tessera_manifest::compile(manifest))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes the manifest's boot plan and returns the deployment that boots it
/// with the built images (`guests`: the crates of the manifest's guest
/// images), each cut to its loadable part (`elf_strip`) in the plan's
/// directory.
pub fn assemble(
    out_dir: &Path,
    manifest: &tessera_manifest::Deployment,
    artifacts: &Artifacts,
    guests: &[GuestCrate],
) -> Result<Deployment, String> {
    let plan = write_plan(out_dir, manifest)?;
    let mut deployment = Deployment::from_manifest(manifest, &plan, |kind, image| match kind {
        ModuleKind::GuestImage => guests
            .iter()
            .find(|g| g.image == image)
            .map_or_else(|| artifacts.image(image), |g| artifacts.guest(g)),
        _ => artifacts.image(image),
    });
    // The images go in without their debug information (elf_strip), next
    // to the plan; the files the manifest names (guest image files, the
    // guests' module files) go in as they are (their bytes are the guest's
    // to read), each under its module name.
    let dir = plan.parent().unwrap_or(out_dir).to_path_buf();
    // (init, the last module, is not among the manifest's.)
    let given: Vec<bool> = manifest
        .modules()
        .iter()
        .map(|m| m.source.is_some())
        .collect();
    for (index, module) in deployment.modules.iter_mut().enumerate().skip(1) {
        let copy = dir.join(&module.name);
        if given.get(index) == Some(&true) {
            fs::copy(&module.source, &copy).map_err(|e| {
                format!(
                    "cannot copy {} to {}: {e}",
                    module.source.display(),
                    copy.display()
                )
            })?;
        } else {
            elf_strip::write_loadable_copy(&module.source, &copy)?;
        }
        module.source = copy;
    }
    deployment.need.modules = deployment
        .modules
        .iter()
        .map(|m| fs::metadata(&m.source).map_or(0, |meta| meta.len()))
        .sum();
    if let Some(warning) = init_room_warning(manifest, &deployment) {
        println!("xtask: warning: {warning}");
    }
    Ok(deployment)
}

/// What the kernel gives init beyond the deployment's component memory
/// (`INIT_OWN_QUOTA` in kernel/src/loader/mod.rs).
pub const INIT_OWN_QUOTA: u64 = 4 << 20;

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(4096) * 4096
}

/// Why init may run out of quota building `deployment`, if it may: its
/// quota is the budget plus [`INIT_OWN_QUOTA`]; out of it go the
/// components' quotas, a copy of every boot module, its own image and
/// stack, and the manager data regions (which copy the guest images and
/// modules once more). An estimate on the safe side: init's image is
/// counted at its file size.
pub fn init_room_warning(
    manifest: &tessera_manifest::Deployment,
    deployment: &Deployment,
) -> Option<String> {
    use tessera_boot_plan::manager::{ModuleSpec, PartitionInput, RouteSpec, encoded_size};
    if manifest.partitions.is_empty() {
        return None;
    }
    let size = |path: &Path| fs::metadata(path).map_or(0, |m| m.len());
    let quotas: u64 = manifest.components.iter().map(|c| c.memory).sum();
    let has = (manifest.component_memory + INIT_OWN_QUOTA).saturating_sub(quotas);
    let modules: u64 = deployment
        .modules
        .iter()
        .map(|m| pages(size(&m.source)))
        .sum();
    let init = deployment
        .modules
        .last()
        .map_or(0, |m| pages(size(&m.source)));
    let mut data = 0;
    for component in &manifest.components {
        let partitions: Vec<_> = manifest.partitions_of(&component.name).collect();
        if partitions.is_empty() {
            continue;
        }
        let zeros_of = |name: &str| {
            let file = deployment.modules.iter().find(|m| m.name == name);
            vec![0u8; file.map_or(0, |m| size(&m.source)) as usize]
        };
        let images: Vec<Vec<u8>> = partitions.iter().map(|p| zeros_of(&p.image)).collect();
        let module_bytes: Vec<Vec<(Vec<u8>, &str)>> = partitions
            .iter()
            .map(|p| {
                p.modules
                    .iter()
                    .map(|m| {
                        let name = manifest
                            .module_file(&m.file)
                            .map_or("", |f| f.name.as_str());
                        (zeros_of(name), m.cmdline.as_str())
                    })
                    .collect()
            })
            .collect();
        let modules: Vec<Vec<ModuleSpec<'_>>> = module_bytes
            .iter()
            .map(|list| {
                list.iter()
                    .map(|(bytes, cmdline)| ModuleSpec { bytes, cmdline })
                    .collect()
            })
            .collect();
        let routes: Vec<Vec<RouteSpec>> = partitions
            .iter()
            .map(|p| {
                p.routes
                    .iter()
                    .map(|r| RouteSpec {
                        kind: r.kind,
                        parameter: r.parameter,
                        slot: u32::from(r.slot),
                        state: r.state,
                        posted: u64::from(r.posted),
                    })
                    .collect()
            })
            .collect();
        let inputs: Vec<PartitionInput<'_>> = partitions
            .iter()
            .zip(&images)
            .zip(&routes)
            .zip(&modules)
            .map(|(((p, image), routes), modules)| PartitionInput {
                name: &p.name,
                image,
                format: p.format,
                cmdline: &p.cmdline,
                memory_bytes: p.memory,
                vp_cpus: &p.vp_cpus,
                priority: p.priority,
                badge: p.badge,
                expect: p.expect,
                routes,
                hv1: p.hv1,
                apic: p.apic,
                modules,
                synic: p.synic,
            })
            .collect();
        data += pages(encoded_size(&inputs) as u64);
    }
    let stack_and_more = 256 << 10;
    let needs = modules + init + data + stack_and_more;
    (needs > has).then(|| {
        format!(
            "init may run out of quota: it gets {} KiB (component-memory {} KiB + {} KiB, less \
             the quotas' {} KiB), and needs about {} KiB (the boot modules {} KiB, its image, \
             the manager data {} KiB with the guest images): raise deployment.component-memory \
             of {} by {} KiB",
            has >> 10,
            manifest.component_memory >> 10,
            INIT_OWN_QUOTA >> 10,
            quotas >> 10,
            needs >> 10,
            modules >> 10,
            data >> 10,
            manifest.source.display(),
            (needs - has).div_ceil(1 << 10)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn default_manifest() -> tessera_manifest::Deployment {
        load_named(&root(), DEFAULT_DEPLOYMENT).expect("the default deployment is valid")
    }

    fn echo_manifest() -> tessera_manifest::Deployment {
        load_named(&root(), "echo").expect("the echo deployment is valid")
    }

    #[test]
    fn command_lines_append_kernel_args_and_extra_words() {
        assert_eq!(cmdline(&[]), "log=info debug-exit=0xf4");
        assert_eq!(cmdline(&["", "  "]), "log=info debug-exit=0xf4");
        assert_eq!(
            cmdline(&["log=debug", "inject-fault=panic "]),
            "log=info debug-exit=0xf4 log=debug inject-fault=panic"
        );
    }

    #[test]
    fn the_echo_deployment_boots_the_plan_then_its_images_then_init() {
        let manifest = echo_manifest();
        let plan = Path::new("/t/tessera/echo/boot-plan.tsbp");
        let deployment = Deployment::from_manifest(&manifest, plan, |_, image| {
            Path::new("/t/release").join(image)
        });
        assert_eq!(deployment.name, "echo");
        let modules: Vec<(&str, &Path)> = deployment
            .modules
            .iter()
            .map(|m| (m.name.as_str(), m.source.as_path()))
            .collect();
        assert_eq!(
            modules,
            [
                ("boot-plan.tsbp", plan),
                ("echo-server", Path::new("/t/release/echo-server")),
                ("echo-client", Path::new("/t/release/echo-client")),
                ("init", Path::new("/t/release/init")),
            ]
        );
        assert_eq!(
            images_to_build(&manifest),
            ["echo-server", "echo-client", "init"]
        );
        assert_eq!(deployment.need.cpus, u32::from(manifest.cpus));
        assert_eq!(deployment.need.component_memory, manifest.component_memory);
        assert!(deployment.has_verdict);
        assert_eq!(deployment.cmdline, BASE_CMDLINE, "no kernel-args");
    }

    #[test]
    fn the_default_deployment_boots_the_partition_demo_with_its_guest_image() {
        let manifest = default_manifest();
        assert_eq!(manifest.partitions.len(), 1);
        assert_eq!(manifest.guest_images, ["hello"]);
        let guests = [GuestCrate {
            image: "hello".into(),
            package: "hello".into(),
            binary: "hello-bin".into(),
        }];
        let artifacts = Artifacts {
            kernel: PathBuf::from("/t/k"),
            dir: PathBuf::from("/t/release"),
        };
        let plan = Path::new("/t/tessera/default/boot-plan.tsbp");
        let deployment = Deployment::from_manifest(&manifest, plan, |kind, image| match kind {
            ModuleKind::GuestImage => artifacts.guest(&guests[0]),
            _ => artifacts.image(image),
        });
        let modules: Vec<(&str, &Path)> = deployment
            .modules
            .iter()
            .map(|m| (m.name.as_str(), m.source.as_path()))
            .collect();
        assert_eq!(
            modules,
            [
                ("boot-plan.tsbp", plan),
                (
                    "partition-manager",
                    Path::new("/t/release/partition-manager")
                ),
                ("devices", Path::new("/t/release/devices")),
                ("hello", Path::new("/t/release/hello-bin")),
                ("init", Path::new("/t/release/init")),
            ],
            "the module string is the image name, the file the guest's binary"
        );
        assert_eq!(
            images_to_build(&manifest),
            ["partition-manager", "devices", "init"]
        );
    }

    #[test]
    fn the_multiboot_deployment_passes_its_module_file_as_it_is() {
        let manifest = load_named(&root(), "vm-multiboot").expect("vm-multiboot is valid");
        let out = std::env::temp_dir().join(format!("xtask-modules-{}", std::process::id()));
        let built = out.join("release");
        fs::create_dir_all(&built).unwrap();
        let guest = GuestCrate {
            image: "multiboot".into(),
            package: "multiboot-guest".into(),
            binary: "multiboot-guest".into(),
        };
        for name in ["partition-manager", "devices", "init", "multiboot-guest"] {
            fs::write(built.join(name), name).unwrap();
        }
        let artifacts = Artifacts {
            kernel: built.join("kernel"),
            dir: built.clone(),
        };
        let deployment = assemble(&out, &manifest, &artifacts, &[guest]).unwrap();
        let names: Vec<&str> = deployment.modules.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "boot-plan.tsbp",
                "partition-manager",
                "devices",
                "multiboot",
                "module-1",
                "init"
            ],
            "the module file after the guest image, init last"
        );
        let original = fs::read(root().join("test-guests/multiboot/module.txt")).unwrap();
        let passed = fs::read(&deployment.modules[4].source).unwrap();
        let init = fs::read(&deployment.modules[5].source).unwrap();
        let _ = fs::remove_dir_all(&out);
        assert_eq!(passed, original, "the module's bytes, unchanged");
        assert_eq!(init, b"init", "init is still copied (not an ELF: as it is)");
        assert_eq!(
            deployment.modules[4].source,
            out.join("vm-multiboot").join("module-1")
        );
    }

    #[test]
    fn init_room_is_estimated_from_the_module_files() {
        let manifest = default_manifest();
        let dir = std::env::temp_dir().join(format!("xtask-init-room-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        fs::write(&small, [0u8; 100]).unwrap();
        let deployment = Deployment::from_manifest(&manifest, &small, |_, _| small.clone());
        assert_eq!(init_room_warning(&manifest, &deployment), None);
        let mut tight = manifest.clone();
        tight.component_memory = tight.components.iter().map(|c| c.memory).sum();
        let big = dir.join("big");
        fs::write(&big, vec![0u8; 5 << 20]).unwrap();
        let deployment = Deployment::from_manifest(&tight, &small, |_, _| big.clone());
        let warning = init_room_warning(&tight, &deployment).unwrap();
        let _ = fs::remove_dir_all(&dir);
        assert!(
            warning.contains("raise deployment.component-memory"),
            "{warning}"
        );
        assert_eq!(
            init_room_warning(&echo_manifest(), &deployment),
            None,
            "no partitions"
        );
    }

    #[test]
    fn manifest_kernel_args_reach_the_command_line() {
        let mut manifest = default_manifest();
        manifest.kernel_args = Some("log=debug".into());
        let deployment =
            Deployment::from_manifest(&manifest, Path::new("p"), |_, image| PathBuf::from(image));
        assert_eq!(deployment.cmdline, "log=info debug-exit=0xf4 log=debug");
    }

    #[test]
    fn the_kernel_alone_has_no_modules() {
        let deployment = Deployment::kernel_only();
        assert!(deployment.modules.is_empty());
        assert_eq!(deployment.cmdline, BASE_CMDLINE);
        assert_eq!(deployment.name, KERNEL_ONLY);
    }

    #[test]
    fn an_invalid_manifest_is_refused_with_its_errors() {
        let error = load_manifest(Path::new("/no/such/manifest.toml")).unwrap_err();
        assert!(error.contains("[read-file]"), "{error}");
        assert!(
            error.ends_with("1 problem in /no/such/manifest.toml"),
            "{error}"
        );
    }

    #[test]
    fn plans_are_written_under_the_deployment_name() {
        let out = std::env::temp_dir().join(format!("xtask-deployment-{}", std::process::id()));
        let manifest = default_manifest();
        let path = write_plan(&out, &manifest).unwrap();
        assert_eq!(path, out.join("default").join("boot-plan.tsbp"));
        let plan = fs::read(&path).unwrap();
        let _ = fs::remove_dir_all(&out);
        assert_eq!(plan, tessera_manifest::compile(&manifest));
    }
}
