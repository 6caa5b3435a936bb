//! `cargo xtask`: builds Tessera, makes its GRUB image, boots it under QEMU, and runs
//! the host unit tests and the system tests.

#![deny(unsafe_code)]

mod bench;
mod bench_linux;
mod cargo_build;
mod components;
mod debian;
mod deployment;
mod elf_strip;
mod exit_stats;
mod fuzz;
mod guests;
mod host_tools;
mod image;
mod initramfs;
mod locate;
mod machine;
mod manifest;
mod named_files;
mod nested;
mod qemu;
#[cfg(test)]
mod scratch;
mod serial_log;
mod system_tests;
mod tally;
mod toolchain;
mod unit_tests;
mod workspace;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use cargo_build::Profile;
use deployment::{DEFAULT_DEPLOYMENT, Deployment};
use host_tools::Needs;
use machine::Overrides;
use qemu::command::{Boot, QemuConfig, Serial};
use qemu::process::{self as qemu_process, Echo, Options};
use qemu::progress::Limit;
use qemu::status::Outcome;
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
    /// A deployment of boot/deployments/ by name (default: default), or the
    /// path of any manifest file.
    #[arg(value_name = "MANIFEST")]
    manifest: Option<String>,
    /// The same as MANIFEST.
    #[arg(long, value_name = "NAME", conflicts_with = "manifest")]
    deployment: Option<String>,
    /// Boot the kernel alone, without a deployment (no modules).
    #[arg(long, conflicts_with_all = ["manifest", "deployment"])]
    kernel_only: bool,
}

impl Which {
    /// The manifest named (a deployment name or a path); `None` for the
    /// kernel alone.
    fn manifest(&self) -> Option<&str> {
        if self.kernel_only {
            return None;
        }
        Some(
            self.manifest
                .as_deref()
                .or(self.deployment.as_deref())
                .unwrap_or(DEFAULT_DEPLOYMENT),
        )
    }
}

