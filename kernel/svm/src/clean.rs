//! The VMCB clean bits (control area `0C0h`).
//!
//! APM §15.15 ("VMCB State Caching"): a set bit tells the processor that
//! the named group of fields has not changed since the last `VMRUN` with
//! this VMCB on this CPU, so a cached copy may be used. Software must
//! clear a bit whenever it writes a field of its group, and clear all of
//! them when the VMCB moves to another CPU or is first used. Processors
//! without the VMCB-clean feature (CPUID `8000_000Ah` EDX bit 5; QEMU TCG
//! among them) ignore the word.
//!
//! Bits 0–11 confirmed by Linux (`VMCB_INTERCEPTS` … `VMCB_AVIC`) and Xen
//! (`vmcbcleanbits_t`); bit 12 (CET) by Xen only, **Unconfirmed**.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The clean bits. Each doc line names the fields the bit covers.
#[bitfield(u32)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct VmcbCleanBits {
    /// Bit 0 (`I`): intercept vectors, TSC offset, pause filter
    /// threshold and count.
    pub intercepts: bool,
    /// Bit 1 (`IOPM`): `IOPM_BASE_PA`, `MSRPM_BASE_PA`.
    pub iopm: bool,
    /// Bit 2 (`ASID`): the guest ASID.
    pub asid: bool,
    /// Bit 3 (`TPR`): the virtual interrupt control word (`V_TPR`,
    /// `V_IRQ`, `V_INTR_*`).
    pub tpr: bool,
    /// Bit 4 (`NP`): nested paging control, `N_CR3`, `G_PAT`.
    pub np: bool,
    /// Bit 5 (`CRx`): `CR0`, `CR3`, `CR4`, `EFER`.
    pub crx: bool,
    /// Bit 6 (`DRx`): `DR6`, `DR7`.
    pub drx: bool,
    /// Bit 7 (`DT`): `GDTR`, `IDTR` base and limit.
    pub dt: bool,
    /// Bit 8 (`SEG`): `CS`, `DS`, `SS`, `ES` (all of selector, base,
    /// limit, attributes) and `CPL`.
    pub seg: bool,
    /// Bit 9 (`CR2`): `CR2`.
    pub cr2: bool,
    /// Bit 10 (`LBR`): `DBGCTL`, `BR_FROM`, `BR_TO`, `LASTEXCPFROM`,
    /// `LASTEXCPTO`.
    pub lbr: bool,
    /// Bit 11 (`AVIC`): the AVIC APIC BAR, backing page and
    /// logical/physical table pointers. Reserved for now (no AVIC).
    pub avic: bool,
    /// Bit 12 (`CET`): `S_CET`, `SSP`, `ISST_ADDR`. **Unconfirmed**.
    pub cet: bool,
    #[bits(19)]
    __reserved: u32,
}

impl VmcbCleanBits {
    /// Every clean bit this crate names (bits 0–12).
    pub const ALL_KNOWN: Self = Self::from_bits(0x1FFF);

    /// Nothing is clean: what a VMCB must carry on its first `VMRUN` and
    /// after it moves to another CPU.
    pub const NONE: Self = Self::new();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_and_xen_bit_numbers() {
        assert_eq!(VmcbCleanBits::new().with_intercepts(true).into_bits(), 1);
        assert_eq!(VmcbCleanBits::new().with_asid(true).into_bits(), 1 << 2);
        assert_eq!(VmcbCleanBits::new().with_np(true).into_bits(), 1 << 4);
        assert_eq!(VmcbCleanBits::new().with_crx(true).into_bits(), 1 << 5);
        assert_eq!(VmcbCleanBits::new().with_seg(true).into_bits(), 1 << 8);
        assert_eq!(VmcbCleanBits::new().with_cr2(true).into_bits(), 1 << 9);
        assert_eq!(VmcbCleanBits::new().with_avic(true).into_bits(), 1 << 11);
        assert_eq!(VmcbCleanBits::new().with_cet(true).into_bits(), 1 << 12);
        assert_eq!(VmcbCleanBits::NONE.into_bits(), 0);
        let all = VmcbCleanBits::ALL_KNOWN;
        assert!(all.intercepts() && all.lbr() && all.cet());
    }
}
