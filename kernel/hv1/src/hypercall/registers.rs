//! The general-purpose registers of the two x86 calling conventions, and
//! the XMM registers of XMM fast calls.
//!
//! TLFS md `hypercall-interface.md` § Hypercall Register Conventions
//! (x86/x64), § XMM Fast Hypercall Input (x86/x64), § Hypercall Outputs,
//! § Volatile Registers (x86/x64); TLFS 6.0b §3.7–§3.9.

use super::caller::CallingConvention;

/// Number of XMM registers that carry XMM fast input (XMM0–XMM5).
pub const XMM_INPUT_REGISTERS: usize = 6;

/// The guest general-purpose registers a hypercall reads or writes, as the
/// kernel saved them at the exit (full 64-bit values in every mode).
///
/// For a 32-bit caller only the low halves count: `EDX:EAX` is
/// `(rdx as u32) << 32 | (rax as u32)`, whatever the upper halves hold
/// (they are undefined outside 64-bit mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct HypercallRegisters {
    /// RAX.
    pub rax: u64,
    /// RBX.
    pub rbx: u64,
    /// RCX.
    pub rcx: u64,
    /// RDX.
    pub rdx: u64,
    /// RSI.
    pub rsi: u64,
    /// RDI.
    pub rdi: u64,
    /// R8.
    pub r8: u64,
}

/// `hi:lo` from the low 32 bits of each.
const fn pair(hi: u64, lo: u64) -> u64 {
    ((hi & 0xFFFF_FFFF) << 32) | (lo & 0xFFFF_FFFF)
}

impl HypercallRegisters {
    /// The hypercall input value: RCX (x64) or EDX:EAX (x86).
    #[must_use]
    pub const fn control(&self, convention: CallingConvention) -> u64 {
        match convention {
            CallingConvention::X64 => self.rcx,
            CallingConvention::X86 => pair(self.rdx, self.rax),
        }
    }

    /// The input parameters GPA, or the first fast input QWORD: RDX (x64)
    /// or EBX:ECX (x86).
    #[must_use]
    pub const fn input_param(&self, convention: CallingConvention) -> u64 {
        match convention {
            CallingConvention::X64 => self.rdx,
            CallingConvention::X86 => pair(self.rbx, self.rcx),
        }
    }

    /// The output parameters GPA, or the second fast input QWORD: R8 (x64)
    /// or EDI:ESI (x86).
    #[must_use]
    pub const fn output_param(&self, convention: CallingConvention) -> u64 {
        match convention {
            CallingConvention::X64 => self.r8,
            CallingConvention::X86 => pair(self.rdi, self.rsi),
        }
    }

    /// Writes the hypercall result value: RAX (x64) or EDX:EAX (x86; each
    /// half zero-extended, as a 32-bit register write does).
    pub const fn set_result(&mut self, convention: CallingConvention, value: u64) {
        match convention {
            CallingConvention::X64 => self.rax = value,
            CallingConvention::X86 => self.set_edx_eax(value),
        }
    }

    /// Writes the hypercall input value (the new rep start index of a
    /// continued rep call): RCX (x64) or EDX:EAX (x86).
    ///
    /// TLFS md § Volatile Registers (x86/x64): "Rep hypercalls will modify
    /// RCX (x64) and EDX:EAX (x86) with the new rep start index."
    pub const fn set_control(&mut self, convention: CallingConvention, value: u64) {
        match convention {
            CallingConvention::X64 => self.rcx = value,
            CallingConvention::X86 => self.set_edx_eax(value),
        }
    }

    const fn set_edx_eax(&mut self, value: u64) {
        self.rdx = value >> 32;
        self.rax = value & 0xFFFF_FFFF;
    }
}

/// Read access to the guest's XMM0–XMM5, so the decoder touches them only
/// for an XMM fast call (the kernel may have to fetch them from hardware).
pub trait XmmRegisters {
    /// XMM`index` (0–5) as a little-endian 128-bit value: byte 0 of the
    /// input block it carries is bits 7:0.
    fn xmm(&self, index: usize) -> u128;
}

impl XmmRegisters for [u128; XMM_INPUT_REGISTERS] {
    fn xmm(&self, index: usize) -> u128 {
        self.get(index).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GARBAGE: u64 = 0xDEAD_BEEF_0000_0000;

    #[test]
    fn x64_mapping() {
        let regs = HypercallRegisters {
            rcx: 1,
            rdx: 2,
            r8: 3,
            ..Default::default()
        };
        assert_eq!(regs.control(CallingConvention::X64), 1);
        assert_eq!(regs.input_param(CallingConvention::X64), 2);
        assert_eq!(regs.output_param(CallingConvention::X64), 3);
    }

    #[test]
    fn x86_mapping_ignores_upper_halves() {
        let regs = HypercallRegisters {
            rax: GARBAGE | 0x1111_1111,
            rdx: GARBAGE | 0x2222_2222,
            rbx: GARBAGE | 0x3333_3333,
            rcx: GARBAGE | 0x4444_4444,
            rdi: GARBAGE | 0x5555_5555,
            rsi: GARBAGE | 0x6666_6666,
            r8: u64::MAX,
        };
        assert_eq!(regs.control(CallingConvention::X86), 0x2222_2222_1111_1111);
        assert_eq!(
            regs.input_param(CallingConvention::X86),
            0x3333_3333_4444_4444
        );
        assert_eq!(
            regs.output_param(CallingConvention::X86),
            0x5555_5555_6666_6666
        );
    }

    #[test]
    fn writes() {
        let mut regs = HypercallRegisters {
            rax: GARBAGE,
            rdx: GARBAGE,
            ..Default::default()
        };
        regs.set_result(CallingConvention::X86, 0x0000_000A_0000_0003);
        assert_eq!(regs.rdx, 0xA);
        assert_eq!(regs.rax, 3);
        regs.set_control(CallingConvention::X86, 0x0014_0019_0000_0003);
        assert_eq!(regs.rdx, 0x0014_0019);
        assert_eq!(regs.rax, 3);
        regs.set_result(CallingConvention::X64, u64::MAX);
        assert_eq!(regs.rax, u64::MAX);
        regs.set_control(CallingConvention::X64, 7);
        assert_eq!(regs.rcx, 7);
        assert_eq!(regs.rdx, 0x0014_0019);
    }

    #[test]
    fn xmm_array() {
        let xmm = [1_u128, 2, 3, 4, 5, 6];
        assert_eq!(xmm.xmm(0), 1);
        assert_eq!(xmm.xmm(5), 6);
        assert_eq!(xmm.xmm(6), 0);
    }
}
