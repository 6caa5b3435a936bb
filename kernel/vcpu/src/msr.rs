//! The MSR fast path: which MSRs the kernel answers for a guest, and the
//! values it refuses.
//!
//! The syscall and segment-base MSRs live in the VMCB and are swapped by
//! VMSAVE/VMLOAD around every VMRUN, so the guest may touch them directly
//! (its writes reach only its own copy). EFER and PAT are in the VMCB too
//! but carry reserved bits and, for EFER, the kernel's SVME, so they are
//! intercepted and checked. Every other MSR is #GP unless a route takes it.
use crate::registers::EFER_SVME;

pub const TSC: u32 = 0x10;
pub const APIC_BASE: u32 = 0x1B;
pub const SYSENTER_CS: u32 = 0x174;
pub const SYSENTER_ESP: u32 = 0x175;
pub const SYSENTER_EIP: u32 = 0x176;
pub const PAT: u32 = 0x277;
pub const EFER: u32 = 0xC000_0080;
pub const STAR: u32 = 0xC000_0081;
pub const LSTAR: u32 = 0xC000_0082;
pub const CSTAR: u32 = 0xC000_0083;
pub const SFMASK: u32 = 0xC000_0084;
pub const FS_BASE: u32 = 0xC000_0100;
pub const GS_BASE: u32 = 0xC000_0101;
pub const KERNEL_GS_BASE: u32 = 0xC000_0102;
pub const TSC_AUX: u32 = 0xC000_0103;
/// AMD's northbridge configuration (`NB_CFG`, family 10h–17h). Linux
/// on an AMD CPU reads it at boot and sets EnableCf8ExtCfg (bit 46) with
/// RDMSR/WRMSR that expect no fault (`amd_bus_cpu_online`).
pub const NB_CFG: u32 = 0xC001_001F;

/// The MSRs the guest reaches without an exit (its VMCB copy).
pub const PASS_THROUGH: [u32; 10] = [
    SYSENTER_CS,
    SYSENTER_ESP,
    SYSENTER_EIP,
    STAR,
    LSTAR,
    CSTAR,
    SFMASK,
    FS_BASE,
    GS_BASE,
    KERNEL_GS_BASE,
];

/// What the kernel does with an intercepted MSR that no route takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FastPath {
    Efer,
    Pat,
    Tsc,
    /// Reads give the architectural base with the global enable clear
    /// (CPUID shows no APIC); writes are #GP.
    ApicBase,
    /// The VP's own TSC_AUX (RDTSCP is intercepted and reads it).
    TscAux,
    /// Reads 0 and ignores writes: a partition has no northbridge whose
    /// configuration a guest could change (KVM answers it the same way).
    NorthbridgeConfig,
    /// #GP.
    Fault,
}

pub fn fast_path(msr: u32) -> FastPath {
    match msr {
        EFER => FastPath::Efer,
        PAT => FastPath::Pat,
        TSC => FastPath::Tsc,
        APIC_BASE => FastPath::ApicBase,
        TSC_AUX => FastPath::TscAux,
        NB_CFG => FastPath::NorthbridgeConfig,
        _ => FastPath::Fault,
    }
}

/// APIC_BASE as VP `vp_index` reads it: the default base, BSP for VP 0,
/// globally disabled.
pub fn apic_base(vp_index: u32) -> u64 {
    0xFEE0_0000 | if vp_index == 0 { 1 << 8 } else { 0 }
}

/// Whether every byte of a PAT value is a defined memory type (UC 0,
/// WC 1, WT 4, WP 5, WB 6, UC- 7); any other value is #GP.
pub fn valid_pat(value: u64) -> bool {
    value
        .to_le_bytes()
        .iter()
        .all(|&kind| matches!(kind, 0 | 1 | 4 | 5 | 6 | 7))
}

/// The TSC_AUX a WRMSR of `value` sets, or `None` for #GP: bits 63:32 are
/// reserved (APM vol. 2 §13.2.4 "Time-Stamp Counter", RDTSCP).
pub fn tsc_aux_write(value: u64) -> Option<u32> {
    u32::try_from(value).ok()
}

