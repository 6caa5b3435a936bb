//! Helpers for test components: deliberate faults, numbered checks with a
//! verdict ([`Tap`]), and a partition whose VP makes one exit
//! ([`PortWriter`]).

use core::fmt::{self, Debug};

use tessera_abi::vm::{intercept, map};
use tessera_abi::{Status, page};

use crate::error::Error;
use crate::{cap, memory, slot, vm};

/// Stops this component with a page fault, by writing to address 0x10
/// (page 0 is never mapped). For tests of fault containment: the kernel
/// must stop the component, and wake its callers with `ServerDied`.
pub fn crash_with_page_fault() -> ! {
    crate::syscall::write_to_page_zero()
}

pub use crate::syscall::Fault;

/// Stops this component with `fault` (#UD, #DE or #GP), for the same tests.
pub fn crash_with(fault: Fault) -> ! {
    crate::syscall::raise_fault(fault)
}

/// Numbered checks, logged as they go (`ok N - WHAT`, or `not ok N - WHAT:
/// got ...`); [`Tap::finish`] gives the verdict: pass only if every check
/// was ok.
#[derive(Debug)]
pub struct Tap {
    /// The component, for the summary line.
    name: &'static str,
    checks: u32,
    failed: u32,
}

impl Tap {
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            checks: 0,
            failed: 0,
        }
    }

    /// Checks that `result` is a success; whether it was.
    pub fn expect_ok<T: Debug>(&mut self, what: &str, result: Result<T, Error>) -> bool {
        match result {
            Ok(_) => self.check(what, true, format_args!("")),
            Err(e) => self.check(what, false, format_args!("{e:?} ({e})")),
        }
    }

    /// Checks that `result` failed with `wanted`.
    pub fn expect<T: Debug>(&mut self, what: &str, result: Result<T, Error>, wanted: Status) {
        let _ = match result {
            Err(e) => self.check(what, e == wanted, format_args!("{e:?} ({e})")),
            Ok(_) => self.check(what, false, format_args!("success")),
        };
    }

    /// Checks that `result` is `wanted`.
    pub fn expect_value<T: Debug + PartialEq, E: Debug + fmt::Display>(
        &mut self,
        what: &str,
        result: Result<T, E>,
        wanted: T,
    ) {
        let _ = match result {
            Ok(value) if value == wanted => self.check(what, true, format_args!("")),
            Ok(value) => self.check(what, false, format_args!("{value:?}, wanted {wanted:?}")),
            Err(e) => self.check(what, false, format_args!("{e:?} ({e})")),
        };
    }

    /// Records one check; `got` says what was wrong when it failed.
    /// Returns `ok`.
    pub fn check(&mut self, what: &str, ok: bool, got: fmt::Arguments<'_>) -> bool {
        self.checks += 1;
        let n = self.checks;
        if ok {
            log::info!("ok {n} - {what}");
        } else {
            self.failed += 1;
            log::info!("not ok {n} - {what}: got {got}");
        }
        ok
    }

    /// A check that cannot run because an earlier one failed.
    pub fn not_run(&mut self, what: &str, why: &str) {
        self.checks += 1;
        self.failed += 1;
        log::info!("not ok {} - {what}: not run, {why}", self.checks);
    }

    /// Logs the summary and gives the verdict.
    pub fn finish(self) -> ! {
        if self.failed == 0 {
            log::info!("{}: all {} checks ok", self.name, self.checks);
        } else {
            log::info!(
                "{}: {} of {} checks failed",
                self.name,
                self.failed,
                self.checks
            );
        }
        crate::verdict(self.failed == 0)
    }
}

/// The port a [`PORT_WRITER`] guest writes.
pub const PORT_WRITER_PORT: u16 = 0x80;

