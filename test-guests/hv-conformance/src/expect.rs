//! Small helpers that turn MSR accesses and hypercall results into check
//! outcomes with readable failure details.

use core::fmt;

use tessera_guest_framework::exception::vector;
use tessera_guest_framework::{Caught, Failure, Outcome, cpu, expect_caught, fail, failure};
use tlfs::HvStatus;

use crate::hypercall::{Returned, Status};

/// An MSR by its TLFS name, or its number.
#[derive(Clone, Copy)]
pub struct Msr(pub u32);

impl fmt::Display for Msr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match tlfs::msr::msr_name(self.0) {
            Some(name) => write!(f, "{name} ({:#x})", self.0),
            None => write!(f, "MSR {:#x}", self.0),
        }
    }
}

/// RDMSR that must succeed.
pub fn read(msr: u32) -> Result<u64, Failure> {
    cpu::rdmsr(msr).map_err(|caught| failure!("RDMSR {} raised {caught}", Msr(msr)))
}

/// WRMSR that must succeed.
pub fn write(msr: u32, value: u64) -> Outcome {
    cpu::wrmsr(msr, value)
        .map_err(|caught| failure!("WRMSR {} <- {value:#x} raised {caught}", Msr(msr)))
}

/// #GP with error code 0: how RDMSR and WRMSR refuse (and how the TLFS
/// says a refused synthetic MSR access ends).
pub const GP0: Caught = Caught {
    vector: vector::GENERAL_PROTECTION,
    error_code: Some(0),
};

pub fn expect_gp<T: fmt::Debug>(result: Result<T, Caught>) -> Outcome {
    expect_caught(GP0, result)
}

/// The MSR is absent: RDMSR raises #GP(0), and WRMSR of `value` too.
pub fn expect_absent(msr: u32, value: Option<u64>) -> Outcome {
    expect_gp(cpu::rdmsr(msr)).map_err(|f| failure!("RDMSR {}: {f}", Msr(msr)))?;
    if let Some(value) = value {
        expect_gp(cpu::wrmsr(msr, value))
            .map_err(|f| failure!("WRMSR {} <- {value:#x}: {f}", Msr(msr)))?;
    }
    Ok(())
}

/// A hypercall that must return (not fault).
pub fn returned(result: Result<Returned, Caught>) -> Result<Returned, Failure> {
    result.map_err(|caught| failure!("the hypercall raised {caught}"))
}

/// A hypercall that must return `want`.
pub fn status(result: Result<Returned, Caught>, want: HvStatus) -> Result<Returned, Failure> {
    let returned = returned(result)?;
    if returned.status() != want {
        return fail!(
            "status {}, expected {} (RAX {:#x})",
            Status(returned.status()),
            Status(want),
            returned.rax
        );
    }
    Ok(returned)
}

/// A hypercall that must succeed and report `reps` reps completed.
pub fn success_with_reps(result: Result<Returned, Caught>, reps: u16) -> Outcome {
    let returned = status(result, HvStatus::SUCCESS)?;
    if returned.reps_completed() != reps {
        return fail!(
            "reps completed {}, expected {reps} (RAX {:#x})",
            returned.reps_completed(),
            returned.rax
        );
    }
    Ok(())
}

/// A call the partition may not make: `HV_STATUS_ACCESS_DENIED` or
/// `HV_STATUS_INVALID_HYPERCALL_CODE` (TLFS md `hypercall-interface.md`
/// § Ordering of Error Conditions prefers ACCESS_DENIED; a hypervisor that
/// does not implement the call at all answers INVALID_HYPERCALL_CODE).
/// Returns which, for a note.
pub fn refused(result: Result<Returned, Caught>) -> Result<HvStatus, Failure> {
    let returned = returned(result)?;
    match returned.status() {
        s @ (HvStatus::ACCESS_DENIED | HvStatus::INVALID_HYPERCALL_CODE) => Ok(s),
        s => fail!(
            "status {}, expected HV_STATUS_ACCESS_DENIED or HV_STATUS_INVALID_HYPERCALL_CODE",
            Status(s)
        ),
    }
}

/// A call that must fail somehow (any status but success).
pub fn not_success(result: Result<Returned, Caught>) -> Result<HvStatus, Failure> {
    let returned = returned(result)?;
    if returned.status() == HvStatus::SUCCESS {
        return fail!("it succeeded (RAX {:#x})", returned.rax);
    }
    Ok(returned.status())
}
