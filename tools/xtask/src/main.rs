//! `cargo xtask`: builds Tessera, makes its GRUB image, boots it under QEMU, and runs
//! the host unit tests and the system tests.

#![forbid(unsafe_code)]

mod bench;
mod cargo_build;
mod components;
mod deployment;
mod elf_strip;
mod fuzz;
mod guests;
mod host_tools;
mod image;
mod manifest;
mod qemu;
mod serial_log;
mod system_tests;
mod tally;
mod unit_tests;
mod workspace;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cargo_build::Profile;
use deployment::{DEFAULT_DEPLOYMENT, Deployment};
use host_tools::Needs;
use qemu::command::{Boot, QemuConfig};
use qemu::process::{self as qemu_process, Echo, TIME_LIMIT};
use tally::Tally;
use workspace::Workspace;

#[derive(Debug, Parser)]
#[command(
    name = "xtask",
    bin_name = "cargo xtask",
    about = "Build, image, run and test Tessera"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Which deployment to boot.
#[derive(Debug, Clone, clap::Args)]
struct Which {
    /// The deployment: boot/deployments/NAME.toml.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_DEPLOYMENT)]
    deployment: String,
    /// Boot the kernel alone, without a deployment (no modules).
    #[arg(long, conflicts_with = "deployment")]
    kernel_only: bool,
}

