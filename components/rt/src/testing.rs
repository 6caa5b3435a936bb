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
