//! The virtual machine control block: one 4 KiB, 4 KiB-aligned page per
//! virtual processor, whose physical address `VMRUN` takes in `RAX`.
//!
//! APM Appendix B: the control area (Table B-1) at `000h`–`3FFh`, the
//! state save area (Table B-2) at `400h`–`FFFh`.

use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout};

use crate::control_area::{CONTROL_AREA_SIZE, VmcbControlArea};
use crate::macros::assert_offsets;
use crate::save_area::{SAVE_AREA_OFFSET, SAVE_AREA_SIZE, VmcbSaveArea};

/// Size (and alignment) of a VMCB.
pub const VMCB_SIZE: usize = 0x1000;

/// A VMCB.
///
/// `FromBytes` + `IntoBytes`: the kernel can view a VMCB frame as this
/// type and back without `unsafe` in this crate. An all-zero VMCB is not
/// runnable (`VMRUN` needs at least the VMRUN intercept, a non-zero ASID
/// and `EFER.SVME`), so [`Default`] is a starting point, not a guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C, align(4096))]
pub struct Vmcb {
    /// `000h`–`3FFh`.
    pub control: VmcbControlArea,
    /// `400h`–`FFFh`.
    pub save: VmcbSaveArea,
}

const _: () = assert!(size_of::<Vmcb>() == VMCB_SIZE);
const _: () = assert!(align_of::<Vmcb>() == VMCB_SIZE);
const _: () = assert!(CONTROL_AREA_SIZE == SAVE_AREA_OFFSET);
const _: () = assert!(CONTROL_AREA_SIZE + SAVE_AREA_SIZE == VMCB_SIZE);

assert_offsets!(Vmcb {
    control: 0x000,
    save: SAVE_AREA_OFFSET,
});

impl Default for Vmcb {
    fn default() -> Self {
        Self::new_zeroed()
    }
}

#[cfg(test)]
mod tests {
    use core::mem::offset_of;

    use super::*;
    use crate::exit_code::ExitCode;

    /// VMCB offset of a control-area field.
    macro_rules! ctl {
        ($field:ident) => {
            offset_of!(Vmcb, control) + offset_of!(VmcbControlArea, $field)
        };
    }

    /// VMCB offset of a save-area field.
    macro_rules! save {
        ($field:ident) => {
            offset_of!(Vmcb, save) + offset_of!(VmcbSaveArea, $field)
        };
    }

    #[test]
    fn control_area_offsets_from_table_b1() {
        assert_eq!(ctl!(intercepts), 0x000);
        assert_eq!(ctl!(iopm_base_pa), 0x040);
        assert_eq!(ctl!(msrpm_base_pa), 0x048);
        assert_eq!(ctl!(tsc_offset), 0x050);
        assert_eq!(ctl!(guest_asid), 0x058);
        assert_eq!(ctl!(tlb_control), 0x05C);
        assert_eq!(ctl!(v_intr), 0x060);
        assert_eq!(ctl!(interrupt_state), 0x068);
        assert_eq!(ctl!(exit_code), 0x070);
        assert_eq!(ctl!(exit_info1), 0x078);
        assert_eq!(ctl!(exit_info2), 0x080);
        assert_eq!(ctl!(exit_int_info), 0x088);
        assert_eq!(ctl!(nested_control), 0x090);
        assert_eq!(ctl!(event_inj), 0x0A8);
        assert_eq!(ctl!(n_cr3), 0x0B0);
        assert_eq!(ctl!(clean_bits), 0x0C0);
        assert_eq!(ctl!(next_rip), 0x0C8);
        assert_eq!(ctl!(guest_instruction_len), 0x0D0);
        assert_eq!(ctl!(guest_instruction_bytes), 0x0D1);
    }

    #[test]
    fn save_area_offsets_from_table_b2() {
        assert_eq!(save!(es), 0x400);
        assert_eq!(save!(cs), 0x410);
        assert_eq!(save!(tr), 0x490);
        assert_eq!(save!(cpl), 0x4CB);
        assert_eq!(save!(efer), 0x4D0);
        assert_eq!(save!(cr4), 0x548);
        assert_eq!(save!(cr3), 0x550);
        assert_eq!(save!(cr0), 0x558);
        assert_eq!(save!(dr7), 0x560);
        assert_eq!(save!(dr6), 0x568);
        assert_eq!(save!(rflags), 0x570);
        assert_eq!(save!(rip), 0x578);
        assert_eq!(save!(rsp), 0x5D8);
        assert_eq!(save!(s_cet), 0x5E0);
        assert_eq!(save!(ssp), 0x5E8);
        assert_eq!(save!(isst_addr), 0x5F0);
        assert_eq!(save!(rax), 0x5F8);
        assert_eq!(save!(star), 0x600);
        assert_eq!(save!(lstar), 0x608);
        assert_eq!(save!(cstar), 0x610);
        assert_eq!(save!(sfmask), 0x618);
        assert_eq!(save!(kernel_gs_base), 0x620);
        assert_eq!(save!(sysenter_cs), 0x628);
        assert_eq!(save!(sysenter_esp), 0x630);
        assert_eq!(save!(sysenter_eip), 0x638);
        assert_eq!(save!(cr2), 0x640);
        assert_eq!(save!(g_pat), 0x668);
        assert_eq!(save!(dbgctl), 0x670);
        assert_eq!(save!(br_from), 0x678);
        assert_eq!(save!(br_to), 0x680);
        assert_eq!(save!(last_excp_from), 0x688);
        assert_eq!(save!(last_excp_to), 0x690);
    }

    #[test]
    fn bytes_round_trip_through_a_frame() {
        let mut vmcb = Vmcb::default();
        vmcb.save.rip = 0x0010_0000;
        vmcb.save.rax = 0xDEAD_BEEF;
        vmcb.save.efer = 1 << 12;
        vmcb.save.cs.selector = 0x08;
        vmcb.save.g_pat = 0x0007_0406_0007_0406;
        let bytes = vmcb.as_bytes();
        assert_eq!(bytes.len(), VMCB_SIZE);
        let qword = |off: usize| u64::from_le_bytes(bytes[off..off + 8].try_into().unwrap());
        assert_eq!(qword(0x578), 0x0010_0000);
        assert_eq!(qword(0x5F8), 0xDEAD_BEEF);
        assert_eq!(qword(0x4D0), 1 << 12);
        assert_eq!(&bytes[0x410..0x412], &[0x08, 0x00]);
        assert_eq!(qword(0x668), 0x0007_0406_0007_0406);

        // A frame the processor wrote: QEMU's 32-bit VMEXIT_INVALID.
        let mut frame = [0_u8; VMCB_SIZE];
        frame[0x70..0x78].copy_from_slice(&0xFFFF_FFFF_u64.to_le_bytes());
        frame[0x578..0x580].copy_from_slice(&0x1234_u64.to_le_bytes());
        let read = Vmcb::read_from_bytes(&frame).unwrap();
        assert!(read.control.exit_code.is_invalid());
        assert_eq!(read.control.exit_code, ExitCode(0xFFFF_FFFF));
        assert_eq!(read.save.rip, 0x1234);
        assert!(Vmcb::read_from_bytes(&frame[..VMCB_SIZE - 1]).is_err());
    }
}
