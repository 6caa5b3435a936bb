//! The guest state VMRUN accepts.
//!
//! VMRUN refuses some states outright (`VMEXIT_INVALID`, APM §15.5.1
//! "Canonicalization and Consistency Checks"); the list below is the one
//! QEMU enforces (`svm-on-qemu.md`) plus what Linux's nested SVM checks
//! (`nested_vmcb_check_save`). Registers a component sets are checked here
//! before the VP may run, so an invalid VMCB is a kernel bug, never a
//! component's doing.
use tessera_svm::Vmcb;

use crate::registers::EFER_SVME;

const CR0_PE: u64 = 1 << 0;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// CR4 bits a guest may set: VME … UMIP (0-11), FSGSBASE (16), PCIDE (17),
/// SMEP (20), SMAP (21). LA57, OSXSAVE and PKE are refused because the
/// CPUID the guest sees hides those features.
pub const CR4_ALLOWED: u64 = 0xFFF | 1 << 16 | 1 << 17 | 1 << 20 | 1 << 21;

/// EFER bits a guest may hold: SCE, LME, LMA, NXE, SVME (the kernel's),
/// FFXSR.
pub const EFER_ALLOWED: u64 = 1 << 0 | EFER_LME | EFER_LMA | 1 << 11 | EFER_SVME | 1 << 14;

/// RFLAGS bits that must be zero (3, 5, 15, 63:22); bit 1 must be one.
pub const RFLAGS_RESERVED: u64 = 1 << 3 | 1 << 5 | 1 << 15 | !((1 << 22) - 1);

/// Why a state cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    Cr0HighBits,
    Cr0NotWriteThroughWithoutCacheDisable,
    Cr0PagingWithoutProtection,
    Cr3ReservedBits,
    Cr4ReservedBits,
    EferReservedBits,
    LongModeWithoutPae,
    LongModeActiveMismatch,
    CodeSegmentLongAndDefaultBig,
    DebugRegisterHighBits,
    RflagsReservedBits,
    NonCanonicalRip,
}

/// Checks the save area a VMRUN would load.
pub fn runnable(vmcb: &Vmcb) -> Result<(), StateError> {
    let save = &vmcb.save;
    if save.cr0 >> 32 != 0 {
        return Err(StateError::Cr0HighBits);
    }
    if save.cr0 & CR0_NW != 0 && save.cr0 & CR0_CD == 0 {
        return Err(StateError::Cr0NotWriteThroughWithoutCacheDisable);
    }
    let paging = save.cr0 & CR0_PG != 0;
    if paging && save.cr0 & CR0_PE == 0 {
        return Err(StateError::Cr0PagingWithoutProtection);
    }
    if save.cr3 >> 52 != 0 {
        return Err(StateError::Cr3ReservedBits);
    }
    if save.cr4 & !CR4_ALLOWED != 0 {
        return Err(StateError::Cr4ReservedBits);
    }
    if save.efer & !EFER_ALLOWED != 0 || save.efer & EFER_SVME == 0 {
        return Err(StateError::EferReservedBits);
    }
    let long_mode = save.efer & EFER_LME != 0 && paging;
    if long_mode && save.cr4 & CR4_PAE == 0 {
        return Err(StateError::LongModeWithoutPae);
    }
    if (save.efer & EFER_LMA != 0) != long_mode {
        return Err(StateError::LongModeActiveMismatch);
    }
    if long_mode && save.cs.attrib.l() && save.cs.attrib.db() {
        return Err(StateError::CodeSegmentLongAndDefaultBig);
    }
    if save.dr6 >> 32 != 0 || save.dr7 >> 32 != 0 {
        return Err(StateError::DebugRegisterHighBits);
    }
    if save.rflags & RFLAGS_RESERVED != 0 || save.rflags & 0b10 == 0 {
        return Err(StateError::RflagsReservedBits);
    }
    if long_mode && save.cs.attrib.l() && !crate::is_canonical(save.rip) {
        return Err(StateError::NonCanonicalRip);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_svm::segment::SegmentAttributes;

    /// A long-mode state like the ELF64 loader's.
    fn long_mode() -> Vmcb {
        let mut vmcb = Vmcb::default();
        let save = &mut vmcb.save;
        save.cr0 = CR0_PE | CR0_PG | 1 << 16;
        save.cr4 = CR4_PAE;
        save.efer = EFER_LME | EFER_LMA | EFER_SVME;
        save.cs.attrib = SegmentAttributes::new()
            .with_l(true)
            .with_p(true)
            .with_s(true);
        save.rflags = 0x2;
        save.dr6 = 0xFFFF_0FF0;
        save.dr7 = 0x400;
        vmcb
    }

    /// The reset state: real mode, paging off.
    fn reset() -> Vmcb {
        let mut vmcb = Vmcb::default();
        vmcb.save.cr0 = 0x6000_0010;
        vmcb.save.efer = EFER_SVME;
        vmcb.save.rflags = 0x2;
        vmcb.save.rip = 0xFFF0;
        vmcb
    }

    #[test]
    fn the_reset_and_long_mode_states_run() {
        assert_eq!(runnable(&reset()), Ok(()));
        assert_eq!(runnable(&long_mode()), Ok(()));
    }

    /// A change that makes the state inconsistent, and the error it gives.
    type Case = (fn(&mut Vmcb), StateError);

    #[test]
    fn each_inconsistency_is_named() {
        let cases: [Case; 12] = [
            (|v| v.save.cr0 |= 1 << 32, StateError::Cr0HighBits),
            (
                |v| v.save.cr0 = (v.save.cr0 | CR0_NW) & !CR0_CD,
                StateError::Cr0NotWriteThroughWithoutCacheDisable,
            ),
            (
                |v| v.save.cr0 &= !CR0_PE,
                StateError::Cr0PagingWithoutProtection,
            ),
            (|v| v.save.cr3 = 1 << 60, StateError::Cr3ReservedBits),
            (|v| v.save.cr4 |= 1 << 12, StateError::Cr4ReservedBits),
            (|v| v.save.efer &= !EFER_SVME, StateError::EferReservedBits),
            (|v| v.save.cr4 &= !CR4_PAE, StateError::LongModeWithoutPae),
            (
                |v| v.save.efer &= !EFER_LMA,
                StateError::LongModeActiveMismatch,
            ),
            (
                |v| v.save.cs.attrib.set_db(true),
                StateError::CodeSegmentLongAndDefaultBig,
            ),
            (|v| v.save.dr7 |= 1 << 40, StateError::DebugRegisterHighBits),
            (|v| v.save.rflags = 0, StateError::RflagsReservedBits),
            (|v| v.save.rip = 1 << 47, StateError::NonCanonicalRip),
        ];
        for (break_it, expected) in cases {
            let mut vmcb = long_mode();
            break_it(&mut vmcb);
            assert_eq!(runnable(&vmcb), Err(expected));
        }
    }
}