/// How `run` runs QEMU.
#[derive(Debug, Clone, clap::Args)]
struct RunFlags {
    /// Boot through GRUB from the ISO (Multiboot2) instead of QEMU's -kernel (Multiboot1).
    #[arg(long)]
    iso: bool,
    /// Wait for gdb on :1234 before the first instruction; no limit.
    #[arg(long)]
    gdb: bool,
    /// Type into the console partition's COM1, with no limit; Ctrl-A X ends
    /// the run. (A deployment without a verdict component always runs so.)
    #[arg(long)]
    interactive: bool,
    /// The machine's memory: MiB, or with M or G (default: what the
    /// manifest needs, with a margin, at least 256 MiB).
    #[arg(long, value_name = "SIZE", value_parser = machine::parse_memory)]
    memory: Option<u64>,
    /// The machine's CPUs (default: the manifest's `cpus`).
    #[arg(long, value_name = "N")]
    cpus: Option<u32>,
    /// At the end, print each partition's exits by reason and outcome (the
    /// kernel counts them; `exit-stats=on` on its command line).
    #[arg(long)]
    stats: bool,
    /// Extra QEMU arguments, after `--` (`-m` and `-smp` there override too).
    #[arg(last = true, value_name = "QEMU ARGS")]
    qemu_args: Vec<String>,
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
    /// Boot a deployment under QEMU; exit 0 iff the kernel reports pass (or,
    /// interactively, QEMU ends without a failure).
    Run {
        /// Use the release profile.
        #[arg(long)]
        release: bool,
        #[command(flatten)]
        which: Which,
        #[command(flatten)]
        flags: RunFlags,
    },
    /// Host unit tests, then the system tests under QEMU; ends with `N passed, M failed`.
    ///
    /// With --nested: no unit tests; the system tests run instead under KVM with
    /// nested SVM, inside Debian's Linux booted once under TCG (the kernel and
    /// busybox fetched with apt-get download into target/tessera/debian, QEMU and
    /// its libraries taken from the host). It prints the SVM features Tessera saw.
    Test {
        /// Run only the unit and system tests whose names contain this.
        filter: Option<String>,
        /// List the system tests (those FILTER selects) instead of running them.
        #[arg(long)]
        list: bool,
        /// Run the system tests under nested KVM inside Linux (L1) under TCG.
        #[arg(long)]
        nested: bool,
        /// Run each selected system test this many times in a row (an
        /// intermittent failure shows as a count; the unit tests run once).
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u32).range(1..))]
        repeat: u32,
    },
    /// Measure system call and IPC round trips in instructions (QEMU -icount).
    Bench {
        /// `linux`: Debian's Linux booted to user space directly on QEMU and
        /// under Tessera, the ratio of the two, and Tessera's exit statistics.
        #[arg(value_enum)]
        what: Option<BenchSuite>,
    },
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
    /// Check deployment manifests and report every problem (default: every
    /// deployment of boot/deployments/).
    Manifest {
        /// Deployment names or manifest files.
        #[arg(value_name = "MANIFEST")]
        manifests: Vec<String>,
        /// Also write the compiled boot plan here (one manifest only).
        #[arg(long, value_name = "PATH")]
        plan_out: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Test {
        filter,
        list,
        nested,
        repeat,
    } = &cli.command
    {
        return test(filter.as_deref(), *list, *nested, *repeat);
    }
    let result = Workspace::locate().and_then(|workspace| match cli.command {
        Command::Build { release } => build(&workspace, Profile::from_release_flag(release)),
        Command::Image { release, which } => image(
            &workspace,
            Profile::from_release_flag(release),
            which.manifest(),
        ),
        Command::Run {
            release,
            which,
            flags,
        } => run(
            &workspace,
            Profile::from_release_flag(release),
            which.manifest(),
            flags,
        ),
        Command::Test { .. } => unreachable!("handled above"),
        Command::Bench { what: None } => bench(&workspace),
        Command::Bench {
            what: Some(BenchSuite::Linux),
        } => bench_linux(&workspace),
        Command::Fuzz {
            target,
            ops,
            seed,
            trace,
        } => fuzz_once(&workspace, target, ops, seed.as_deref(), trace),
        Command::Manifest {
            manifests,
            plan_out,
        } => manifest::check_named(&workspace.root, &manifests, plan_out.as_deref())
            .map(|()| ExitCode::SUCCESS),
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

/// Builds the kernel and the images of the deployment `manifest` names (a
/// name or a path; `None`: the kernel alone), and writes its boot plan.
fn prepare(
    workspace: &Workspace,
    profile: Profile,
    manifest: Option<&str>,
) -> Result<(Deployment, cargo_build::Artifacts), String> {
    let Some(manifest) = manifest else {
        let artifacts = cargo_build::build(workspace, profile, &[], &[])?;
        return Ok((Deployment::kernel_only(), artifacts));
    };
    let path = locate::manifest(&workspace.root, manifest)?;
    let manifest = deployment::load_manifest(&path)?;
    let name = manifest.name.as_str();
    components::check_images(name, &manifest.images, &components::all(&workspace.root)?)?;
    let guests = guests::resolve(
        name,
        &manifest.guest_crates(),
        &guests::all(&workspace.root)?,
    )?;
    let artifacts = cargo_build::build(
        workspace,
        profile,
        &deployment::images_to_build(&manifest),
        &guests,
    )?;
    let deployment = deployment::assemble(&workspace.out_dir(), &manifest, &artifacts, &guests)?;
    println!(
        "xtask: deployment {:?} ({}): {} components, {} partitions, modules {}",
        deployment.name,
        path.display(),
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

fn image(
    workspace: &Workspace,
    profile: Profile,
    manifest: Option<&str>,
) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: false,
        grub: true,
    })?;
    let (deployment, artifacts) = prepare(workspace, profile, manifest)?;
    image::make_iso(workspace, &deployment, &artifacts.kernel)?;
    Ok(ExitCode::SUCCESS)
}

fn run(
    workspace: &Workspace,
    profile: Profile,
    manifest: Option<&str>,
    flags: RunFlags,
) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: flags.iso,
    })?;
    let overrides = Overrides {
        memory_mib: flags.memory,
        cpus: flags.cpus,
    }
    .with_qemu_args(&flags.qemu_args)?;
    let (mut deployment, artifacts) = prepare(workspace, profile, manifest)?;
    if flags.stats {
        deployment.cmdline = format!("{} {}", deployment.cmdline, exit_stats::KERNEL_OPTION);
    }
    // Refused before anything boots.
    let (smp, memory_mib) = deployment.machine(overrides)?;
    let boot = if flags.iso {
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
    let interactive = flags.interactive || !deployment.has_verdict;
    let log = workspace
        .logs_dir()
        .join(format!("run-{}.serial.log", deployment.name));
    println!(
        "xtask: machine: {smp} CPUs, {memory_mib} MiB; serial log {}",
        log.display()
    );
    let config = QemuConfig {
        accel: choice.accel,
        boot,
        smp,
        memory_mib,
        serial: if interactive {
            Serial::Console(log.clone())
        } else {
            Serial::File(log.clone())
        },
        gdb: flags.gdb,
        extra: flags.qemu_args,
    };
    if flags.gdb {
        println!(
            "xtask: QEMU waits for gdb on :1234; attach with: gdb -ex 'target remote :1234' {}",
            artifacts.kernel.display()
        );
    }
    if interactive {
        println!(
            "xtask: interactive: what you type goes to the console partition's COM1; Ctrl-A X ends \
             the run"
        );
    }
    let limit = (!flags.gdb && !interactive).then_some(Limit::DEFAULT);
    let options = Options {
        limit,
        echo: Echo::Terminal,
        input: &[],
    };
    let finished = qemu_process::run(&config, options)?;
    if interactive && finished.outcome == Outcome::NoVerdict {
        println!("xtask: the run ended without a verdict (Ctrl-A X, or the deployment ended)");
    } else {
        println!("xtask: {}", finished.outcome);
    }
    let mut ok = match finished.outcome {
        Outcome::Verdict(_) => finished.outcome.is_pass(),
        // Ctrl-A X, or a deployment that ends quietly without a verdict.
        Outcome::NoVerdict => interactive,
        _ => false,
    };
    if flags.stats {
        match exit_stats::parse(&serial_log::read_clean(&log)) {
            Ok(partitions) => print!("{}", exit_stats::table(&partitions)),
            Err(e) => {
                eprintln!("xtask: --stats: {e}");
                ok = false;
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The benchmarks besides the paths' table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BenchSuite {
    Linux,
}

fn bench_linux(workspace: &Workspace) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: false,
    })?;
    let (deployment, artifacts) =
        prepare(workspace, Profile::Release, Some(bench_linux::DEPLOYMENT))?;
    bench_linux::run(workspace, &deployment, &artifacts.kernel)?;
    Ok(ExitCode::SUCCESS)
}

