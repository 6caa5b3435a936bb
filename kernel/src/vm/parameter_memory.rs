//! Guest memory as hypercalls and crash messages read it: the partition's
//! RAM through its nested table, with the mapping's rights; and the
//! guest's XMM registers for XMM fast calls.
use super::tables::KernelTables;
use crate::memory::physical_to_virtual;
use tessera_abi::vm::GPA_LIMIT;
use tessera_hv1::hypercall::{GpaError, GuestMemory};
use tessera_npt::NestedPageTable;

/// Guest physical memory for hypercall parameter blocks: the partition's
/// RAM as its nested table maps it, with the mapping's rights.
pub struct ParameterMemory<'a> {
    pub npt: &'a NestedPageTable,
}

impl ParameterMemory<'_> {
    /// The host-virtual address of `gpa`'s byte, if mapped with `write`
    /// (when asked).
    fn byte(&self, gpa: u64, write: bool) -> Result<*mut u8, GpaError> {
        if gpa >= GPA_LIMIT {
            return Err(GpaError::OutOfBounds);
        }
        let translation = self
            .npt
            .translate(&KernelTables::default(), gpa)
            .ok_or(GpaError::Inaccessible)?;
        if write && !translation.rights.write {
            return Err(GpaError::Inaccessible);
        }
        Ok(physical_to_virtual(translation.hpa).as_mut_ptr::<u8>())
    }
}

impl ParameterMemory<'_> {
    /// Calls `each(host pointer, offset, length)` for the page-sized pieces
    /// of `gpa..gpa + length`, after checking all of them (all or nothing).
    fn pieces(
        &self,
        gpa: u64,
        length: usize,
        write: bool,
        mut each: impl FnMut(*mut u8, usize, usize),
    ) -> Result<(), GpaError> {
        const PAGE: u64 = 4096;
        // Within one page (every parameter block: they may not cross
        // one): one translation, where the general case below translates
        // each piece twice (check all, then copy).
        if length != 0 && gpa % PAGE + length as u64 <= PAGE {
            each(self.byte(gpa, write)?, 0, length);
            return Ok(());
        }
        let piece = |offset: usize| {
            let at = gpa.wrapping_add(offset as u64);
            let room = (PAGE - at % PAGE) as usize;
            (at, room.min(length - offset))
        };
        let mut offset = 0;
        while offset < length {
            let (at, size) = piece(offset);
            self.byte(at, write)?;
            offset += size;
        }
        let mut offset = 0;
        while offset < length {
            let (at, size) = piece(offset);
            each(self.byte(at, write)?, offset, size);
            offset += size;
        }
        Ok(())
    }
}

impl GuestMemory for ParameterMemory<'_> {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GpaError> {
        let length = buf.len();
        self.pieces(gpa, length, false, |source, offset, size| {
            // `source` starts a run of `size` bytes inside one frame the
            // partition's nested table maps (region frames stay allocated
            // while mapped; the kernel lock is held); the run fits `buf`.
            // SAFETY: a mapped guest frame, read as plain data, into `buf`.
            unsafe { core::ptr::copy_nonoverlapping(source, buf[offset..].as_mut_ptr(), size) };
        })
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), GpaError> {
        self.pieces(gpa, data.len(), true, |target, offset, size| {
            // SAFETY: as in `read`, and the mapping allows writes.
            unsafe { core::ptr::copy_nonoverlapping(data[offset..].as_ptr(), target, size) };
        })
    }
}

/// XMM0-5 of the guest, read from the hardware (this CPU holds the VP's
/// FPU state) only if an XMM fast call asks.
pub struct GuestXmm;

impl tessera_hv1::hypercall::XmmRegisters for GuestXmm {
    fn xmm(&self, index: usize) -> u128 {
        super::guest_state::read_xmm(index)
    }
}
