//! The guest state a VP may start with.
//!
//! VMRUN refuses some states outright (`VMEXIT_INVALID`, APM vol. 2 §15.5.1
//! "Canonicalization and Consistency Checks": EFER.SVME clear, CR0.CD clear
//! with CR0.NW set, CR0\[63:32\], any MBZ bit of CR3 or CR4, DR6\[63:32\],
//! DR7\[63:32\], any MBZ bit of EFER, EFER.LME and CR0.PG with CR4.PAE or
//! CR0.PE clear, and the same with CS.L and CS.D both set). Which CR3, CR4
//! and EFER bits are MBZ depends on the CPU: for a guest, on the CPUID it
//! sees ([`GuestCpu`]), so a state the host would run but the guest could
//! never have reached is refused too (PCIDE outside long mode, RFLAGS.VM in
//! long mode). Registers a component sets are checked here before the VP
//! may run, so an invalid VMCB is a kernel bug, never a component's doing.
use tessera_svm::Vmcb;

use crate::guest_cpu::GuestCpu;
use crate::registers::EFER_SVME;

const CR0_PE: u64 = 1 << 0;
const CR0_NW: u64 = 1 << 29;
const CR0_CD: u64 = 1 << 30;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const CR4_PCIDE: u64 = 1 << 17;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;
const RFLAGS_VM: u64 = 1 << 17;

/// RFLAGS bits that must be zero (3, 5, 15, 63:22); bit 1 must be one.
/// A reply to an exit obeys the same rule.
pub use tessera_exit_protocol::reply::RFLAGS_RESERVED;

/// Why a state cannot run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateError {
    Cr0HighBits,
    Cr0NotWriteThroughWithoutCacheDisable,
    Cr0PagingWithoutProtection,
    Cr3ReservedBits,
    Cr4ReservedBits,
    /// CR4.PCIDE outside long mode (MOV to CR4 #GPs setting it there, and
    /// leaving long mode with it set #GPs too).
    PcideOutsideLongMode,
    EferReservedBits,
    LongModeWithoutPae,
    LongModeActiveMismatch,
    CodeSegmentLongAndDefaultBig,
    DebugRegisterHighBits,
    RflagsReservedBits,
    /// RFLAGS.VM in long mode (no virtual-8086 mode there).
    Virtual8086InLongMode,
    NonCanonicalRip,
}

/// Checks the save area a VMRUN would load, for a guest whose CPUID
/// offers `cpu`.
pub fn runnable(vmcb: &Vmcb, cpu: &GuestCpu) -> Result<(), StateError> {
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
    if save.cr4 & !cpu.cr4_allowed != 0 {
        return Err(StateError::Cr4ReservedBits);
    }
    if save.efer & !(cpu.efer_allowed | EFER_SVME) != 0 || save.efer & EFER_SVME == 0 {
        return Err(StateError::EferReservedBits);
    }
    let long_mode = save.efer & EFER_LME != 0 && paging;
    // A long-mode CR3 holds a physical address below MAXPHYADDR (and the
    // PCID); elsewhere CR3 is 32 bits wide.
    let cr3_bits = if long_mode {
        u32::from(cpu.physical_address_bits)
    } else {
        32
    };
    if save.cr3 >> cr3_bits != 0 {
        return Err(StateError::Cr3ReservedBits);
    }
    if save.cr4 & CR4_PCIDE != 0 && !long_mode {
        return Err(StateError::PcideOutsideLongMode);
    }
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
    if long_mode && save.rflags & RFLAGS_VM != 0 {
        return Err(StateError::Virtual8086InLongMode);
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

    /// A guest CPU like QEMU's `-cpu EPYC` under TCG: 40-bit physical
    /// addresses, no UMIP, no PCID.
    fn epyc() -> GuestCpu {
        GuestCpu {
            physical_address_bits: 40,
            cr4_allowed: 0x7FF | 1 << 16 | 1 << 20 | 1 << 21,
            efer_allowed: 1 | EFER_LME | EFER_LMA | 1 << 11 | 1 << 14,
        }
    }

    /// One with UMIP and PCID and 48-bit physical addresses.
    fn newer() -> GuestCpu {
        GuestCpu {
            physical_address_bits: 48,
            cr4_allowed: epyc().cr4_allowed | 1 << 11 | CR4_PCIDE,
            ..epyc()
        }
    }

    fn runnable(vmcb: &Vmcb) -> Result<(), StateError> {
        super::runnable(vmcb, &epyc())
    }

    #[test]
    fn the_reset_and_long_mode_states_run() {
        assert_eq!(runnable(&reset()), Ok(()));
        assert_eq!(runnable(&long_mode()), Ok(()));
    }

    /// Issue 9, finding 5: CR3 bits above MAXPHYADDR and CR4 bits the
    /// guest's CPUID does not offer made VMRUN fail; now VpStart refuses
    /// them, judged by the guest's CPUID.
    #[test]
    fn cr3_and_cr4_follow_the_guests_cpuid() {
        let mut vmcb = long_mode();
        vmcb.save.cr3 = 1 << 40;
        assert_eq!(runnable(&vmcb), Err(StateError::Cr3ReservedBits));
        assert_eq!(super::runnable(&vmcb, &newer()), Ok(()));
        vmcb.save.cr3 = (1 << 40) - 0x1000;
        assert_eq!(runnable(&vmcb), Ok(()));
        // Outside long mode CR3 is 32 bits.
        let mut legacy = reset();
        legacy.save.cr3 = 1 << 32;
        assert_eq!(runnable(&legacy), Err(StateError::Cr3ReservedBits));

        let mut vmcb = long_mode();
        vmcb.save.cr4 |= 1 << 11;
        assert_eq!(runnable(&vmcb), Err(StateError::Cr4ReservedBits), "UMIP");
        assert_eq!(super::runnable(&vmcb, &newer()), Ok(()));
        let mut vmcb = long_mode();
        vmcb.save.cr4 |= CR4_PCIDE;
        assert_eq!(runnable(&vmcb), Err(StateError::Cr4ReservedBits), "PCIDE");
        assert_eq!(super::runnable(&vmcb, &newer()), Ok(()));
        let mut real = reset();
        real.save.cr4 |= CR4_PCIDE;
        assert_eq!(
            super::runnable(&real, &newer()),
            Err(StateError::PcideOutsideLongMode)
        );
    }

    #[test]
    fn efer_follows_the_guests_cpuid() {
        let mut vmcb = long_mode();
        vmcb.save.efer |= 1 << 11;
        assert_eq!(runnable(&vmcb), Ok(()), "NXE with NX");
        let no_nx = GuestCpu {
            efer_allowed: epyc().efer_allowed & !(1 << 11),
            ..epyc()
        };
        assert_eq!(
            super::runnable(&vmcb, &no_nx),
            Err(StateError::EferReservedBits)
        );
        let mut vmcb = long_mode();
        vmcb.save.efer |= 1 << 13;
        assert_eq!(runnable(&vmcb), Err(StateError::EferReservedBits), "LMSLE");
    }

    /// A change that makes the state inconsistent, and the error it gives.
    type Case = (fn(&mut Vmcb), StateError);

    #[test]
    fn each_inconsistency_is_named() {
        let cases: [Case; 13] = [
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
            (
                |v| v.save.rflags |= RFLAGS_VM,
                StateError::Virtual8086InLongMode,
            ),
            (|v| v.save.rip = 1 << 47, StateError::NonCanonicalRip),
        ];
        for (break_it, expected) in cases {
            let mut vmcb = long_mode();
            break_it(&mut vmcb);
            assert_eq!(runnable(&vmcb), Err(expected));
        }
    }
}
