//! `EXITINFO1` of a nested page fault (`VMEXIT_NPF`, `400h`); `EXITINFO2`
//! holds the faulting guest physical address.
//!
//! APM §15.25.6 ("Nested versus Guest Page Faults, Fault Ordering"): the
//! low bits are a `#PF`-style error code describing the nested access;
//! bit 32 is set when the fault occurred on the final guest-physical
//! translation of the access, bit 33 when it occurred while translating
//! one of the guest's own page-table entries.
//!
//! Bits 0–4, 32 and 33: confirmed by QEMU (`SVM_NPTEXIT_P`/`RW`/`US`/
//! `RSVD`/`ID`/`GPA`/`GPT`) and Linux (`PFERR_*_BIT`, including
//! `PFERR_GUEST_FINAL_BIT` 32 and `PFERR_GUEST_PAGE_BIT` 33), and bit 33
//! was observed on QEMU TCG when nested entries lacked the user bit
//! (`svm-on-qemu.md`). Bit 5 (protection key) and the SEV-SNP bits 31 and
//! 34–36 come from Linux's `kvm_host.h` only: **Unconfirmed** for NPF by a
//! second source.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The nested page fault error code.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct NpfErrorCode {
    /// `P` (bit 0): the nested entry was present (a protection fault);
    /// clear for a not-present fault.
    pub present: bool,
    /// `RW` (bit 1): the access was a write.
    pub write: bool,
    /// `US` (bit 2): the access was a user access. Nested walks always
    /// count as user accesses, so nested entries need the user bit.
    pub user: bool,
    /// `RSV` (bit 3): a reserved bit was set in a nested entry.
    pub reserved_bit: bool,
    /// `ID` (bit 4): the access was an instruction fetch.
    pub fetch: bool,
    /// `PK` (bit 5): protection-key violation. **Unconfirmed** for NPF.
    pub protection_key: bool,
    #[bits(25)]
    __bits_6_30: u32,
    /// Bit 31: RMP violation (SEV-SNP). **Unconfirmed**.
    pub rmp: bool,
    /// Bit 32: the fault occurred on the final translation of the guest
    /// physical address of the access.
    pub final_translation: bool,
    /// Bit 33: the fault occurred while the processor walked the guest's
    /// own page tables (translating a guest page-table entry's address).
    pub guest_page_table: bool,
    /// Bit 34: encrypted access (SEV-SNP). **Unconfirmed**.
    pub encrypted: bool,
    /// Bit 35: page size mismatch (SEV-SNP). **Unconfirmed**.
    pub size_mismatch: bool,
    /// Bit 36: VMPL violation (SEV-SNP). **Unconfirmed**.
    pub vmpl: bool,
    #[bits(27)]
    __bits_37_63: u32,
}

/// Which translation the nested fault hit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum NpfStage {
    /// The guest physical address of the access itself (bit 32).
    FinalTranslation,
    /// A guest page-table entry read during the guest's walk (bit 33).
    GuestPageTable,
    /// Neither or both bits are set: not a combination the sources
    /// describe.
    Unknown,
}

impl NpfErrorCode {
    /// Which translation the fault hit.
    #[must_use]
    pub const fn stage(self) -> NpfStage {
        match (self.final_translation(), self.guest_page_table()) {
            (true, false) => NpfStage::FinalTranslation,
            (false, true) => NpfStage::GuestPageTable,
            _ => NpfStage::Unknown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qemu_bit_positions() {
        assert_eq!(NpfErrorCode::new().with_present(true).into_bits(), 1);
        assert_eq!(NpfErrorCode::new().with_write(true).into_bits(), 1 << 1);
        assert_eq!(NpfErrorCode::new().with_user(true).into_bits(), 1 << 2);
        assert_eq!(
            NpfErrorCode::new().with_reserved_bit(true).into_bits(),
            1 << 3
        );
        assert_eq!(NpfErrorCode::new().with_fetch(true).into_bits(), 1 << 4);
        assert_eq!(
            NpfErrorCode::new().with_final_translation(true).into_bits(),
            1 << 32
        );
        assert_eq!(
            NpfErrorCode::new().with_guest_page_table(true).into_bits(),
            1 << 33
        );
    }

    #[test]
    fn missing_user_bit_during_the_guest_walk() {
        // What QEMU reports when a nested entry lacks the user bit and the
        // guest's page-table walk touches it: present, user, bit 33.
        let code = NpfErrorCode::from_bits((1 << 33) | 0b101);
        assert!(code.present() && code.user() && !code.write());
        assert_eq!(code.stage(), NpfStage::GuestPageTable);
    }

    #[test]
    fn write_to_an_unmapped_guest_page() {
        let code = NpfErrorCode::from_bits((1 << 32) | 0b110);
        assert!(!code.present() && code.write() && code.user());
        assert!(!code.fetch() && !code.reserved_bit());
        assert_eq!(code.stage(), NpfStage::FinalTranslation);
        assert_eq!(NpfErrorCode::from_bits(0b1).stage(), NpfStage::Unknown);
        assert_eq!(NpfErrorCode::from_bits(3 << 32).stage(), NpfStage::Unknown);
    }
}
