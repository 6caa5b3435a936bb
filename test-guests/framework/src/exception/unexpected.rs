//! An exception no guarded instruction expected: report it with the
//! registers and end the run as failed.

use core::sync::atomic::{AtomicBool, Ordering};

use super::Caught;
use crate::println;
use crate::suite::abort;

/// The registers at the exception, as the common stub saves them (below
/// the vector, the error code and the CPU's frame).
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    pub rax: u64,
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
    pub vector: u64,
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

static REPORTING: AtomicBool = AtomicBool::new(false);

/// What the common stub calls.
pub(super) extern "sysv64" fn report(frame: &ExceptionFrame) -> ! {
    if REPORTING.swap(true, Ordering::SeqCst) {
        // The report itself faulted: give the verdict without it.
        crate::exit::fail();
    }
    let caught = Caught::new(frame.vector, frame.error_code);
    abort(
        format_args!("unexpected exception {caught} at rip {:#x}", frame.rip),
        || print_registers(frame),
    )
}

fn print_registers(f: &ExceptionFrame) {
    println!(
        "# registers: rax {:#x} rbx {:#x} rcx {:#x} rdx {:#x} rsi {:#x} rdi {:#x} rbp {:#x}",
        f.rax, f.rbx, f.rcx, f.rdx, f.rsi, f.rdi, f.rbp
    );
    println!(
        "# registers: r8 {:#x} r9 {:#x} r10 {:#x} r11 {:#x} r12 {:#x} r13 {:#x} r14 {:#x} r15 {:#x}",
        f.r8, f.r9, f.r10, f.r11, f.r12, f.r13, f.r14, f.r15
    );
    println!(
        "# registers: rip {:#x} cs {:#x} rflags {:#x} rsp {:#x} ss {:#x} cr2 {:#x}",
        f.rip,
        f.cs,
        f.rflags,
        f.rsp,
        f.ss,
        crate::cpu::cr2()
    );
}
