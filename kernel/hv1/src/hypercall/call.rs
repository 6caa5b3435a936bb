//! A decoded hypercall: what the handler gets.

use tlfs::{HypercallCode, HypercallInputValue};

use super::caller::CallingConvention;
use super::layout::FAST_BLOCK_BYTES;
use super::registers::{XMM_INPUT_REGISTERS, XmmRegisters};
use super::table::CallSpec;

/// The register block of an XMM fast call: RDX (EBX:ECX), R8 (EDI:ESI),
/// then XMM0–XMM5, as bytes in order.
///
/// TLFS md `hypercall-interface.md` § XMM Fast Hypercall Input (x86/x64).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct XmmBlock(pub [u8; FAST_BLOCK_BYTES as usize]);

impl XmmBlock {
    pub(crate) fn gather(first: u64, second: u64, xmm: &(impl XmmRegisters + ?Sized)) -> Self {
        let mut bytes = [0; FAST_BLOCK_BYTES as usize];
        bytes[0..8].copy_from_slice(&first.to_le_bytes());
        bytes[8..16].copy_from_slice(&second.to_le_bytes());
        for index in 0..XMM_INPUT_REGISTERS {
            let at = 16 + index * 16;
            bytes[at..at + 16].copy_from_slice(&xmm.xmm(index).to_le_bytes());
        }
        Self(bytes)
    }
}

/// Where the input parameters are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The call has no input (its input GPA is ignored).
    None,
    /// Memory call: the input block's GPA (aligned, within one page).
    Gpa(u64),
    /// Fast call of at most 16 bytes: RDX and R8 (x64) or EBX:ECX and
    /// EDI:ESI (x86).
    Registers([u64; 2]),
    /// XMM fast call of 17–112 bytes.
    Xmm(XmmBlock),
}

/// Where the output parameters go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// The call has no output (its output GPA is ignored).
    None,
    /// Memory call: the output block's GPA (aligned, within one page, not
    /// overlapping the input).
    Gpa(u64),
    /// Fast call (x64 only): the output occupies the register block from
    /// byte `offset` (a multiple of 16). See
    /// [`Hypercall::fast_output_writes`].
    Registers {
        /// First byte of the output in the RDX/R8/XMM0–XMM5 block.
        offset: u8,
    },
}

/// A validated hypercall, ready for its handler.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hypercall {
    /// The call code (bits 15:0 of the input value).
    pub code: HypercallCode,
    /// Its table entry.
    pub spec: &'static CallSpec,
    /// The input value as the guest passed it (the continuation rewrites
    /// its rep start index).
    pub control: HypercallInputValue,
    /// The caller's register mapping.
    pub convention: CallingConvention,
    /// Register-based calling convention.
    pub fast: bool,
    /// Size of the variable header in bytes (the input value's field × 8).
    pub variable_header_bytes: u32,
    /// Total reps (0 for simple calls).
    pub rep_count: u16,
    /// First element to process (0 for simple calls).
    pub rep_start: u16,
    /// Where the input is.
    pub input: Input,
    /// Input block length: fixed and variable header plus all input
    /// elements.
    pub input_len: u32,
    /// Where the output goes.
    pub output: Output,
    /// Output block length: output header plus all output elements.
    pub output_len: u32,
    /// The input value's Is Nested bit (Tessera is the L0 hypervisor, so it
    /// handles such calls itself).
    pub is_nested: bool,
}

impl Hypercall {
    /// Offset of the first input element in the input block (the fixed and
    /// variable header together).
    #[must_use]
    pub const fn header_len(&self) -> u32 {
        self.spec.input_header_bytes as u32 + self.variable_header_bytes
    }

    /// Elements still to process: `rep_count - rep_start`.
    #[must_use]
    pub const fn remaining(&self) -> u16 {
        self.rep_count.saturating_sub(self.rep_start)
    }
}
