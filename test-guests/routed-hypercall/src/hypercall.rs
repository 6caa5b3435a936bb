//! A hypercall by a direct `VMMCALL` (the x64 register convention of TLFS
//! md `hypercall-interface.md`), not through the hypercall page, so that
//! the checks see exactly what RAX, RDX and R8 hold after it.
#![allow(unsafe_code)]

use core::arch::asm;

/// The registers a hypercall returns in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Returned {
    /// RAX: the hypercall result value.
    pub result: u64,
    /// RDX and R8: a fast call's output registers (its input registers
    /// unless the handler wrote them).
    pub rdx: u64,
    pub r8: u64,
}

/// One fast hypercall: RCX = `control` (the input value, fast bit set),
/// RDX = `rdx`, R8 = `r8`.
pub fn fast(control: u64, rdx: u64, r8: u64) -> Returned {
    let (result, rdx_out, r8_out);
    // A hypercall changes RAX (the result value), the fast output
    // registers RDX and R8, and for a rep call RCX; all four are named
    // here. A fast call passes everything in registers, so the hypervisor
    // touches no guest memory for it, and the calls made here have no
    // output in XMM registers. Where there is no hypercall
    // interface VMMCALL raises #UD, which the framework's handler reports
    // as a failure.
    // SAFETY: by the argument just above.
    unsafe {
        asm!(
            "vmmcall",
            inout("rcx") control => _,
            inout("rdx") rdx => rdx_out,
            inout("r8") r8 => r8_out,
            out("rax") result,
            options(nostack),
        );
    }
    Returned {
        result,
        rdx: rdx_out,
        r8: r8_out,
    }
}
