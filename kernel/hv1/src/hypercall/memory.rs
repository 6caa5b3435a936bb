//! Reading and writing a call's parameter blocks through the partition's
//! guest memory, and what a failed access means for the guest.

use tlfs::HvStatus;

use super::call::{Hypercall, Input, Output};

/// The partition's guest physical memory, as the kernel (or a test) sees
/// it.
pub trait GuestMemory {
    /// Reads `buf.len()` bytes at `gpa`.
    ///
    /// # Errors
    ///
    /// The [`GpaError`] for the first byte that cannot be read.
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GpaError>;

    /// Writes `data` at `gpa`.
    ///
    /// # Errors
    ///
    /// The [`GpaError`] for the first byte that cannot be written.
    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), GpaError>;
}

/// Why guest memory refused an access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GpaError {
    /// The address is beyond the partition's GPA space.
    OutOfBounds,
    /// The address is inside the GPA space but not mapped, or mapped
    /// without the access (read for input, write for output).
    Inaccessible,
}

/// The direction of a parameter access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Access {
    /// Reading input parameters.
    Read,
    /// Writing output parameters.
    Write,
}

/// A parameter access that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamError {
    /// The handler asked for bytes outside the block the call declared (or
    /// for memory output of a call whose output is in registers): a
    /// handler bug, not a guest error.
    OutsideBlock,
    /// Guest memory refused the access at `gpa`.
    Gpa {
        /// The first GPA of the refused access.
        gpa: u64,
        /// Read or write.
        access: Access,
        /// Why.
        error: GpaError,
    },
}

/// What to do about a [`ParamError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ParamFailure {
    /// Complete the call with this status.
    Status(HvStatus),
    /// Generate a memory intercept message for the access and leave the
    /// call to the component that handles it.
    MemoryIntercept {
        /// The GPA of the access.
        gpa: u64,
        /// Read or write.
        access: Access,
    },
}

impl ParamError {
    /// What the TLFS prescribes for this failure.
    ///
    /// - Outside the GPA space: `HV_STATUS_INVALID_ALIGNMENT`. TLFS md
    ///   `hypercall-interface.md` § Common Hypercall Status Codes lists
    ///   "The input or output GPA pointer is not within the bounds of the
    ///   GPA space" under it (TLFS 6.0b §3.12 likewise).
    /// - Inside the space but unmapped or without the access: a memory
    ///   intercept. TLFS md § Alignment Requirements: "This validation
    ///   consists of two checks: the specified GPA is mapped and the GPA is
    ///   marked readable. If either of these tests fails, the hypervisor
    ///   generates a memory intercept message" (and the same for output and
    ///   writable, TLFS 6.0b §3.6).
    /// - A handler bug: **Choice:** `HV_STATUS_INVALID_PARAMETER`, so the
    ///   guest sees a failure rather than stale data.
    #[must_use]
    pub const fn failure(self) -> ParamFailure {
        match self {
            Self::OutsideBlock => ParamFailure::Status(HvStatus::INVALID_PARAMETER),
            Self::Gpa {
                error: GpaError::OutOfBounds,
                ..
            } => ParamFailure::Status(HvStatus::INVALID_ALIGNMENT),
            Self::Gpa {
                gpa,
                access,
                error: GpaError::Inaccessible,
            } => ParamFailure::MemoryIntercept { gpa, access },
        }
    }
}

/// `offset..offset + len` if it lies within a block of `block_len` bytes.
fn within(block_len: u32, offset: u32, len: usize) -> Result<core::ops::Range<usize>, ParamError> {
    let start = offset as usize;
    let end = start.checked_add(len).ok_or(ParamError::OutsideBlock)?;
    if end > block_len as usize {
        return Err(ParamError::OutsideBlock);
    }
    Ok(start..end)
}

impl Hypercall {
    /// Reads `buf.len()` bytes at `offset` of the input block, from memory
    /// or from the fast-call registers alike.
    ///
    /// # Errors
    ///
    /// [`ParamError::OutsideBlock`] past the input block; [`ParamError::Gpa`]
    /// when guest memory refuses.
    pub fn read_input(
        &self,
        memory: &(impl GuestMemory + ?Sized),
        offset: u32,
        buf: &mut [u8],
    ) -> Result<(), ParamError> {
        let range = within(self.input_len, offset, buf.len())?;
        match &self.input {
            Input::None => Ok(()),
            Input::Gpa(gpa) => {
                let gpa = gpa.wrapping_add(u64::from(offset));
                memory.read(gpa, buf).map_err(|error| ParamError::Gpa {
                    gpa,
                    access: Access::Read,
                    error,
                })
            }
            Input::Registers([first, second]) => {
                let mut bytes = [0; 16];
                bytes[..8].copy_from_slice(&first.to_le_bytes());
                bytes[8..].copy_from_slice(&second.to_le_bytes());
                buf.copy_from_slice(&bytes[range]);
                Ok(())
            }
            Input::Xmm(block) => {
                buf.copy_from_slice(&block.0[range]);
                Ok(())
            }
        }
    }

