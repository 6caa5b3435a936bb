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
