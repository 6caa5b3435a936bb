//! Fast (XMM) hypercall output: which registers receive the output bytes.
//!
//! TLFS md `hypercall-interface.md` § XMM Fast Hypercall Output, § Volatile
//! Registers (x86/x64); TLFS 6.0b §3.8.1.

use super::call::{Hypercall, Output};
use super::layout::FAST_BLOCK_BYTES;
use super::memory::ParamError;
use super::registers::{HypercallRegisters, XMM_INPUT_REGISTERS};

/// Register writes that return a fast call's output. `None` leaves the
/// register as it is: registers that carried input "remain unmodified"
/// (§ Volatile Registers).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FastOutputWrites {
    /// New RDX.
    pub rdx: Option<u64>,
    /// New R8.
    pub r8: Option<u64>,
    /// New XMM0–XMM5 (little-endian: output byte 0 of a register is bits
    /// 7:0).
    pub xmm: [Option<u128>; XMM_INPUT_REGISTERS],
}

impl FastOutputWrites {
    /// Applies the RDX and R8 writes; the kernel applies
    /// [`xmm`](Self::xmm) to the guest's XMM state itself.
    pub const fn apply_gprs(&self, regs: &mut HypercallRegisters) {
        if let Some(rdx) = self.rdx {
            regs.rdx = rdx;
        }
        if let Some(r8) = self.r8 {
            regs.r8 = r8;
        }
    }
}

impl Hypercall {
    /// The register writes that return `data` as this fast call's output.
    ///
    /// Every register overlapping the output block is written, the bytes
    /// past `data` as zeros (TLFS md `hypercall-interface.md`: "For output,
    /// the hypervisor is allowed to (but not guaranteed to) overwrite
    /// padding regions. If it overwrites padding regions, it will write
    /// zeros.").
    ///
    /// # Errors
    ///
    /// [`ParamError::OutsideBlock`] if the call's output is not in
    /// registers or `data` is longer than the output block.
    pub fn fast_output_writes(&self, data: &[u8]) -> Result<FastOutputWrites, ParamError> {
        let Output::Registers { offset } = self.output else {
            return Err(ParamError::OutsideBlock);
        };
        let start = usize::from(offset);
        let end = start + self.output_len as usize;
        if data.len() > self.output_len as usize || end > FAST_BLOCK_BYTES as usize {
            return Err(ParamError::OutsideBlock);
        }
        let mut block = [0_u8; FAST_BLOCK_BYTES as usize];
        block[start..start + data.len()].copy_from_slice(data);
        let touches = |at: usize, len: usize| at < end && start < at + len;
        let qword = |at: usize| {
            let mut bytes = [0; 8];
            bytes.copy_from_slice(&block[at..at + 8]);
            u64::from_le_bytes(bytes)
        };
        let mut writes = FastOutputWrites {
            rdx: touches(0, 8).then(|| qword(0)),
            r8: touches(8, 8).then(|| qword(8)),
            ..FastOutputWrites::default()
        };
        for (index, slot) in writes.xmm.iter_mut().enumerate() {
            let at = 16 + index * 16;
            if touches(at, 16) {
                let mut bytes = [0; 16];
                bytes.copy_from_slice(&block[at..at + 16]);
                *slot = Some(u128::from_le_bytes(bytes));
            }
        }
        Ok(writes)
    }
}
