//! L1's initramfs: busybox and our `/init` (`init.sh`), KVM's modules from
//! the pinned Debian kernel, the host's QEMU with its libraries and
//! firmware, and what the system tests boot (Tessera's kernel, each
//! deployment's modules, the GRUB ISOs), with `/nested/plan.sh`, the
//! tests' QEMU commands (`plan`).

use std::path::PathBuf;

use super::plan::{self, Placement};
use crate::debian::{self, deb, pins};
use crate::host_tools;
use crate::initramfs::{Initramfs, Source, busybox, host_program, kernel_modules};
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

/// How long a test may go without its serial log growing inside L1: a
/// guest exit costs hundreds of times more than under TCG, and on a busy
/// machine hv-conformance once went 60 s without a line.
pub const STALL_SECONDS: u64 = 120;

const INIT: &str = include_str!("init.sh");
const PLAN: &str = "/nested/plan.sh";
/// Where the files the tests boot go inside L1.
pub const FILES_DIR: &str = "/tessera";
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
    /// Tests that do not run inside L1, with the reason (`not_nested`).
    pub skipped: Vec<(&'static SystemTest, &'static str)>,
}

/// Builds the image into `<target>/tessera/nested/`.
pub fn build(
    workspace: &Workspace,
    prepared: &Prepared,
    tests: &[&'static SystemTest],
) -> Result<Image, String> {
    let cache = debian::cache_dir(&workspace.out_dir());
    let release = L1_KERNEL
        .kernel_release()
        .ok_or("the L1 kernel pin is not a linux-image package")?;
    let linux = deb::unpacked(&L1_KERNEL, &cache)?;
    let mut tree = Initramfs::new();

    busybox::add(&mut tree, &cache)?;
    tree.file("/init", Source::Bytes(INIT.as_bytes().to_vec()), 0o755)?;
    tree.dir(LOGS_DIR)?;

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
    let inside = plan::relocate(prepared, &mut placement);
    let mut planned = Vec::new();
    let mut unplanned = Vec::new();
    let mut skipped = Vec::new();
    let mut runs = Vec::new();
    for &test in tests {
        if let Some(why) = test.not_nested {
            skipped.push((test, why));
            continue;
        }
        let serial_log = PathBuf::from(format!("{LOGS_DIR}/{}.serial.log", test.name));
        match system_tests::qemu_config(test, &inside, plan::accel_for(test), serial_log.clone()) {
            Ok(config) => {
                let command = plan::command(&config, &qemu);
                runs.push(plan::PlannedRun {
                    name: test.name,
                    log: serial_log.to_string_lossy().into_owned(),
                    command,
                    input: test.input,
                });
                planned.push(test);
            }
            Err(e) => unplanned.push((test, e)),
        }
    }
    for (host, inside) in placement.files() {
        tree.host_file(inside, host)?;
    }
    let script = plan::script(&library_dirs, &modules, &runs);
    tree.file(PLAN, Source::Bytes(script.into_bytes()), 0o644)?;

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
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_stall_dump_is_marked_as_the_judge_looks_for_it() {
        let marker = crate::system_tests::CPU_DUMP_MARKER;
        assert!(INIT.contains(&format!("echo \"{marker}\"")), "{marker}");
    }
}
