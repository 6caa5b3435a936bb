//! What gets booted: the kernel command line, the Multiboot modules, and the
//! machine it runs on. A deployment comes from a manifest
//! (`boot/deployments/<name>.toml`, checked by `tessera-manifest`); without
//! one, the kernel boots alone.

use std::fs;
use std::path::{Path, PathBuf};

use tessera_manifest::ModuleKind;

use crate::cargo_build::Artifacts;

/// The kernel command line every boot starts with; a manifest's
/// `kernel-args` and a system test's extra words are appended.
pub const BASE_CMDLINE: &str = "log=info debug-exit=0xf4";

/// The deployment `cargo xtask run` and `image` boot unless told otherwise.
pub const DEFAULT_DEPLOYMENT: &str = "default";

/// The name of the boot without a deployment (its ISO is `kernel.iso`).
pub const KERNEL_ONLY: &str = "kernel";

/// Where the manifests live, relative to the workspace root.
pub const MANIFEST_DIR: &str = "boot/deployments";

/// CPUs and memory of the machine for the kernel alone.
const KERNEL_ONLY_SMP: u32 = 4;
const MEMORY_MIB: u32 = 256;

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
    /// CPUs of the virtual machine.
    pub smp: u32,
    /// Memory of the virtual machine, in MiB.
    pub memory_mib: u32,
}

impl Deployment {
    /// The kernel alone, with no modules: it brings the machine up and gives
    /// its verdict.
    pub fn kernel_only() -> Self {
        Self {
            name: KERNEL_ONLY.into(),
            cmdline: BASE_CMDLINE.into(),
            modules: Vec::new(),
            smp: KERNEL_ONLY_SMP,
            memory_mib: MEMORY_MIB,
        }
    }

    /// The deployment a checked manifest describes: module 0 is the boot
    /// plan (the file `plan`), module `i + 1` is image `i` (the file
    /// `image_file(name)`), in [`tessera_manifest::Deployment::modules`]
    /// order, and the last module is [`INIT_IMAGE`], the component that
    /// builds the deployment; the machine has the manifest's CPUs.
    pub fn from_manifest(
        manifest: &tessera_manifest::Deployment,
        plan: &Path,
        image_file: impl Fn(&str) -> PathBuf,
    ) -> Self {
        let modules = manifest
            .modules()
            .into_iter()
            .map(|module| {
                let source = match module.kind {
                    ModuleKind::BootPlan => plan.to_path_buf(),
                    ModuleKind::ComponentImage => image_file(&module.name),
                };
                Module {
                    name: module.name,
                    source,
                }
            })
            .chain(std::iter::once(Module {
                name: INIT_IMAGE.into(),
                source: image_file(INIT_IMAGE),
            }))
            .collect();
        Self {
            name: manifest.name.clone(),
            cmdline: cmdline(&[manifest.kernel_args.as_deref().unwrap_or("")]),
            modules,
            smp: u32::from(manifest.cpus),
            memory_mib: MEMORY_MIB,
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

/// The manifest of deployment `name`.
pub fn manifest_path(root: &Path, name: &str) -> PathBuf {
    root.join(MANIFEST_DIR).join(format!("{name}.toml"))
}

/// Loads and checks the manifest of deployment `name`; on failure, every
/// problem as `tessera-manifest` renders it.
pub fn load_manifest(root: &Path, name: &str) -> Result<tessera_manifest::Deployment, String> {
    let path = manifest_path(root, name);
    tessera_manifest::load(&path).map_err(|errors| {
        let count = errors.len();
        let noun = if count == 1 { "problem" } else { "problems" };
        format!(
            "deployment {name:?} is invalid:\n{}\n{count} {noun} in {}",
            tessera_manifest::render(&errors).trim_end(),
            path.display()
        )
    })
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
/// with the built images.
pub fn assemble(
    out_dir: &Path,
    manifest: &tessera_manifest::Deployment,
    artifacts: &Artifacts,
) -> Result<Deployment, String> {
    let plan = write_plan(out_dir, manifest)?;
    Ok(Deployment::from_manifest(manifest, &plan, |image| {
        artifacts.image(image)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn default_manifest() -> tessera_manifest::Deployment {
        load_manifest(&root(), DEFAULT_DEPLOYMENT).expect("the default deployment is valid")
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
    fn the_default_deployment_boots_the_plan_then_its_images_then_init() {
        let manifest = default_manifest();
        let plan = Path::new("/t/tessera/default/boot-plan.tsbp");
        let deployment =
            Deployment::from_manifest(&manifest, plan, |image| Path::new("/t/release").join(image));
        assert_eq!(deployment.name, "default");
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
        assert_eq!(deployment.smp, u32::from(manifest.cpus));
        assert_eq!(deployment.cmdline, BASE_CMDLINE, "no kernel-args");
    }

    #[test]
    fn manifest_kernel_args_reach_the_command_line() {
        let mut manifest = default_manifest();
        manifest.kernel_args = Some("log=debug".into());
        let deployment =
            Deployment::from_manifest(&manifest, Path::new("p"), |image| PathBuf::from(image));
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
    fn an_unknown_deployment_is_refused_with_the_manifest_errors() {
        let error = load_manifest(&root(), "no-such-deployment").unwrap_err();
        assert!(error.contains("[read-file]"), "{error}");
        assert!(error.contains("no-such-deployment.toml"), "{error}");
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
