//! L1's initramfs: busybox and our `/init` (`init.sh`), KVM's modules from
//! the pinned Debian kernel, the host's QEMU with its libraries and
//! firmware, and what the system tests boot (Tessera's kernel, each
//! deployment's modules, the GRUB ISOs), with `/nested/plan.sh`: the tests'
//! QEMU commands, each the one `cargo xtask test` runs with KVM in place
//! of TCG and the files at their places inside.

use std::path::{Path, PathBuf};

use crate::debian::{self, deb, pins};
use crate::host_tools;
use crate::initramfs::{Initramfs, Source, host_program, kernel_modules};
use crate::qemu::accel::{self, Accel};
use crate::qemu::command::QEMU;
use crate::system_tests::{self, Prepared, SystemTest};
use crate::workspace::Workspace;

/// L1's kernel: Debian's cloud kernel, which issue 15's guest uses too.
pub const L1_KERNEL: pins::Pin = pins::LINUX_IMAGE_CLOUD;

/// The modules to load (with their dependencies, found by
/// `kernel_modules`), and the parameter each is loaded with.
const MODULES: &[(&str, &str)] = &[("kvm_amd", "nested=1")];

/// What QEMU reads from its prefix for the tests' machines (q35 with
/// SeaBIOS, its standard VGA, the default NIC's ROM, the option ROMs of
/// `-kernel` Multiboot and of KVM), as `strace -e trace=openat` of the
/// tests' QEMU commands shows.
const QEMU_DATA_FILES: &[&str] = &[
    "share/seabios/bios-256k.bin",
    "share/seabios/vgabios-stdvga.bin",
    "share/qemu/kvmvapic.bin",
    "share/qemu/multiboot_dma.bin",
    "lib/ipxe/qemu/efi-e1000e.rom",
];

/// Where busybox-static puts busybox (bookworm; later releases under /usr).
const BUSYBOX_PATHS: &[&str] = &["bin/busybox", "usr/bin/busybox"];

/// How long a test may go without its serial log growing inside L1.
pub const STALL_SECONDS: u64 = 60;

const INIT: &str = include_str!("init.sh");
const PLAN: &str = "/nested/plan.sh";
/// Where the files the tests boot go inside L1.
const FILES_DIR: &str = "/tessera";
const LOGS_DIR: &str = "/logs";

