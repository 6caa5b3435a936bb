//! `cargo xtask fuzz <target> [--ops N] [--seed S]`, and the short fuzz
//! runs of `cargo xtask test`.
//!
//! | target | what runs | oracles |
//! | --- | --- | --- |
//! | `guest` | `fuzz-guest` issues seeded random operations against its own partition, next to a canary partition (deployment `fuzz-guest`) | the kernel never faults; every hypercall status is one the TLFS allows; the canary's memory is unchanged; the kernel audit holds and its frames come back |
//! | `syscalls` | `fuzz-syscalls` makes seeded random system calls (deployment `fuzz-syscalls`) | no kernel panic; only ABI status codes; the kernel audit holds and every frame comes back |
//! | `manifest` | the manifest compiler on generated and mutated TOML, on the host | errors, never a panic |
//!
//! Every run prints its seed; the same seed replays the same operations
//! (`--ops` up to the one that failed is enough). The in-QEMU fuzzers get
//! their seed and operation count written into their image
//! (`tessera_fuzz::params`), so no rebuild happens per seed.

mod boot;
mod manifest;
mod mutate;

use std::time::{SystemTime, UNIX_EPOCH};

use tessera_fuzz::params::{Params, flags};
use tessera_fuzz::seed::{self, Seed};

use crate::tally::Tally;
use crate::workspace::Workspace;

/// What can be fuzzed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Target {
    /// A test guest's random operations against its own partition.
    Guest,
    /// A component's random system calls.
    Syscalls,
    /// The manifest compiler on generated and mutated TOML (on the host).
    Manifest,
}

impl Target {
    pub const ALL: [Self; 3] = [Self::Manifest, Self::Syscalls, Self::Guest];

    pub fn name(self) -> &'static str {
        match self {
            Self::Guest => "guest",
            Self::Syscalls => "syscalls",
            Self::Manifest => "manifest",
        }
    }
}

/// An operation that broke an oracle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Its index in the run (`None` when the run ended without saying).
    pub operation: Option<u64>,
    pub what: String,
}

/// How a run ended.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
}

/// Operations per run when `--ops` is not given.
pub const DEFAULT_OPERATIONS: u64 = 100_000;
/// Operations per run in `cargo xtask test`.
pub const SUITE_OPERATIONS: u64 = 10_000;
/// The seeds `cargo xtask test` always runs; the seed of the day is added.
pub const SUITE_SEEDS: [u64; 2] = [1, 0x7E55_E7A0_F022_0009];

/// The seed to use: the one given, or one from the clock (printed either
/// way, so the run replays).
pub fn choose_seed(given: Option<&str>) -> Result<u64, String> {
    match given {
        Some(text) => seed::parse(text).map_err(|e| format!("--seed {text:?}: {e}")),
        None => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|e| e.to_string())?;
            Ok(seed::of_day(now.as_nanos() as u64))
        }
    }
}

/// Today's seed of the suite (UTC days since 1970).
pub fn seed_of_today() -> u64 {
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    seed::of_day(days)
}

/// The in-QEMU fuzzers.
const SYSCALLS: boot::Fuzzer = boot::Fuzzer {
    deployment: "fuzz-syscalls",
    images: &["fuzz-syscalls", "fuzz-partner"],
    progress: "fuzz-syscalls:",
    broken: &[
        "component fuzz-syscalls faulted",
        "component fuzz-partner faulted",
        "] ERROR panic at",
    ],
};
const GUEST: boot::Fuzzer = boot::Fuzzer {
    deployment: "fuzz-guest",
    images: &["fuzz-guest"],
    progress: "fuzz-guest:",
    broken: &[
        "component fuzz-host faulted",
        "component devices faulted",
        "] ERROR panic at",
        "not ok - unexpected exception",
        "not ok - panic",
    ],
};

/// A target ready to run seeds: an in-QEMU fuzzer's deployment is built
/// once for all of them.
enum Session {
    Manifest,
    Boot(boot::Fuzzer, boot::Built),
}

impl Session {
    fn start(workspace: &Workspace, target: Target) -> Result<Self, String> {
        let fuzzer = match target {
            Target::Manifest => return Ok(Self::Manifest),
            Target::Syscalls => SYSCALLS,
            Target::Guest => GUEST,
        };
        Ok(Self::Boot(fuzzer, boot::build(workspace, &fuzzer)?))
    }

    fn run(&self, workspace: &Workspace, target: Target, run: Params) -> Result<Outcome, String> {
        println!(
            "xtask: fuzz {}: seed {} ({} operations); replay: cargo xtask fuzz {} --seed {} --ops {}",
            target.name(),
            Seed(run.seed),
            run.operations,
            target.name(),
            Seed(run.seed),
            run.operations
        );
        match self {
            Self::Manifest => manifest::run(workspace, run.seed, run.operations),
            Self::Boot(fuzzer, built) => boot::run(workspace, fuzzer, built, run),
        }
    }
}

/// One run of `target`.
pub fn run(
    workspace: &Workspace,
    target: Target,
    seed: u64,
    operations: u64,
    trace: bool,
) -> Result<Outcome, String> {
    let run = Params {
        seed,
        operations,
        flags: if trace { flags::TRACE } else { 0 },
    };
    Session::start(workspace, target)?.run(workspace, target, run)
}

/// The short runs of `cargo xtask test`: every target with every suite
/// seed and today's, each one test named `fuzz TARGET seed SEED` (those
/// whose names contain `filter`).
pub fn suite(workspace: &Workspace, filter: Option<&str>) -> Tally {
    let mut tally = Tally::default();
    let today = seed_of_today();
    let name = |target: Target, seed: u64| format!("fuzz {} seed {}", target.name(), Seed(seed));
    let chosen = |target, seed| filter.is_none_or(|f| name(target, seed).contains(f));
    for target in Target::ALL {
        let seeds: Vec<u64> = SUITE_SEEDS
            .into_iter()
            .chain([today])
            .filter(|&seed| chosen(target, seed))
            .collect();
        if seeds.is_empty() {
            continue;
        }
        let session = Session::start(workspace, target);
        for seed in seeds {
            let name = name(target, seed);
            let run = Params {
                seed,
                operations: SUITE_OPERATIONS,
                flags: 0,
            };
            let result = session
                .as_ref()
                .map_err(Clone::clone)
                .and_then(|session| session.run(workspace, target, run));
            match result {
                Ok(outcome) if outcome.findings.is_empty() => {
                    println!("{name} ... ok");
                    tally += Tally::PASSED;
                }
                Ok(outcome) => {
                    println!("{name} ... FAILED: {} findings", outcome.findings.len());
                    for finding in &outcome.findings {
                        println!("  operation {:?}: {}", finding.operation, finding.what);
                    }
                    tally += Tally::FAILED;
                }
                Err(e) => {
                    println!("{name} ... FAILED: {e}");
                    tally += Tally::FAILED;
                }
            }
        }
    }
    tally
}