    /// Reads the start of the input header (fixed and variable parts) into
    /// `buf`.
    ///
    /// # Errors
    ///
    /// As [`read_input`](Self::read_input); `buf` longer than the header is
    /// [`ParamError::OutsideBlock`].
    pub fn read_header(
        &self,
        memory: &(impl GuestMemory + ?Sized),
        buf: &mut [u8],
    ) -> Result<(), ParamError> {
        if buf.len() > self.header_len() as usize {
            return Err(ParamError::OutsideBlock);
        }
        self.read_input(memory, 0, buf)
    }

    /// Reads input list element `index` (an absolute index, as the rep
    /// start index is) into `buf`, which must be one element long.
    ///
    /// # Errors
    ///
    /// As [`read_input`](Self::read_input); an index ≥ the rep count or a
    /// `buf` of the wrong size is [`ParamError::OutsideBlock`].
    pub fn read_element(
        &self,
        memory: &(impl GuestMemory + ?Sized),
        index: u16,
        buf: &mut [u8],
    ) -> Result<(), ParamError> {
        let size = u32::from(self.spec.input_element_bytes);
        if index >= self.rep_count || buf.len() != size as usize {
            return Err(ParamError::OutsideBlock);
        }
        self.read_input(memory, self.header_len() + u32::from(index) * size, buf)
    }

    /// Writes `data` at `offset` of a memory output block.
    ///
    /// For fast output use [`fast_output_writes`](Self::fast_output_writes).
    ///
    /// # Errors
    ///
    /// [`ParamError::OutsideBlock`] past the output block or for register
    /// output; [`ParamError::Gpa`] when guest memory refuses.
    pub fn write_output(
        &self,
        memory: &mut (impl GuestMemory + ?Sized),
        offset: u32,
        data: &[u8],
    ) -> Result<(), ParamError> {
        within(self.output_len, offset, data.len())?;
        match self.output {
            Output::Gpa(gpa) => {
                let gpa = gpa.wrapping_add(u64::from(offset));
                memory.write(gpa, data).map_err(|error| ParamError::Gpa {
                    gpa,
                    access: Access::Write,
                    error,
                })
            }
            Output::None if data.is_empty() => Ok(()),
            Output::None | Output::Registers { .. } => Err(ParamError::OutsideBlock),
        }
    }

    /// Writes output list element `index` (absolute); `data` must be one
    /// element long.
    ///
    /// # Errors
    ///
    /// As [`write_output`](Self::write_output); an index ≥ the rep count or
    /// `data` of the wrong size is [`ParamError::OutsideBlock`].
    pub fn write_output_element(
        &self,
        memory: &mut (impl GuestMemory + ?Sized),
        index: u16,
        data: &[u8],
    ) -> Result<(), ParamError> {
        let size = u32::from(self.spec.output_element_bytes);
        if index >= self.rep_count || data.len() != size as usize {
            return Err(ParamError::OutsideBlock);
        }
        let offset = u32::from(self.spec.output_header_bytes) + u32::from(index) * size;
        self.write_output(memory, offset, data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures() {
        assert_eq!(
            ParamError::Gpa {
                gpa: 0x1000,
                access: Access::Read,
                error: GpaError::OutOfBounds
            }
            .failure(),
            ParamFailure::Status(HvStatus::INVALID_ALIGNMENT)
        );
        assert_eq!(
            ParamError::Gpa {
                gpa: 0x2000,
                access: Access::Write,
                error: GpaError::Inaccessible
            }
            .failure(),
            ParamFailure::MemoryIntercept {
                gpa: 0x2000,
                access: Access::Write
            }
        );
        assert_eq!(
            ParamError::OutsideBlock.failure(),
            ParamFailure::Status(HvStatus::INVALID_PARAMETER)
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(within(24, 0, 24), Ok(0..24));
        assert_eq!(within(24, 16, 8), Ok(16..24));
        assert_eq!(within(24, 17, 8), Err(ParamError::OutsideBlock));
        assert_eq!(within(0, 0, 0), Ok(0..0));
        assert_eq!(within(8, u32::MAX, 1), Err(ParamError::OutsideBlock));
    }
}
