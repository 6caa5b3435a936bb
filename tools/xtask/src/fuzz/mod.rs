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
    /// Findings that fail the run.
    pub findings: Vec<Finding>,
    /// Findings an open issue already explains ([`Known`]): printed, and
    /// not failing the run until the branch that closes them lands.
    pub known: Vec<Finding>,
}

/// A class of finding that an issue reports and another branch closes:
/// the fuzzer keeps checking it, and its findings are reported apart.
/// Once that branch is merged, its entry goes and the class is fatal again.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Text in the finding's line.
    pub pattern: &'static str,
    /// The issue and the branch.
    pub why: &'static str,
    /// Known only in a run that also has a finding with this text (a
    /// consequence of another known class, and a real finding without it).
    pub only_with: Option<&'static str>,
}

impl Outcome {
    /// Moves the findings a `known` class explains to [`Self::known`].
    pub fn sort_known(findings: Vec<Finding>, known: &[Known]) -> Self {
        let present = |text: &str| findings.iter().any(|f| f.what.contains(text));
        let explained = |f: &Finding| {
            known
                .iter()
                .any(|k| f.what.contains(k.pattern) && k.only_with.is_none_or(&present))
        };
        let (known_found, findings) = findings.iter().cloned().partition(explained);
        Self {
            findings,
            known: known_found,
        }
    }
}

/// Operations per run when `--ops` is not given.
pub const DEFAULT_OPERATIONS: u64 = 100_000;
/// Operations per run in `cargo xtask test`.
pub const SUITE_OPERATIONS: u64 = 10_000;
/// The seeds `cargo xtask test` runs.
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
            Ok(seed::from_clock(now.as_nanos() as u64))
        }
    }
}

/// The in-QEMU fuzzers.
static SYSCALLS: boot::Fuzzer = boot::Fuzzer {
    deployment: "fuzz-syscalls",
    images: &["fuzz-syscalls", "fuzz-partner"],
    progress: "fuzz-syscalls:",
    broken: &[
        "component fuzz-syscalls faulted",
        "component fuzz-partner faulted",
        "] ERROR panic at",
    ],
    known: &SYSCALLS_KNOWN,
};

/// Leak classes the syscall fuzzer may see and not fail on: none. (Issue 9
/// findings 2 and 4, the domains, threads, partitions and regions that
/// were never given back, were listed here until the kernel-objects work
/// closed them; each is a failure again.)
const SYSCALLS_KNOWN: [Known; 0] = [];

static GUEST: boot::Fuzzer = boot::Fuzzer {
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
    known: &[],
};

/// A target ready to run seeds: an in-QEMU fuzzer's deployment is built
/// once for all of them.
enum Session {
    Manifest,
    Boot(&'static boot::Fuzzer, boot::Built),
}

impl Session {
    fn start(workspace: &Workspace, target: Target) -> Result<Self, String> {
        let fuzzer = match target {
            Target::Manifest => return Ok(Self::Manifest),
            Target::Syscalls => &SYSCALLS,
            Target::Guest => &GUEST,
        };
        Ok(Self::Boot(fuzzer, boot::build(workspace, fuzzer)?))
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
/// seed, each one test named `fuzz TARGET seed SEED` (those whose names
/// contain `filter`). The seeds are fixed so that the suite is the same
/// on every run; `cargo xtask fuzz` explores new ones.
pub fn suite(workspace: &Workspace, filter: Option<&str>) -> Tally {
    let mut tally = Tally::default();
    let name = |target: Target, seed: u64| format!("fuzz {} seed {}", target.name(), Seed(seed));
    let chosen = |target, seed| filter.is_none_or(|f| name(target, seed).contains(f));
    for target in Target::ALL {
        let seeds: Vec<u64> = SUITE_SEEDS
            .into_iter()
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
                    if outcome.known.is_empty() {
                        println!("{name} ... ok");
                    } else {
                        println!("{name} ... ok ({} known findings)", outcome.known.len());
                    }
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
