//! The VMCB control area: VMCB offsets `000h`–`3FFh`.
//!
//! APM Table B-1 ("VMCB Layout, Control Area"). Offsets confirmed by Linux
//! (`struct vmcb_control_area`, with its `EXPECTED_VMCB_CONTROL_AREA_SIZE`
//! of 1024), QEMU (`struct vmcb_control_area`, up to `0B8h`) and Xen
//! (`struct vmcb_struct`, offsets in comments, up to `0F8h`). The SEV
//! fields from `108h` on come from Linux only (**Unconfirmed**); Tessera
//! does not run SEV guests and leaves them zero.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::clean::VmcbCleanBits;
use crate::controls::{NestedControl, TlbControl, VirtExtControl};
use crate::event::EventInjection;
use crate::exit_code::ExitCode;
use crate::intercept::InterceptVector;
use crate::interrupt::{InterruptState, VIntrControl};
use crate::macros::assert_offsets;

/// Size of the control area.
pub const CONTROL_AREA_SIZE: usize = 0x400;

/// The VMCB control area (1 KiB).
///
/// Field docs give the APM offset and the clean bit (see
/// [`VmcbCleanBits`]) that covers the field, where one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct VmcbControlArea {
    /// `000h`–`017h`: intercept vectors (clean bit 0).
    pub intercepts: InterceptVector,
    /// `018h`–`03Bh`: reserved.
    pub reserved_018: [u8; 0x24],
    /// `03Ch`: `PAUSE_FILTER_THRESHOLD` (clean bit 0).
    pub pause_filter_threshold: u16,
    /// `03Eh`: `PAUSE_FILTER_COUNT` (clean bit 0). QEMU TCG has no pause
    /// filter.
    pub pause_filter_count: u16,
    /// `040h`: `IOPM_BASE_PA`, physical address of the
    /// [`IoPermissionMap`](crate::iopm::IoPermissionMap) (clean bit 1).
    pub iopm_base_pa: u64,
    /// `048h`: `MSRPM_BASE_PA`, physical address of the
    /// [`MsrPermissionMap`](crate::msrpm::MsrPermissionMap) (clean bit 1).
    pub msrpm_base_pa: u64,
    /// `050h`: `TSC_OFFSET` (clean bit 0).
    pub tsc_offset: u64,
    /// `058h`: guest ASID (clean bit 2). Must not be 0 (`VMRUN` fails).
    pub guest_asid: u32,
    /// `05Ch`: `TLB_CONTROL`.
    pub tlb_control: TlbControl,
    /// `05Dh`–`05Fh`: reserved (Linux names `05Dh` `erap_ctl`).
    pub reserved_05d: [u8; 3],
    /// `060h`: virtual interrupt control (clean bit 3).
    pub v_intr: VIntrControl,
    /// `068h`: interrupt shadow and guest interrupt mask.
    pub interrupt_state: InterruptState,
    /// `070h`: `EXITCODE`.
    pub exit_code: ExitCode,
    /// `078h`: `EXITINFO1`.
    pub exit_info1: u64,
    /// `080h`: `EXITINFO2`.
    pub exit_info2: u64,
    /// `088h`: `EXITINTINFO`, the event whose delivery the exit
    /// interrupted.
    pub exit_int_info: EventInjection,
    /// `090h`: `NP_ENABLE` and the SEV enables (clean bit 4).
    pub nested_control: NestedControl,
    /// `098h`: AVIC APIC BAR. Reserved for now (no AVIC; clean bit 11).
    pub avic_apic_bar: u64,
    /// `0A0h`: guest physical address of the GHCB (SEV-ES). Reserved for
    /// now.
    pub ghcb_gpa: u64,
    /// `0A8h`: `EVENTINJ`, the event to inject on `VMRUN`.
    pub event_inj: EventInjection,
    /// `0B0h`: `N_CR3`, the nested page table root (clean bit 4).
    pub n_cr3: u64,
    /// `0B8h`: LBR virtualization and virtualized VMSAVE/VMLOAD.
    pub virt_ext: VirtExtControl,
    /// `0C0h`: VMCB clean bits.
    pub clean_bits: VmcbCleanBits,
    /// `0C4h`: reserved.
    pub reserved_0c4: u32,
    /// `0C8h`: `nRIP`, the next sequential instruction pointer, saved on
    /// instruction intercepts when the NRIP-save feature exists. QEMU TCG
    /// has none and leaves it 0 (`svm-on-qemu.md`).
    pub next_rip: u64,
    /// `0D0h`: number of guest instruction bytes fetched (decode assists).
    pub guest_instruction_len: u8,
    /// `0D1h`–`0DFh`: the guest instruction bytes (decode assists).
    pub guest_instruction_bytes: [u8; 15],
    /// `0E0h`: AVIC backing page pointer. Reserved for now (clean bit 11).
    pub avic_backing_page: u64,
    /// `0E8h`: reserved.
    pub reserved_0e8: u64,
    /// `0F0h`: AVIC logical table pointer. Reserved for now (clean bit
    /// 11).
    pub avic_logical_table: u64,
    /// `0F8h`: AVIC physical table pointer and maximum index. Reserved for
    /// now (clean bit 11).
    pub avic_physical_table: u64,
    /// `100h`: reserved.
    pub reserved_100: u64,
    /// `108h`: VMSA pointer (SEV-ES). Reserved for now. **Unconfirmed**.
    pub vmsa_pa: u64,
    /// `110h`–`11Fh`: reserved (SEV-ES VMGEXIT fields in newer editions).
    pub reserved_110: [u8; 0x10],
    /// `120h`: bus lock threshold counter. **Unconfirmed**.
    pub bus_lock_counter: u16,
    /// `122h`–`137h`: reserved.
    pub reserved_122: [u8; 0x16],
    /// `138h`: allowed SEV features. Reserved for now. **Unconfirmed**.
    pub allowed_sev_features: u64,
    /// `140h`: guest SEV features. Reserved for now. **Unconfirmed**.
    pub guest_sev_features: u64,
    /// `148h`–`3DFh`: reserved.
    pub reserved_148: [u8; 0x298],
    /// `3E0h`–`3FFh`: reserved for the host's software (the processor
    /// does not use it; Hyper-V's nested enlightenments live here).
    pub software_reserved: [u8; 0x20],
}