/// L1's kernel and initramfs, and the tests it runs.
#[derive(Debug)]
pub struct Image {
    pub kernel: PathBuf,
    pub initramfs: PathBuf,
    pub initramfs_bytes: u64,
    /// The kernel release, for the log.
    pub release: &'static str,
    /// The tests in the plan, in order.
    pub planned: Vec<&'static SystemTest>,
    /// Tests that could not be put in the plan, and why.
    pub unplanned: Vec<(&'static SystemTest, String)>,
}

/// Builds the image into `<target>/tessera/nested/`.
pub fn build(
    workspace: &Workspace,
    prepared: &Prepared,
    tests: &'static [SystemTest],
) -> Result<Image, String> {
    let cache = debian::cache_dir(&workspace.out_dir());
    let release = L1_KERNEL
        .kernel_release()
        .ok_or("the L1 kernel pin is not a linux-image package")?;
    let linux = deb::unpacked(&L1_KERNEL, &cache)?;
    let busybox_package = deb::unpacked(&pins::BUSYBOX_STATIC, &cache)?;
    let mut tree = Initramfs::new();

    let busybox = BUSYBOX_PATHS
        .iter()
        .map(|path| busybox_package.join(path))
        .find(|path| path.is_file())
        .ok_or_else(|| format!("{} has no busybox", pins::BUSYBOX_STATIC.spec()))?;
    tree.host_file("/bin/busybox", &busybox)?;
    tree.symlink("/bin/sh", "busybox")?;
    tree.file("/init", Source::Bytes(INIT.as_bytes().to_vec()), 0o755)?;
    for dir in ["/proc", "/sys", "/dev", "/tmp", LOGS_DIR] {
        tree.dir(dir)?;
    }

    let kernel_dir = linux.join("lib/modules").join(release).join("kernel");
    let wanted: Vec<&str> = MODULES.iter().map(|(name, _)| *name).collect();
    let mut modules = Vec::new();
    for module in kernel_modules::load_order(&kernel_dir, &wanted)
        .map_err(|e| format!("{}: {e}", L1_KERNEL.spec()))?
    {
        let path = format!("/lib/modules/{}.ko", module.name);
        let parameters = MODULES
            .iter()
            .find(|(name, _)| *name == module.name)
            .map_or("", |(_, parameters)| *parameters);
        modules.push((path.clone(), parameters));
        tree.file(&path, Source::Bytes(module.bytes), 0o644)?;
    }

    let qemu = host_tools::find_on_path(QEMU).ok_or_else(|| format!("{QEMU} is not on PATH"))?;
    let library_dirs = host_program::add(&mut tree, &qemu, QEMU_DATA_FILES)?;
    let qemu = std::fs::canonicalize(&qemu).map_err(|e| format!("{}: {e}", qemu.display()))?;

    let mut placement = Placement::new(&workspace.target_dir);
    let inside = relocate(prepared, &mut placement);
    let mut planned = Vec::new();
    let mut unplanned = Vec::new();
    let mut commands = Vec::new();
    for test in tests {
        let serial_log = PathBuf::from(format!("{LOGS_DIR}/{}.serial.log", test.name));
        match system_tests::qemu_config(test, &inside, accel_for(test), serial_log.clone()) {
            Ok(config) => {
                let mut command = vec![qemu.to_string_lossy().into_owned()];
                command.extend(
                    config
                        .args()
                        .iter()
                        .map(|a| a.to_string_lossy().into_owned()),
                );
                commands.push((
                    test.name,
                    serial_log.to_string_lossy().into_owned(),
                    command,
                ));
                planned.push(test);
            }
            Err(e) => unplanned.push((test, e)),
        }
    }
    for (host, inside) in &placement.files {
        tree.host_file(inside, host)?;
    }
    let plan = plan_script(&library_dirs, &modules, &commands);
    tree.file(PLAN, Source::Bytes(plan.into_bytes()), 0o644)?;

    let dir = workspace.out_dir().join("nested");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let initramfs = dir.join("l1-initramfs.cpio");
    let initramfs_bytes = tree.write(&initramfs)?;
    Ok(Image {
        kernel: linux.join("boot").join(format!("vmlinuz-{release}")),
        initramfs,
        initramfs_bytes,
        release,
        planned,
        unplanned,
    })
}

/// A test's accelerator inside L1: KVM with the host's CPU, or without the
/// features the test's own TCG model takes away.
pub fn accel_for(test: &SystemTest) -> Accel {
    match test.cpu {
        Some(cpu) => Accel::Kvm {
            cpu: accel::kvm_cpu_for(cpu),
        },
        None => Accel::kvm_host(),
    }
}

/// Host files and their places inside L1: under [`FILES_DIR`], at their
/// path relative to cargo's target directory (where every file a test
/// boots is made), or numbered if one lies elsewhere.
#[derive(Debug)]
struct Placement {
    target_dir: PathBuf,
    files: Vec<(PathBuf, String)>,
}

impl Placement {
    fn new(target_dir: &Path) -> Self {
        Self {
            target_dir: target_dir.to_path_buf(),
            files: Vec::new(),
        }
    }

