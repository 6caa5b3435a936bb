//! Control-area words that switch features on: TLB control (`05Ch`),
//! nested paging and SEV control (`090h`), and the virtualization
//! extensions (`0B8h`).
//!
//! APM Table B-1; TLB control §15.16 ("TLB Control"), nested paging
//! §15.25.3 ("Enabling Nested Paging").

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use tessera_open_enum::open_enum;

open_enum! {
    name;
    /// `TLB_CONTROL` (byte at `05Ch`): what `VMRUN` flushes.
    ///
    /// Values confirmed by Linux (`TLB_CONTROL_*`) and Xen
    /// (`TLB_CTRL_*`); QEMU TCG knows only 0 and 1 and has no flush by
    /// ASID (`svm-on-qemu.md`). Values 3 and 7 need the FlushByASID
    /// feature (CPUID `8000_000Ah` EDX bit 6).
    pub struct TlbControl(u8);

    /// Flush nothing.
    DO_NOTHING = 0 => "TLB_CONTROL_DO_NOTHING",
    /// Flush the entire TLB, every ASID (the only flush without
    /// FlushByASID).
    FLUSH_ALL = 1 => "TLB_CONTROL_FLUSH_ALL_ASID",
    /// Flush this guest's ASID.
    FLUSH_ASID = 3 => "TLB_CONTROL_FLUSH_ASID",
    /// Flush this guest's non-global entries.
    FLUSH_ASID_NON_GLOBAL = 7 => "TLB_CONTROL_FLUSH_ASID_LOCAL",
}

impl TlbControl {
    /// The flush that drops one guest's translations before VMRUN: of its
    /// ASID where the CPU offers FlushByASID (CPUID `8000_000Ah` EDX bit
    /// 6), else of every ASID, the only flush without it (APM vol. 2
    /// §15.16.1 "TLB Flush").
    pub const fn guest_flush(flush_by_asid: bool) -> Self {
        if flush_by_asid {
            Self::FLUSH_ASID
        } else {
            Self::FLUSH_ALL
        }
    }
}

/// The word at `090h`: nested paging and secure-guest enables (clean bit
/// 4, "NP").
///
/// `NP_ENABLE` (bit 0): Linux (`SVM_MISC_ENABLE_NP`), QEMU
/// (`SVM_NPT_ENABLED`), Xen (`_np`). SEV (1) and SEV-ES (2): Linux and
/// Xen. GMET (3), SSS check (4), VTE (5): Xen only, **Unconfirmed**.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct NestedControl {
    /// `NP_ENABLE` (bit 0): nested paging on; `N_CR3` (`0B0h`) holds the
    /// nested page table root and `G_PAT` the guest PAT.
    pub np_enable: bool,
    /// Bit 1: SEV guest. Tessera does not run SEV guests.
    pub sev_enable: bool,
    /// Bit 2: SEV-ES guest. Tessera does not run SEV guests.
    pub sev_es_enable: bool,
    /// Bit 3: guest-mode execute trap (GMET). **Unconfirmed**.
    pub gmet_enable: bool,
    /// Bit 4: supervisor shadow stack check. **Unconfirmed**.
    pub sss_check_enable: bool,
    /// Bit 5: virtual transparent encryption (VTE). **Unconfirmed**.
    pub vte_enable: bool,
    #[bits(58)]
    __reserved: u64,
}

/// The word at `0B8h`: virtualization extensions.
///
/// Bit 0 (LBR virtualization) and bit 1 (virtualized VMSAVE/VMLOAD):
/// Linux (`SVM_MISC2_ENABLE_V_LBR`, `SVM_MISC2_ENABLE_V_VMLOAD_VMSAVE`)
/// and Xen (`virt_ext_t`).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct VirtExtControl {
    /// Bit 0: LBR virtualization — the save area's `DBGCTL` and last
    /// branch/exception records are loaded and saved by `VMRUN`/`#VMEXIT`.
    pub lbr_virtualization: bool,
    /// Bit 1: virtualized VMSAVE/VMLOAD for a nested hypervisor.
    pub virtual_vmload_vmsave: bool,
    #[bits(62)]
    __reserved: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlb_control_values() {
        assert_eq!(TlbControl::DO_NOTHING.0, 0);
        assert_eq!(TlbControl::FLUSH_ALL.0, 1);
        assert_eq!(TlbControl::FLUSH_ASID.0, 3);
        assert_eq!(TlbControl::FLUSH_ASID_NON_GLOBAL.0, 7);
        assert_eq!(TlbControl(2).name(), None);
    }

    /// Issue 12 item 4: with FlushByASID (real CPUs; not QEMU's TCG) a
    /// guest flush is TLB_CONTROL 3, flushing only that guest.
    #[test]
    fn guest_flushes_use_the_asid_where_offered() {
        assert_eq!(TlbControl::guest_flush(true), TlbControl::FLUSH_ASID);
        assert_eq!(TlbControl::guest_flush(true).0, 3);
        assert_eq!(TlbControl::guest_flush(false), TlbControl::FLUSH_ALL);
        assert_eq!(TlbControl::guest_flush(false).0, 1);
    }

    #[test]
    fn nested_control_bits() {
        assert_eq!(NestedControl::new().with_np_enable(true).into_bits(), 1);
        assert_eq!(NestedControl::new().with_sev_enable(true).into_bits(), 2);
        assert_eq!(NestedControl::new().with_sev_es_enable(true).into_bits(), 4);
    }

    #[test]
    fn virt_ext_bits() {
        assert_eq!(
            VirtExtControl::new()
                .with_lbr_virtualization(true)
                .into_bits(),
            1
        );
        assert_eq!(
            VirtExtControl::new()
                .with_virtual_vmload_vmsave(true)
                .into_bits(),
            2
        );
    }
}