/// RDTSCP's answer: RAX and RDX the TSC (as RDTSC), RCX the TSC_AUX
/// (APM vol. 3, RDTSCP: "ECX = TSC_AUX\[31:0\]", upper halves zeroed).
pub fn rdtscp(guest_tsc: u64, tsc_aux: u32) -> [u64; 3] {
    [guest_tsc & 0xFFFF_FFFF, guest_tsc >> 32, u64::from(tsc_aux)]
}

/// The guest's view of EFER (without the kernel's SVME).
pub fn efer_read(vmcb_efer: u64) -> u64 {
    vmcb_efer & !EFER_SVME
}

/// The VMCB EFER after the guest writes `value`, or `None` for #GP: a bit
/// outside `allowed` (the guest's CPUID, `GuestCpu::efer_allowed`), SVME
/// (hidden from the guest), or changing LME while paging is on. LMA is the
/// processor's: a write leaves it as it was.
pub fn efer_write(vmcb_efer: u64, cr0: u64, value: u64, allowed: u64) -> Option<u64> {
    const LME: u64 = 1 << 8;
    const LMA: u64 = 1 << 10;
    const CR0_PG: u64 = 1 << 31;
    if value & !allowed != 0 || value & EFER_SVME != 0 {
        return None;
    }
    if cr0 & CR0_PG != 0 && (value ^ vmcb_efer) & LME != 0 {
        return None;
    }
    Some((value & !LMA) | (vmcb_efer & LMA) | EFER_SVME)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pat_accepts_the_defined_types_only() {
        assert!(valid_pat(0x0007_0406_0007_0406), "the reset value");
        assert!(valid_pat(0));
        assert!(!valid_pat(0x02));
        assert!(!valid_pat(0x0300_0000_0000_0000));
        assert!(!valid_pat(0x08));
    }

    #[test]
    fn efer_writes_keep_svme_and_lma_and_refuse_reserved_bits() {
        // SCE, LME, LMA, NXE, FFXSR.
        let allowed = 1 | 1 << 8 | 1 << 10 | 1 << 11 | 1 << 14;
        let efer_write = |efer, cr0, value| efer_write(efer, cr0, value, allowed);
        let long_mode = 0x500 | EFER_SVME;
        let paging = 1 << 31;
        // Setting NXE keeps LMA and SVME.
        assert_eq!(
            efer_write(long_mode, paging, 0x100 | 0x800),
            Some(0xD00 | EFER_SVME)
        );
        // Reserved bit 63, and the hidden SVME.
        assert_eq!(efer_write(long_mode, paging, 0x500 | 1 << 63), None);
        assert_eq!(efer_write(long_mode, paging, 0x500 | EFER_SVME), None);
        // LME may not change while paging is on, but may before.
        assert_eq!(efer_write(long_mode, paging, 0), None);
        assert_eq!(efer_write(EFER_SVME, 0, 0x100), Some(0x100 | EFER_SVME));
        // NXE where the guest's CPUID has no NX.
        assert_eq!(super::efer_write(long_mode, paging, 0xD00, 0x501), None);
        assert_eq!(efer_read(long_mode), 0x500);
    }

    #[test]
    fn tsc_aux_is_32_bits_and_rdtscp_splits_the_counter() {
        assert_eq!(tsc_aux_write(0xFFFF_FFFF), Some(0xFFFF_FFFF));
        assert_eq!(tsc_aux_write(1 << 32), None);
        assert_eq!(
            rdtscp(0x1122_3344_5566_7788, 7),
            [0x5566_7788, 0x1122_3344, 7]
        );
    }

    #[test]
    fn the_fast_paths_and_the_msrs_they_answer() {
        assert_eq!(fast_path(EFER), FastPath::Efer);
        assert_eq!(fast_path(PAT), FastPath::Pat);
        assert_eq!(fast_path(TSC), FastPath::Tsc);
        assert_eq!(fast_path(0x1B), FastPath::ApicBase);
        assert_eq!(apic_base(0), 0xFEE0_0100);
        assert_eq!(apic_base(3), 0xFEE0_0000);
        assert_eq!(fast_path(TSC_AUX), FastPath::TscAux);
        assert_eq!(fast_path(0xC001_001F), FastPath::NorthbridgeConfig);
        assert_eq!(fast_path(0xC001_0020), FastPath::Fault);
        assert_eq!(fast_path(0xDEA), FastPath::Fault);
        assert_eq!(fast_path(0x4000_0000), FastPath::Fault);
    }
}