impl Which {
    /// The deployment's name; `None` for the kernel alone.
    fn name(&self) -> Option<&str> {
        (!self.kernel_only).then_some(self.deployment.as_str())
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Build the bare-metal crates (the kernel, every component and every test guest) for x86_64-unknown-none.
    Build {
        /// Use the release profile.
        #[arg(long)]
        release: bool,
    },
    /// Build a deployment, then make its GRUB rescue ISO (target/tessera/NAME.iso).
    Image {
        /// Use the release profile.
        #[arg(long)]
        release: bool,
        #[command(flatten)]
        which: Which,
    },
    /// Boot a deployment under QEMU; exit 0 iff the kernel reports pass.
    Run {
        /// Use the release profile.
        #[arg(long)]
        release: bool,
        #[command(flatten)]
        which: Which,
        /// Boot through GRUB from the ISO (Multiboot2) instead of QEMU's -kernel (Multiboot1).
        #[arg(long)]
        iso: bool,
        /// Wait for gdb on :1234 before the first instruction; no time limit.
        #[arg(long)]
        gdb: bool,
        /// Extra QEMU arguments, after `--`.
        #[arg(last = true, value_name = "QEMU ARGS")]
        qemu_args: Vec<String>,
    },
    /// Host unit tests, then the system tests under QEMU; ends with `N passed, M failed`.
    Test,
    /// Measure system call and IPC round trips in instructions (QEMU -icount).
    Bench,
    /// Fuzz a boundary with seeded random operations; prints the seed, replays from it.
    Fuzz {
        /// What to fuzz.
        #[arg(value_enum)]
        target: fuzz::Target,
        /// How many operations.
        #[arg(long, default_value_t = fuzz::DEFAULT_OPERATIONS)]
        ops: u64,
        /// The seed (decimal or 0x hex); default: one from the clock, printed.
        #[arg(long)]
        seed: Option<String>,
        /// Print every operation before it runs (in-QEMU targets; slow).
        #[arg(long)]
        trace: bool,
    },
    /// Validate deployment manifests (boot/deployments/*.toml) and report every problem.
    Manifest {
        /// The manifests to check.
        #[arg(required = true)]
        files: Vec<std::path::PathBuf>,
        /// Also write the compiled boot plan here (one manifest only).
        #[arg(long, value_name = "PATH")]
        plan_out: Option<std::path::PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Test = cli.command {
        return test();
    }
    let result = Workspace::locate().and_then(|workspace| match cli.command {
        Command::Build { release } => build(&workspace, Profile::from_release_flag(release)),
        Command::Image { release, which } => image(
            &workspace,
            Profile::from_release_flag(release),
            which.name(),
        ),
        Command::Run {
            release,
            which,
            iso,
            gdb,
            qemu_args,
        } => run(
            &workspace,
            Profile::from_release_flag(release),
            which.name(),
            iso,
            gdb,
            qemu_args,
        ),
        Command::Test => unreachable!("handled above"),
        Command::Bench => bench(&workspace),
        Command::Fuzz {
            target,
            ops,
            seed,
            trace,
        } => fuzz_once(&workspace, target, ops, seed.as_deref(), trace),
        Command::Manifest { files, plan_out } => {
            manifest::check_all(&files, plan_out.as_deref()).map(|()| ExitCode::SUCCESS)
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn build(workspace: &Workspace, profile: Profile) -> Result<ExitCode, String> {
    let images = components::all(&workspace.root)?;
    let guests = guests::all(&workspace.root)?;
    let artifacts = cargo_build::build(workspace, profile, &images, &guests)?;
    println!("xtask: kernel {}", artifacts.kernel.display());
    for image in &images {
        println!("xtask: component {}", artifacts.image(image).display());
    }
    for guest in &guests {
        println!("xtask: guest {}", artifacts.guest(guest).display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Builds the kernel and the deployment's images (`None`: the kernel alone),
/// and writes its boot plan.
fn prepare(
    workspace: &Workspace,
    profile: Profile,
    name: Option<&str>,
) -> Result<(Deployment, cargo_build::Artifacts), String> {
    let Some(name) = name else {
        let artifacts = cargo_build::build(workspace, profile, &[], &[])?;
        return Ok((Deployment::kernel_only(), artifacts));
    };
    let manifest = deployment::load_manifest(&workspace.root, name)?;
    components::check_images(name, &manifest.images, &components::all(&workspace.root)?)?;
    let guests = guests::resolve(name, &manifest.guest_images, &guests::all(&workspace.root)?)?;
    let artifacts = cargo_build::build(
        workspace,
        profile,
        &deployment::images_to_build(&manifest),
        &guests,
    )?;
    let deployment = deployment::assemble(&workspace.out_dir(), &manifest, &artifacts, &guests)?;
    println!(
        "xtask: deployment {:?}: {} components, {} partitions, modules {}",
        deployment.name,
        manifest.components.len(),
        manifest.partitions.len(),
        deployment
            .modules
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((deployment, artifacts))
}

fn image(workspace: &Workspace, profile: Profile, name: Option<&str>) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: false,
        grub: true,
    })?;
    let (deployment, artifacts) = prepare(workspace, profile, name)?;
    image::make_iso(workspace, &deployment, &artifacts.kernel)?;
    Ok(ExitCode::SUCCESS)
}

fn run(
    workspace: &Workspace,
    profile: Profile,
    name: Option<&str>,
    iso: bool,
    gdb: bool,
    qemu_args: Vec<String>,
) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: iso,
    })?;
    let (deployment, artifacts) = prepare(workspace, profile, name)?;
    let boot = if iso {
        Boot::Cdrom {
            iso: image::make_iso(workspace, &deployment, &artifacts.kernel)?,
        }
    } else {
        Boot::Kernel {
            kernel: artifacts.kernel.clone(),
            cmdline: deployment.cmdline.clone(),
            initrd: qemu::command::initrd(&deployment.modules)?,
        }
    };
    let choice = qemu::accel::choose();
    println!("{}", choice.describe());
    let config = QemuConfig {
        accel: choice.accel,
        boot,
        smp: deployment.smp,
        memory_mib: deployment.memory_mib,
        serial_log: workspace
            .logs_dir()
            .join(format!("run-{}.serial.log", deployment.name)),
        gdb,
        extra: qemu_args,
    };
    let limit = if gdb {
        println!(
            "xtask: QEMU waits for gdb on :1234; attach with: gdb -ex 'target remote :1234' {}",
            artifacts.kernel.display()
        );
        None
    } else {
        Some(TIME_LIMIT)
    };
    println!("xtask: serial log {}", config.serial_log.display());
    let finished = qemu_process::run(&config, limit, Echo::Terminal)?;
    println!("xtask: {}", finished.outcome);
    Ok(if finished.outcome.is_pass() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn bench(workspace: &Workspace) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: false,
    })?;
    let (deployment, artifacts) = prepare(workspace, Profile::Release, Some(bench::DEPLOYMENT))?;
    let table = bench::run(workspace, &deployment, &artifacts.kernel)?;
    // The guest-exit figures come from another boot; without them the
    // component figures are still printed.
    let guest = prepare(workspace, Profile::Release, Some(bench::VM_DEPLOYMENT)).and_then(
        |(deployment, artifacts)| bench::run_guest(workspace, &deployment, &artifacts.kernel),
    );
    print!("{table}");
    match guest {
        Ok(rows) => {
            print!("{rows}");
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(format!(
            "the guest-exit figures ({}) are missing: {e}",
            bench::VM_DEPLOYMENT
        )),
    }
}

fn fuzz_once(
    workspace: &Workspace,
    target: fuzz::Target,
    ops: u64,
    seed: Option<&str>,
    trace: bool,
) -> Result<ExitCode, String> {
    let seed = fuzz::choose_seed(seed)?;
    let outcome = fuzz::run(workspace, target, seed, ops, trace)?;
    Ok(if outcome.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Unit tests and system tests; the last line printed is `N passed, M failed`.
fn test() -> ExitCode {
    let mut tally = Tally::default();
    match Workspace::locate() {
        Ok(workspace) => {
            tally += unit_tests::run(&workspace);
            tally += system_tests::run_all(&workspace);
            tally += fuzz::suite(&workspace);
        }
        Err(e) => {
            eprintln!("xtask: error: {e}");
            tally += Tally::FAILED;
        }
    }
    println!("{}", tally.summary());
    if tally.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_takes_extra_qemu_arguments_after_double_dash() {
        let cli = Cli::try_parse_from(["xtask", "run", "--iso", "--", "-d", "int"]).unwrap();
        let Command::Run {
            iso,
            gdb,
            release,
            which,
            qemu_args,
        } = cli.command
        else {
            panic!("not run");
        };
        assert!(iso && !gdb && !release);
        assert_eq!(qemu_args, ["-d", "int"]);
        assert_eq!(which.name(), Some("default"));
    }

    #[test]
    fn run_and_image_take_a_deployment_or_the_kernel_alone() {
        let which = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Run { which, .. } | Command::Image { which, .. } => {
                which.name().map(str::to_owned)
            }
            _ => panic!("not run or image"),
        };
        assert_eq!(
            which(&["xtask", "run", "--deployment", "cap-errors"]).as_deref(),
            Some("cap-errors")
        );
        assert_eq!(
            which(&["xtask", "image", "--deployment", "fault-containment"]).as_deref(),
            Some("fault-containment")
        );
        assert_eq!(which(&["xtask", "image"]).as_deref(), Some("default"));
        assert_eq!(which(&["xtask", "run", "--kernel-only"]), None);
        assert!(
            Cli::try_parse_from(["xtask", "run", "--kernel-only", "--deployment", "x"]).is_err()
        );
    }
}