fn bench(workspace: &Workspace) -> Result<ExitCode, String> {
    host_tools::ensure(Needs {
        qemu: true,
        grub: false,
    })?;
    let (deployment, artifacts) = prepare(workspace, Profile::Release, Some(bench::DEPLOYMENT))?;
    let mut rows = bench::run(workspace, &deployment, &artifacts.kernel)?;
    let (deployment, artifacts) = prepare(workspace, Profile::Release, Some(bench::VM_DEPLOYMENT))?;
    let guest = bench::run_guest(workspace, &deployment, &artifacts.kernel).map_err(|e| {
        format!(
            "the guest-exit figures ({}) are missing: {e}",
            bench::VM_DEPLOYMENT
        )
    })?;
    rows.extend(guest);
    for (name, paths) in [
        (bench::SMP_DEPLOYMENT, bench::SMP_PATHS),
        (bench::PINNED_DEPLOYMENT, bench::PINNED_PATHS),
    ] {
        let (deployment, artifacts) = prepare(workspace, Profile::Release, Some(name))?;
        let smp = bench::run_smp(workspace, &deployment, &artifacts.kernel, paths)
            .map_err(|e| format!("the cross-CPU figures ({name}) are missing: {e}"))?;
        rows.extend(smp);
    }
    print!("{}", bench::table(&rows));
    Ok(ExitCode::SUCCESS)
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

/// Unit tests, system tests and the short fuzz runs (those whose names
/// contain `filter`), or with `nested` the system tests inside L1 under
/// nested KVM; the last line printed is `N passed, M failed`. `list`: the
/// system tests only, one per line. `repeat`: how many times each system
/// test runs.
fn test(filter: Option<&str>, list: bool, nested: bool, repeat: u32) -> ExitCode {
    let selected = system_tests::select(filter);
    if list {
        print!("{}", system_tests::list(&selected));
        println!(
            "({} system tests; the unit tests are cargo's: cargo test -- --list)",
            selected.len()
        );
        return ExitCode::SUCCESS;
    }
    let selected = system_tests::repeated(&selected, repeat);
    let mut tally = Tally::default();
    match Workspace::locate() {
        Ok(workspace) if nested => tally += nested::run(&workspace, &selected),
        Ok(workspace) => {
            tally += unit_tests::run(&workspace, filter);
            tally += system_tests::run(&workspace, &selected);
            tally += fuzz::suite(&workspace, filter);
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

    fn run_parts(args: &[&str]) -> (Option<String>, RunFlags) {
        match Cli::try_parse_from(args).unwrap().command {
            Command::Run { which, flags, .. } => (which.manifest().map(str::to_owned), flags),
            _ => panic!("not run"),
        }
    }

    #[test]
    fn test_repeats_at_least_once() {
        let repeat = |args: &[&str]| match Cli::try_parse_from(args).map(|c| c.command) {
            Ok(Command::Test { repeat, .. }) => Ok(repeat),
            Ok(_) => panic!("not test"),
            Err(e) => Err(e.kind()),
        };
        assert_eq!(repeat(&["xtask", "test"]), Ok(1));
        assert_eq!(
            repeat(&["xtask", "test", "vm-hv-reset", "--repeat", "200"]),
            Ok(200)
        );
        assert!(repeat(&["xtask", "test", "--repeat", "0"]).is_err());
    }

    #[test]
    fn run_takes_extra_qemu_arguments_after_double_dash() {
        let (manifest, flags) = run_parts(&["xtask", "run", "--iso", "--", "-d", "int"]);
        assert!(flags.iso && !flags.gdb && !flags.interactive && !flags.stats);
        let (_, with_stats) = run_parts(&["xtask", "run", "--stats", "--deployment", "vm-bench"]);
        assert!(with_stats.stats);
        assert_eq!(flags.qemu_args, ["-d", "int"]);
        assert_eq!(manifest.as_deref(), Some("default"));
    }

    #[test]
    fn run_takes_a_name_or_a_path_and_sizes_the_machine() {
        let (manifest, flags) = run_parts(&[
            "xtask",
            "run",
            "/tmp/guests/my.toml",
            "--memory",
            "1G",
            "--cpus",
            "4",
            "--interactive",
        ]);
        assert_eq!(manifest.as_deref(), Some("/tmp/guests/my.toml"));
        assert_eq!((flags.memory, flags.cpus), (Some(1024), Some(4)));
        assert!(flags.interactive);
        assert!(Cli::try_parse_from(["xtask", "run", "--memory", "lots"]).is_err());
    }

    #[test]
    fn run_and_image_take_a_deployment_or_the_kernel_alone() {
        let which = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Run { which, .. } | Command::Image { which, .. } => {
                which.manifest().map(str::to_owned)
            }
            _ => panic!("not run or image"),
        };
        assert_eq!(
            which(&["xtask", "run", "--deployment", "cap-errors"]).as_deref(),
            Some("cap-errors")
        );
        assert_eq!(
            which(&["xtask", "run", "cap-errors"]).as_deref(),
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
        assert!(Cli::try_parse_from(["xtask", "run", "a", "--deployment", "b"]).is_err());
    }

    #[test]
    fn test_takes_a_filter_and_list() {
        match Cli::try_parse_from(["xtask", "test", "vm-hv", "--list"])
            .unwrap()
            .command
        {
            Command::Test { filter, list, .. } => {
                assert_eq!(filter.as_deref(), Some("vm-hv"));
                assert!(list);
            }
            _ => panic!("not test"),
        }
        match Cli::try_parse_from(["xtask", "manifest"]).unwrap().command {
            Command::Manifest { manifests, .. } => assert!(manifests.is_empty()),
            _ => panic!("not manifest"),
        }
    }
}
