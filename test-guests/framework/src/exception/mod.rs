//! Catching exceptions: a check can make an instruction fault on purpose
//! and see which exception it raised, and an exception nobody expected ends
//! the run with a report instead of a triple fault.
//!
//! # How an instruction is guarded
//!
//! A guarded instruction (see [`cpu`](crate::cpu)) sits in one `asm!` block
//! between two stores: before it, the address of the block's end goes to
//! the *recovery point*; after it, the recovery point is cleared. If the
//! instruction raises an exception, the handler finds the recovery point
//! armed: it records the vector and error code, clears the recovery point
//! and returns to it with the stack pointer the block was armed with,
//! skipping the rest of the instruction (or of code the block called).
//! Nothing else changes: the exception arrives at CPL 0 on the same stack
//! (the frame the CPU pushes below the armed stack pointer harms nothing:
//! the target has no red zone). This works for faults and traps alike
//! (`int3` reports the instruction after it) and needs no instruction
//! lengths.
//!
//! A host that stops the guest can resume it the same way: it finds the
//! recovery point where [`recovery_addresses`] says, and writes what it
//! caught there (the fuzz guest's host does, for exits that stop a VP).
//!
//! Any other exception — no recovery point armed — is reported with the
//! registers, and the run ends as failed (see `unexpected.rs`).

mod idt;
mod unexpected;

use core::fmt;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::tap::Outcome;

pub use idt::{install, make_every_exception_fatal};
pub(crate) use idt::{install_interrupt_gates, install_nmi_gate};
pub use unexpected::ExceptionFrame;

/// Exception vectors the checks name.
pub mod vector {
    pub const DIVIDE_ERROR: u8 = 0;
    pub const BREAKPOINT: u8 = 3;
    pub const INVALID_OPCODE: u8 = 6;
    pub const DOUBLE_FAULT: u8 = 8;
    pub const GENERAL_PROTECTION: u8 = 13;
    pub const PAGE_FAULT: u8 = 14;
}

/// Where a guarded instruction resumes after an exception; 0 when none is
/// armed. Written by the guarded `asm!` blocks and the handler.
#[doc(hidden)]
pub static RECOVERY_RIP: AtomicU64 = AtomicU64::new(0);
/// The stack pointer it resumes with.
#[doc(hidden)]
pub static RECOVERY_RSP: AtomicU64 = AtomicU64::new(0);
/// What the handler caught since the last [`guarded`] began.
static CAUGHT_VECTOR: AtomicU64 = AtomicU64::new(NOTHING_CAUGHT);
static CAUGHT_ERROR: AtomicU64 = AtomicU64::new(NO_ERROR_CODE);

/// Where the recovery point lives in guest memory (the guests run
/// identity-mapped, so these are GPAs too): the resume address, the stack
/// pointer, and where the vector and the error code of what was caught
/// go. A host that stops the VP resumes it by writing these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecoveryAddresses {
    pub rip: u64,
    pub rsp: u64,
    pub vector: u64,
    pub error: u64,
}

#[must_use]
pub fn recovery_addresses() -> RecoveryAddresses {
    RecoveryAddresses {
        rip: RECOVERY_RIP.as_ptr() as u64,
        rsp: RECOVERY_RSP.as_ptr() as u64,
        vector: CAUGHT_VECTOR.as_ptr() as u64,
        error: CAUGHT_ERROR.as_ptr() as u64,
    }
}
const NOTHING_CAUGHT: u64 = u64::MAX;
/// What the stubs push when the CPU pushes no error code.
const NO_ERROR_CODE: u64 = u64::MAX;

/// An exception that a guarded instruction raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caught {
    pub vector: u8,
    /// `None` for the vectors without one.
    pub error_code: Option<u64>,
}

impl Caught {
    fn new(vector: u64, error_code: u64) -> Self {
        Self {
            vector: vector as u8,
            error_code: (error_code != NO_ERROR_CODE).then_some(error_code),
        }
    }
}

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (vector {})", mnemonic(self.vector), self.vector)?;
        if let Some(code) = self.error_code {
            write!(f, " with error code {code:#x}")?;
        }
        Ok(())
    }
}