const _: () = assert!(size_of::<VmcbControlArea>() == CONTROL_AREA_SIZE);

assert_offsets!(VmcbControlArea {
    intercepts: 0x000,
    reserved_018: 0x018,
    pause_filter_threshold: 0x03C,
    pause_filter_count: 0x03E,
    iopm_base_pa: 0x040,
    msrpm_base_pa: 0x048,
    tsc_offset: 0x050,
    guest_asid: 0x058,
    tlb_control: 0x05C,
    reserved_05d: 0x05D,
    v_intr: 0x060,
    interrupt_state: 0x068,
    exit_code: 0x070,
    exit_info1: 0x078,
    exit_info2: 0x080,
    exit_int_info: 0x088,
    nested_control: 0x090,
    avic_apic_bar: 0x098,
    ghcb_gpa: 0x0A0,
    event_inj: 0x0A8,
    n_cr3: 0x0B0,
    virt_ext: 0x0B8,
    clean_bits: 0x0C0,
    reserved_0c4: 0x0C4,
    next_rip: 0x0C8,
    guest_instruction_len: 0x0D0,
    guest_instruction_bytes: 0x0D1,
    avic_backing_page: 0x0E0,
    reserved_0e8: 0x0E8,
    avic_logical_table: 0x0F0,
    avic_physical_table: 0x0F8,
    reserved_100: 0x100,
    vmsa_pa: 0x108,
    reserved_110: 0x110,
    bus_lock_counter: 0x120,
    reserved_122: 0x122,
    allowed_sev_features: 0x138,
    guest_sev_features: 0x140,
    reserved_148: 0x148,
    software_reserved: 0x3E0,
});

impl Default for VmcbControlArea {
    fn default() -> Self {
        Self::new_zeroed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Event;
    use crate::exception::ExceptionVector;
    use crate::intercept::Intercept;

    #[test]
    fn fields_land_at_their_offsets() {
        let mut c = VmcbControlArea::default();
        c.intercepts.set(Intercept::Vmrun, true);
        c.iopm_base_pa = 0x1111_1000;
        c.msrpm_base_pa = 0x2222_2000;
        c.guest_asid = 1;
        c.tlb_control = TlbControl::FLUSH_ALL;
        c.v_intr.set_v_intr_masking(true);
        c.exit_code = ExitCode::CPUID;
        c.exit_info1 = 0xAAAA;
        c.exit_info2 = 0xBBBB;
        c.nested_control.set_np_enable(true);
        c.event_inj = Event::Exception {
            vector: ExceptionVector::GP,
            error_code: Some(0),
        }
        .encode()
        .unwrap();
        c.n_cr3 = 0x3333_3000;
        c.next_rip = 0x4444;
        c.guest_instruction_len = 2;
        c.guest_instruction_bytes[..2].copy_from_slice(&[0x0F, 0xA2]);
        let b = c.as_bytes();
        let qword = |off: usize| u64::from_le_bytes(b[off..off + 8].try_into().unwrap());
        assert_eq!(b[0x10], 1, "VMRUN intercept: word 4 bit 0");
        assert_eq!(qword(0x40), 0x1111_1000);
        assert_eq!(qword(0x48), 0x2222_2000);
        assert_eq!(&b[0x58..0x5C], &1_u32.to_le_bytes());
        assert_eq!(b[0x5C], 1);
        assert_eq!(b[0x63], 1, "V_INTR_MASKING is bit 24 of 060h");
        assert_eq!(qword(0x70), 0x72);
        assert_eq!(qword(0x78), 0xAAAA);
        assert_eq!(qword(0x80), 0xBBBB);
        assert_eq!(qword(0x90), 1, "NP_ENABLE is bit 0 of 090h");
        assert_eq!(qword(0xA8), 0x8000_0B0D);
        assert_eq!(qword(0xB0), 0x3333_3000);
        assert_eq!(qword(0xC8), 0x4444);
        assert_eq!(b[0xD0], 2);
        assert_eq!(&b[0xD1..0xD3], &[0x0F, 0xA2]);
    }
}
