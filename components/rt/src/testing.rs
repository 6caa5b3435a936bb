//! Helpers for test components.

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