    fn place(&mut self, host: &Path) -> PathBuf {
        if let Some((_, inside)) = self.files.iter().find(|(h, _)| h == host) {
            return PathBuf::from(inside);
        }
        let inside = match host.strip_prefix(&self.target_dir) {
            Ok(relative) => format!("{FILES_DIR}/{}", relative.display()),
            Err(_) => format!(
                "{FILES_DIR}/elsewhere/{}-{}",
                self.files.len(),
                host.file_name()
                    .map_or("file".into(), |n| n.to_string_lossy())
            ),
        };
        self.files.push((host.to_path_buf(), inside.clone()));
        PathBuf::from(inside)
    }
}

/// `prepared` with every file at its place inside L1.
fn relocate(prepared: &Prepared, placement: &mut Placement) -> Prepared {
    let deployments = prepared
        .deployments
        .iter()
        .map(|(key, deployment)| {
            let deployment = deployment.clone().map(|mut deployment| {
                for module in &mut deployment.modules {
                    module.source = placement.place(&module.source);
                }
                deployment
            });
            (*key, deployment)
        })
        .collect();
    let isos = prepared
        .isos
        .iter()
        .map(|(key, iso)| (*key, iso.clone().map(|iso| placement.place(&iso))))
        .collect();
    Prepared {
        kernel: placement.place(&prepared.kernel),
        deployments,
        isos,
    }
}

/// `/nested/plan.sh`: the settings and the calls `init.sh` makes.
fn plan_script(
    library_dirs: &[String],
    modules: &[(String, &str)],
    commands: &[(&str, String, Vec<String>)],
) -> String {
    let mut plan =
        String::from("# Written by cargo xtask test --nested (tools/xtask/src/nested/image.rs).\n");
    plan += &format!("STALL_SECONDS={STALL_SECONDS}\n");
    plan += &format!("LD_LIBRARY_PATH={}\n", quote(&library_dirs.join(":")));
    plan += "load_modules() {\n";
    for (path, parameters) in modules {
        plan += &format!("    load_module {}", quote(path));
        for parameter in parameters.split_whitespace() {
            plan += &format!(" {}", quote(parameter));
        }
        plan += "\n";
    }
    plan += "}\nrun_tests() {\n";
    for (name, log, command) in commands {
        plan += &format!("    run_test {} {}", quote(name), quote(log));
        for word in command {
            plan += &format!(" {}", quote(word));
        }
        plan += "\n";
    }
    plan += "}\n";
    plan
}

/// `word` as one POSIX shell word: in single quotes, each `'` written `'\''`.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deployment::{Deployment, Module};
    use crate::system_tests::SYSTEM_TESTS;