/// `#UD`, `#GP`, …: how the manuals name a vector.
#[must_use]
pub fn mnemonic(vector: u8) -> &'static str {
    #[rustfmt::skip]
    const NAMES: [&str; 32] = [
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
        "#DF", "reserved", "#TS", "#NP", "#SS", "#GP", "#PF", "reserved",
        "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "reserved", "reserved",
        "reserved", "reserved", "reserved", "reserved", "#HV", "#VC", "#SX", "reserved",
    ];
    NAMES
        .get(usize::from(vector))
        .copied()
        .unwrap_or("interrupt")
}

/// The check: `result` must be the exception `vector`.
pub fn expect_exception<T: fmt::Debug>(vector: u8, result: Result<T, Caught>) -> Outcome {
    match result {
        Err(caught) if caught.vector == vector => Ok(()),
        Err(caught) => crate::fail!("expected {}, got {caught}", mnemonic(vector)),
        Ok(value) => crate::fail!(
            "expected {}, but it completed (result {value:#x?})",
            mnemonic(vector)
        ),
    }
}

/// The check: `result` must be exactly the exception `expected`, error
/// code included.
pub fn expect_caught<T: fmt::Debug>(expected: Caught, result: Result<T, Caught>) -> Outcome {
    match result {
        Err(caught) if caught == expected => Ok(()),
        Err(caught) => crate::fail!("expected {expected}, got {caught}"),
        Ok(value) => crate::fail!("expected {expected}, but it completed (result {value:#x?})"),
    }
}

/// Runs `operation`, which may execute guarded instructions, and returns
/// what it produced, or the exception one of them raised.
pub fn guarded<T>(operation: impl FnOnce() -> T) -> Result<T, Caught> {
    CAUGHT_VECTOR.store(NOTHING_CAUGHT, Ordering::SeqCst);
    let value = operation();
    match CAUGHT_VECTOR.load(Ordering::SeqCst) {
        NOTHING_CAUGHT => Ok(value),
        vector => Err(Caught::new(vector, CAUGHT_ERROR.load(Ordering::SeqCst))),
    }
}

/// `asm!` with the recovery point armed around `$instructions` (see the
/// module documentation). Extra operands follow, explicit registers last.
/// Wrap the block in [`guarded`] to learn what it caught.
#[macro_export]
macro_rules! guarded_asm {
    ($($instructions:literal),+ ; $($operands:tt)*) => {
        core::arch::asm!(
            "lea {recovery_address}, [rip + 3f]",
            "mov qword ptr [rip + {recovery_rsp}], rsp",
            "mov qword ptr [rip + {recovery_rip}], {recovery_address}",
            $($instructions),+,
            "3:",
            "mov qword ptr [rip + {recovery_rip}], 0",
            recovery_rip = sym $crate::exception::RECOVERY_RIP,
            recovery_rsp = sym $crate::exception::RECOVERY_RSP,
            recovery_address = out(reg) _,
            $($operands)*
        )
    };
}
pub(crate) use guarded_asm;

/// A guarded instruction that faulted where a check expected it not to:
/// the check fails with what it raised (so checks can use `?` on
/// [`cpu::rdmsr`](crate::cpu::rdmsr) and the like).
impl From<Caught> for crate::Failure {
    fn from(caught: Caught) -> Self {
        crate::failure!("the instruction raised {caught}")
    }
}

#[cfg(test)]
mod tests {
    use std::format;

    use super::*;

    #[test]
    fn caught_exceptions_read_like_the_manuals() {
        assert_eq!(
            format!("{}", Caught::new(13, 0)),
            "#GP (vector 13) with error code 0x0"
        );
        assert_eq!(
            format!("{}", Caught::new(6, NO_ERROR_CODE)),
            "#UD (vector 6)"
        );
        assert_eq!(mnemonic(31), "reserved");
        assert_eq!(mnemonic(32), "interrupt");
    }

    #[test]
    fn expect_exception_wants_that_vector_and_nothing_else() {
        let general_protection = Caught::new(13, 0);
        assert_eq!(
            expect_exception::<()>(vector::GENERAL_PROTECTION, Err(general_protection)),
            Ok(())
        );
        assert_eq!(
            expect_exception::<()>(vector::INVALID_OPCODE, Err(general_protection))
                .unwrap_err()
                .as_str(),
            "expected #UD, got #GP (vector 13) with error code 0x0"
        );
        assert_eq!(
            expect_exception(vector::GENERAL_PROTECTION, Ok(0x1234u64))
                .unwrap_err()
                .as_str(),
            "expected #GP, but it completed (result 0x1234)"
        );
    }
}