/// Where the reset vector's page is (a VP starts at GPA 0xFFFF_FFF0).
const RESET_PAGE: u64 = 0xFFFF_F000;
/// Guest code at the reset vector: `OUT 0x80, AL; HLT; JMP $-1` — one
/// exit, to the port route.
pub const PORT_WRITER: [u8; 8] = [0xE6, 0x80, 0xF4, 0xEB, 0xFD, 0x90, 0x90, 0x90];
/// Guest code at the reset vector: `OUT 0x80, AL; JMP $` — one exit, then
/// a loop with none (at 0xFFF2).
pub const SPINNER: [u8; 8] = [0xE6, 0x80, 0xEB, 0xFE, 0x90, 0x90, 0x90, 0x90];

/// Makes a one-page region (its capability to `region`) holding `code` at
/// the reset vector, for [`PortWriter`]s to run, writing it through the
/// caller's region window at `window`.
pub fn reset_vector_code(region: u32, window: u64, code: [u8; 8]) -> Result<(), Error> {
    memory::create(region, 1)?;
    memory::map(region, slot::DOMAIN, window, page::WRITE)?;
    memory::write(window + 0xFF0, &[u64::from_le_bytes(code)]);
    Ok(())
}

/// A partition whose VP 0 starts in the reset state and runs a code region
/// ([`reset_vector_code`]; [`PORT_WRITER`] makes one port exit, to the
/// endpoint its route names, which is also its lifecycle route). The slots
/// are the caller's.
#[derive(Clone, Copy, Debug)]
pub struct PortWriter {
    pub partition: u32,
    pub vp: u32,
}

impl PortWriter {
    /// Builds it (named `name`) over the code region `code`
    /// ([`reset_vector_code`]), routing its exits to `endpoint`, and starts
    /// its VP on `cpu` at `priority`.
    pub fn build(
        self,
        name: &str,
        code: u32,
        endpoint: u32,
        cpu: u32,
        priority: u8,
    ) -> Result<Self, Error> {
        vm::partition_create(self.partition, name)?;
        let flags = map::READABLE | map::EXECUTABLE;
        vm::map_gpa(self.partition, code, RESET_PAGE, flags)?;
        let port = u64::from(PORT_WRITER_PORT);
        vm::install_intercept(
            self.partition,
            intercept::IO_PORT,
            port | port << 16,
            endpoint,
            0,
        )?;
        vm::install_intercept(self.partition, intercept::LIFECYCLE, 0, endpoint, 0)?;
        vm::vp_create(self.partition, self.vp, 0, cpu, priority)?;
        vm::vp_start(self.vp)?;
        Ok(self)
    }

    /// Deletes its VP's and partition's capabilities (the last ones: the
    /// objects go).
    pub fn delete(self) -> Result<(), Error> {
        cap::delete(self.vp)?;
        cap::delete(self.partition)
    }
}

/// The kernel's audit of its own bookkeeping (`KernelAudit`; layout:
/// `tessera_abi::audit`), for tests that hold the verdict capability in
/// `verdict` (slot 3 when the manifest says `verdict = true`).
pub fn kernel_audit(verdict: u32) -> Result<[u64; tessera_abi::audit::WORDS], crate::Error> {
    use tessera_abi::{CapTransfer, Syscall};
    crate::syscall::invoke(Syscall::KernelAudit, verdict, [0; 6], CapTransfer::NONE)?;
    let mut report = [0u64; tessera_abi::audit::WORDS];
    crate::message_buffer::read_into(&mut report);
    Ok(report)
}

/// The kernel audit, asked again (with a pause of about a millisecond of
/// time-stamp counter between) until `settled` says it looks as it should
/// or `rounds` audits have been made: for what other CPUs finish after a
/// call returns (a VP stopping before its partition is reaped). Returns
/// the last audit.
pub fn kernel_audit_settled(
    verdict: u32,
    rounds: u32,
    mut settled: impl FnMut(&[u64; tessera_abi::audit::WORDS]) -> bool,
) -> Result<[u64; tessera_abi::audit::WORDS], crate::Error> {
    let mut report = kernel_audit(verdict)?;
    for _ in 1..rounds {
        if settled(&report) {
            break;
        }
        let start = crate::time::cycles();
        while crate::time::cycles().wrapping_sub(start) < 3_000_000 {
            crate::yield_now();
        }
        report = kernel_audit(verdict)?;
    }
    Ok(report)
}
