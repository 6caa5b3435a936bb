//! A set of VP indices: what a 64-bit processor mask or an `HV_VP_SET`
//! names, and the reading of an `HV_VP_SET` from a hypercall's input.

use tlfs::hypercall::params::HvGenericSetFormat;

use crate::hypercall::{GuestMemory, Hypercall, ParamError};

/// Banks of 64 VPs that an `HV_VP_SET` can address: `ValidBanksMask` has 64
/// bits.
pub const VP_SET_BANKS: usize = 64;

/// A set of VP indices `0..VpSet::CAPACITY`: every set an `HV_VP_SET` in
/// format `HvGenericSetSparse4k` can express (64 banks of 64 VPs) and
/// every 64-bit processor mask.
///
/// TLFS md `datatypes/hv_vp_set.md` § Sparse Virtual Processor Set; TLFS
/// 6.0b §7.8.7.3–§7.8.7.5. Indices that name no VP of the partition are
/// kept: the kernel intersects the set with the VPs that exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct VpSet {
    banks: [u64; VP_SET_BANKS],
}

impl Default for VpSet {
    fn default() -> Self {
        Self::EMPTY
    }
}

impl core::fmt::Debug for VpSet {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl VpSet {
    /// One past the highest index a set can hold (4096).
    pub const CAPACITY: u32 = (VP_SET_BANKS * 64) as u32;

    /// No VP.
    pub const EMPTY: Self = Self {
        banks: [0; VP_SET_BANKS],
    };

    /// The VPs of a processor mask: bit *n* is VP index *n*
    /// (`HvCallFlushVirtualAddressSpace`: "a mask of 0x0000000000000051
    /// indicates that the hypervisor should flush only the TLB of virtual
    /// processors 0, 4, and 6").
    #[must_use]
    pub const fn from_mask(mask: u64) -> Self {
        let mut set = Self::EMPTY;
        set.banks[0] = mask;
        set
    }

    /// Bank `bank` (VPs `64·bank .. 64·bank + 63`) as a mask; 0 past the
    /// last bank.
    #[must_use]
    pub const fn bank(&self, bank: usize) -> u64 {
        if bank < VP_SET_BANKS {
            self.banks[bank]
        } else {
            0
        }
    }

    /// Replaces bank `bank` with `contents` (ignored past the last bank).
    pub const fn set_bank(&mut self, bank: usize, contents: u64) {
        if bank < VP_SET_BANKS {
            self.banks[bank] = contents;
        }
    }

    /// Whether `vp` is in the set.
    #[must_use]
    pub const fn contains(&self, vp: u32) -> bool {
        vp < Self::CAPACITY && self.banks[(vp / 64) as usize] & (1 << (vp % 64)) != 0
    }

    /// Adds `vp`; `false` if it is beyond [`CAPACITY`](Self::CAPACITY).
    pub const fn insert(&mut self, vp: u32) -> bool {
        if vp >= Self::CAPACITY {
            return false;
        }
        self.banks[(vp / 64) as usize] |= 1 << (vp % 64);
        true
    }

    /// Whether the set is empty.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        let mut i = 0;
        while i < VP_SET_BANKS {
            if self.banks[i] != 0 {
                return false;
            }
            i += 1;
        }
        true
    }

    /// Number of VPs in the set.
    #[must_use]
    pub const fn len(&self) -> u32 {
        let mut n = 0;
        let mut i = 0;
        while i < VP_SET_BANKS {
            n += self.banks[i].count_ones();
            i += 1;
        }
        n
    }

    /// The VP indices in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.banks.iter().enumerate().flat_map(|(bank, &mask)| {
            let base = bank as u32 * 64;
            (0..64)
                .filter(move |bit| mask & (1 << bit) != 0)
                .map(move |bit| base + bit)
        })
    }
}

/// The VPs a processor mask or an `HV_VP_SET` names.
// The kernel has no allocator: the set travels by value (512 bytes).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcessorSet {
    /// Every VP of the partition (an `HV_VP_SET` in format
    /// `HvGenericSetAll`, or a call's "all processors" flag).
    All,
    /// These VP indices (indices of VPs that do not exist are for the
    /// kernel to skip).
    Set(VpSet),
}

/// Why an `HV_VP_SET` cannot be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum VpSetError {
    /// A format other than sparse (0) or all (1), or a `ValidBanksMask`
    /// whose bit count differs from the number of `BankContents` QWORDs:
    /// `HV_STATUS_INVALID_PARAMETER` in every call that takes one.
    Invalid,
    /// The bank contents could not be read.
    Param(ParamError),
}

/// The `HV_VP_SET` of `call` whose fixed part (`Format`, `ValidBanksMask`)
/// ends its fixed input header and whose `BankContents[]` is its variable
/// header (TLFS md `datatypes/hv_vp_set.md`: "For every bit that is set
/// with ValidBanksMask, there must be an element in the BanksContents
/// array"; an all-zero bank is valid). The flush and cluster-IPI calls
/// share it.
pub(super) fn read_vp_set(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
    format: u64,
    valid_banks: u64,
) -> Result<ProcessorSet, VpSetError> {
    match HvGenericSetFormat(format) {
        HvGenericSetFormat::ALL => return Ok(ProcessorSet::All),
        HvGenericSetFormat::SPARSE_4K => {}
        _ => return Err(VpSetError::Invalid),
    }
    if valid_banks.count_ones() != call.variable_header_bytes / 8 {
        return Err(VpSetError::Invalid);
    }
    let mut set = VpSet::EMPTY;
    let fixed = u32::from(call.spec.input_header_bytes);
    let banks = (0..VP_SET_BANKS).filter(|bank| valid_banks & (1 << bank) != 0);
    for (slot, bank) in (0_u32..).zip(banks) {
        let mut q = [0_u8; 8];
        call.read_input(memory, fixed + slot * 8, &mut q)
            .map_err(VpSetError::Param)?;
        set.set_bank(bank, u64::from_le_bytes(q));
    }
    Ok(ProcessorSet::Set(set))
}

/// The little-endian QWORD at byte `at` of a parameter header.
pub(super) fn qword(bytes: &[u8], at: usize) -> u64 {
    let mut q = [0; 8];
    q.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mask_example() {
        // HvCallFlushVirtualAddressSpace.md: 0x51 is VPs 0, 4 and 6.
        let set = VpSet::from_mask(0x51);
        assert!(set.iter().eq([0, 4, 6]));
        assert_eq!(set.len(), 3);
        assert!(set.contains(4));
        assert!(!set.contains(5));
        assert!(!set.contains(64));
    }

    #[test]
    fn insert_and_bounds() {
        let mut set = VpSet::EMPTY;
        assert!(set.is_empty());
        assert!(set.insert(0));
        assert!(set.insert(130));
        assert!(set.insert(4095));
        assert!(!set.insert(4096));
        assert!(!set.contains(u32::MAX));
        assert!(set.iter().eq([0, 130, 4095]));
        // hv_vp_set.md example: {0, 5, 130} is bank 0 = 0x21, bank 2 = 0x04.
        let mut example = VpSet::EMPTY;
        example.set_bank(0, 0x21);
        example.set_bank(2, 0x04);
        assert!(example.iter().eq([0, 5, 130]));
        assert_eq!(example.bank(2), 0x04);
        assert_eq!(example.bank(64), 0);
        example.set_bank(64, u64::MAX);
        assert_eq!(example.len(), 3);
    }
}