    fn test_named(name: &str) -> &'static SystemTest {
        SYSTEM_TESTS.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn quoting_survives_spaces_quotes_and_commas() {
        assert_eq!(
            quote("log=info debug-exit=0xf4"),
            "'log=info debug-exit=0xf4'"
        );
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn tests_with_their_own_cpu_model_keep_it_without_svm_or_npt() {
        assert_eq!(accel_for(test_named("boot-multiboot1")), Accel::kvm_host());
        assert_eq!(
            accel_for(test_named("no-svm")).args(),
            ["-enable-kvm", "-cpu", "host,-svm"]
        );
        assert_eq!(
            accel_for(test_named("no-nested-paging")).args(),
            ["-enable-kvm", "-cpu", "host,-npt"]
        );
    }

    fn prepared() -> Prepared {
        let module = |name: &str, source: &str| Module {
            name: name.into(),
            source: source.into(),
        };
        let echo = Deployment {
            name: "echo".into(),
            cmdline: "log=info debug-exit=0xf4".into(),
            modules: vec![
                module("boot-plan.tsbp", "/t/tessera/echo/boot-plan.tsbp"),
                module("echo-server", "/t/tessera/echo/echo-server"),
                module("module.txt", "/repo/test-guests/multiboot/module.txt"),
            ],
            smp: 2,
            memory_mib: 256,
        };
        Prepared {
            kernel: "/t/x86_64-unknown-none/release/tessera-kernel".into(),
            deployments: vec![
                (None, Ok(Deployment::kernel_only())),
                (Some("echo"), Ok(echo)),
                (Some("broken"), Err("did not build".into())),
            ],
            isos: vec![(Some("echo"), Ok("/t/tessera/echo.iso".into()))],
        }
    }

    #[test]
    fn files_move_under_tessera_and_errors_stay() {
        let mut placement = Placement::new(Path::new("/t"));
        let inside = relocate(&prepared(), &mut placement);
        assert_eq!(
            inside.kernel,
            Path::new("/tessera/x86_64-unknown-none/release/tessera-kernel")
        );
        let echo = inside.deployment(Some("echo")).unwrap();
        let sources: Vec<&Path> = echo.modules.iter().map(|m| m.source.as_path()).collect();
        assert_eq!(
            sources,
            [
                Path::new("/tessera/tessera/echo/boot-plan.tsbp"),
                Path::new("/tessera/tessera/echo/echo-server"),
                Path::new("/tessera/elsewhere/2-module.txt"),
            ]
        );
        assert_eq!(
            inside.iso(Some("echo")).unwrap(),
            Path::new("/tessera/tessera/echo.iso")
        );
        assert_eq!(
            inside.deployment(Some("broken")).unwrap_err(),
            "did not build"
        );
        assert_eq!(placement.files.len(), 5);
        assert_eq!(
            placement.place(Path::new("/t/tessera/echo.iso")),
            Path::new("/tessera/tessera/echo.iso")
        );
        assert_eq!(placement.files.len(), 5);
    }

    #[test]
    fn the_plan_runs_the_tcg_command_with_kvm_and_the_files_inside() {
        let mut placement = Placement::new(Path::new("/t"));
        let inside = relocate(&prepared(), &mut placement);
        let test = test_named("components-echo");
        let config =
            system_tests::qemu_config(test, &inside, accel_for(test), "/logs/e.serial.log".into())
                .unwrap();
        let mut command = vec!["/usr/bin/qemu-system-x86_64".to_string()];
        command.extend(
            config
                .args()
                .iter()
                .map(|a| a.to_string_lossy().into_owned()),
        );
        let plan = plan_script(
            &["/lib/x86_64-linux-gnu".into(), "/lib64".into()],
            &[
                ("/lib/modules/kvm.ko".into(), ""),
                ("/lib/modules/kvm_amd.ko".into(), "nested=1"),
            ],
            &[("components-echo", "/logs/e.serial.log".into(), command)],
        );
        assert!(plan.contains("STALL_SECONDS=60\n"), "{plan}");
        assert!(
            plan.contains("LD_LIBRARY_PATH='/lib/x86_64-linux-gnu:/lib64'\n"),
            "{plan}"
        );
        assert!(
            plan.contains("    load_module '/lib/modules/kvm.ko'\n"),
            "{plan}"
        );
        assert!(
            plan.contains("    load_module '/lib/modules/kvm_amd.ko' 'nested=1'\n"),
            "{plan}"
        );
        assert!(
            plan.contains(
                "    run_test 'components-echo' '/logs/e.serial.log' '/usr/bin/qemu-system-x86_64' \
             '-machine' 'q35' '-enable-kvm' '-cpu' 'host' "
            ),
            "{plan}"
        );
        assert!(plan.contains(
            "'-serial' 'file:/logs/e.serial.log' '-kernel' \
             '/tessera/x86_64-unknown-none/release/tessera-kernel' '-append' 'log=info debug-exit=0xf4' \
             '-initrd' '/tessera/tessera/echo/boot-plan.tsbp boot-plan.tsbp,"
        ), "{plan}");
        assert!(plan.ends_with("}\n"));
    }

    #[test]
    fn the_init_script_reads_the_plan_and_reports_as_results_rs_reads() {
        assert!(INIT.starts_with("#!/bin/sh\n"));
        assert!(INIT.contains(&format!(". {PLAN}\n")));
        for call in [
            "load_modules\n",
            "run_tests\n",
            "report done\n",
            "report l1 ",
            "report fatal ",
        ] {
            assert!(INIT.contains(call), "{call}");
        }
        assert!(INIT.contains("echo \"@@nested $*\" >&3"));
    }
}
