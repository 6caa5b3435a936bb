//! The component: the run, its oracles and its report.
mod calls;
mod judge;

use fuzz_syscalls::model::{Slots, VERDICT};
use tessera_fuzz::Draw;
use tessera_fuzz::params::{self, ParamBlock};
use tessera_fuzz::seed::Seed;
use tessera_rt::abi::Status;
use tessera_rt::syscall::{Registers, raw};

tessera_rt::entry!(main);

/// Written by xtask: the seed, the operation count, the flags.
static PARAMS: ParamBlock = ParamBlock::new(params::DEFAULTS);

/// How often the audit runs during the operations.
const AUDIT_EVERY: u64 = 1024;
/// How often progress is printed.
const PROGRESS_EVERY: u64 = 1000;
/// How many findings are printed (the count is always reported).
const PRINTED_FINDINGS: u64 = 40;

/// The run's state.
pub struct Fuzzer {
    pub slots: Slots,
    pub seed: u64,
    /// The operation running now.
    pub operation: u64,
    pub trace: bool,
    pub findings: u64,
    /// Calls made, and the ones that succeeded.
    pub calls: u64,
    pub successes: u64,
    /// Print every finding (the end's oracles), not only the first ones.
    pub print_all: bool,
}

impl Fuzzer {
    /// Makes a system call and checks its status against the ABI.
    pub fn sys(&mut self, registers: Registers) -> Registers {
        let out = raw(registers);
        if self.trace {
            log::info!(
                "fuzz-syscalls: operation {}: call {} rdi {:#x} words {:x?} -> {:#x}",
                self.operation,
                registers.rax,
                registers.rdi,
                registers.words,
                out.rax
            );
        }
        self.calls += 1;
        if out.rax == 0 {
            self.successes += 1;
        } else if Status::from_code(out.rax).is_none() {
            self.finding(format_args!(
                "system call {} (rdi {:#x}, words {:x?}) returned status {:#x}, which the ABI does not list",
                registers.rax, registers.rdi, registers.words, out.rax
            ));
        }
        out
    }

    pub fn finding(&mut self, what: core::fmt::Arguments<'_>) {
        self.findings += 1;
        if self.findings > PRINTED_FINDINGS && !self.print_all {
            return;
        }
        log::error!(
            "fuzz-syscalls: FINDING at operation {} of seed {}: {what}",
            self.operation,
            Seed(self.seed)
        );
    }
}

fn main() {
    let params = PARAMS.read();
    log::info!(
        "fuzz-syscalls: seed {}, {} operations{}",
        Seed(params.seed),
        params.operations,
        if params.trace() { ", tracing" } else { "" }
    );
    let mut fuzzer = Fuzzer {
        slots: Slots::new(),
        seed: params.seed,
        operation: 0,
        trace: params.trace(),
        findings: 0,
        calls: 0,
        successes: 0,
        print_all: false,
    };
    let Some(baseline) = judge::audit(&mut fuzzer) else {
        log::error!("fuzz-syscalls: the kernel audit is not available");
        tessera_rt::verdict(false);
    };
    judge::sound(&mut fuzzer, &baseline, "at the start");
    for operation in 0..params.operations {
        fuzzer.operation = operation;
        let mut draw = Draw::for_operation(params.seed, operation);
        calls::one(&mut fuzzer, &mut draw);
        if (operation + 1) % AUDIT_EVERY == 0
            && let Some(report) = judge::audit(&mut fuzzer)
        {
            judge::sound(&mut fuzzer, &report, "during the run");
        }
        if (operation + 1) % PROGRESS_EVERY == 0 {
            log::info!(
                "fuzz-syscalls: {} of {} operations, {} calls ({} succeeded), {} findings",
                operation + 1,
                params.operations,
                fuzzer.calls,
                fuzzer.successes,
                fuzzer.findings
            );
        }
    }
    fuzzer.operation = params.operations;
    judge::clean_up(&mut fuzzer, &baseline);
    let pass = fuzzer.findings == 0;
    log::info!(
        "fuzz-syscalls: seed {}: {} operations, {} calls ({} succeeded), {} findings: {}",
        Seed(params.seed),
        params.operations,
        fuzzer.calls,
        fuzzer.successes,
        fuzzer.findings,
        if pass { "pass" } else { "FAIL" }
    );
    let _ = VERDICT;
    tessera_rt::verdict(pass)
}
