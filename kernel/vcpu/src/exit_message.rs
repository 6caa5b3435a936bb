//! The parts of an exit message (`tessera_exit_protocol`) that come from
//! the VP's state: the TLFS intercept message for the exit (TLFS 6.0b
//! §13.2 and the layouts in `tlfs::intercept`) and the general registers
//! the route asked for. Exits the TLFS has no body for (HLT, exceptions,
//! the lifecycle kinds) send the common header alone.
use tessera_exit_protocol::EncodedExit;
use tessera_svm::Vmcb;
use tlfs::intercept::{
    HvInterceptAccessType, HvX64CpuidInterceptMessage, HvX64InterceptMessageHeader,
    HvX64IoPortAccessInfo, HvX64IoPortInterceptMessage, HvX64MemoryAccessInfo,
    HvX64MemoryInterceptMessage, HvX64MsrInterceptMessage, HvX64VpExecutionState,
};
use tlfs::types::{HvX64SegmentAttributes, HvX64SegmentRegister};

use crate::gprs::{self, GprIndex, GuestGprs};
use crate::registers::segment_value;

/// Appends the general registers in `mask` (`tessera_abi::vm::state`)
/// to `message`.
#[inline]
pub fn registers(message: &mut EncodedExit, mask: u64, gprs: &GuestGprs, rax: u64, rsp: u64) {
    message.registers(mask, |index| match GprIndex::new(index) {
        Some(index) => gprs::read(gprs, rax, rsp, index),
        None => 0,
    });
}

/// `HV_X64_VP_EXECUTION_STATE` of the VP in `vmcb` (TLFS 6.0b §13.2), its
/// bits composed here: the bitfield's `with_*` setters are not inlined
/// across crates, and this runs on every forwarded exit with a TLFS body.
#[inline]
pub fn execution_state(vmcb: &Vmcb) -> HvX64VpExecutionState {
    let save = &vmcb.save;
    let bits = u16::from(save.cpl & 3)
        | u16::from(save.cr0 & 1 != 0) << 2
        | u16::from(save.cr0 & (1 << 18) != 0) << 3
        | u16::from(save.efer & (1 << 10) != 0) << 4
        | u16::from(save.dr7 & 0xFF != 0) << 5
        | u16::from(vmcb.control.exit_int_info.valid()) << 6;
    HvX64VpExecutionState::from_bits(bits)
}

/// The TLFS intercept message header for the VP's state in `vmcb`.
#[inline]
pub fn header(
    vmcb: &Vmcb,
    vp_index: u32,
    instruction_length: u8,
    access: HvInterceptAccessType,
) -> HvX64InterceptMessageHeader {
    let save = &vmcb.save;
    let (base, high) = segment_value(&save.cs);
    HvX64InterceptMessageHeader {
        vp_index,
        instruction_length,
        intercept_access_type: access,
        execution_state: execution_state(vmcb),
        cs_segment: HvX64SegmentRegister {
            base,
            limit: high as u32,
            selector: (high >> 32) as u16,
            attributes: HvX64SegmentAttributes::from_bits((high >> 48) as u16),
        },
        rip: save.rip,
        rflags: save.rflags,
    }
}

/// `HV_X64_IO_PORT_INTERCEPT_MESSAGE` for a non-string access.
#[inline]
pub fn io_port(
    header: HvX64InterceptMessageHeader,
    port: u16,
    size: u8,
    gprs: &GuestGprs,
    rax: u64,
) -> HvX64IoPortInterceptMessage {
    let access_size = match size {
        1 => 0b001,
        2 => 0b010,
        _ => 0b100,
    };
    HvX64IoPortInterceptMessage {
        header,
        port_number: port,
        access_info: HvX64IoPortAccessInfo::new().with_access_size(access_size),
        rax,
        rcx: gprs.rcx,
        rsi: gprs.rsi,
        rdi: gprs.rdi,
        ..Default::default()
    }
}

/// `HV_X64_MSR_INTERCEPT_MESSAGE`.
#[inline]
pub fn msr(
    header: HvX64InterceptMessageHeader,
    msr: u32,
    gprs: &GuestGprs,
    rax: u64,
) -> HvX64MsrInterceptMessage {
    HvX64MsrInterceptMessage {
        header,
        msr_number: msr,
        reserved: 0,
        rdx: gprs.rdx,
        rax,
    }
}

/// `HV_X64_CPUID_INTERCEPT_MESSAGE`, with the kernel's own answer as the
/// default result.
#[inline]
pub fn cpuid(
    header: HvX64InterceptMessageHeader,
    gprs: &GuestGprs,
    rax: u64,
    default: [u32; 4],
) -> HvX64CpuidInterceptMessage {
    HvX64CpuidInterceptMessage {
        header,
        rax,
        rcx: gprs.rcx,
        rdx: gprs.rdx,
        rbx: gprs.rbx,
        default_result_rax: u64::from(default[0]),
        default_result_rbx: u64::from(default[1]),
        default_result_rcx: u64::from(default[2]),
        default_result_rdx: u64::from(default[3]),
    }
}

/// `HV_X64_MEMORY_INTERCEPT_MESSAGE` for an access to `gpa`.
pub fn memory(
    header: HvX64InterceptMessageHeader,
    gpa: u64,
    instruction: &[u8],
) -> HvX64MemoryInterceptMessage {
    let mut instruction_bytes = [0u8; 16];
    let count = instruction.len().min(16);
    instruction_bytes[..count].copy_from_slice(&instruction[..count]);
    HvX64MemoryInterceptMessage {
        header,
        instruction_byte_count: count as u8,
        memory_access_info: HvX64MemoryAccessInfo::new(),
        guest_physical_address: gpa,
        instruction_bytes,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_exit_protocol::Exit;
    use tessera_svm::segment::SegmentAttributes;

    fn guest() -> (Vmcb, GuestGprs) {
        let mut vmcb = Vmcb::default();
        vmcb.save.rip = 0x10_0000;
        vmcb.save.rflags = 0x202;
        vmcb.save.cr0 = 0x8000_0011;
        vmcb.save.efer = 0x1500;
        vmcb.save.rax = 0xAA;
        vmcb.save.rsp = 0x5000;
        vmcb.save.cs.selector = 0x08;
        vmcb.save.cs.attrib = SegmentAttributes::new().with_l(true).with_p(true);
        let gprs = GuestGprs {
            rcx: 0xCC,
            rdx: 0xDD,
            rbx: 0xBB,
            ..GuestGprs::default()
        };
        (vmcb, gprs)
    }

    #[test]
    fn the_header_describes_the_vp() {
        let (vmcb, _) = guest();
        let header = header(&vmcb, 2, 2, HvInterceptAccessType::EXECUTE);
        assert_eq!(header.vp_index, 2);
        assert_eq!(header.instruction_length, 2);
        assert_eq!(header.rip, 0x10_0000);
        assert_eq!(header.rflags, 0x202);
        assert_eq!(header.cs_segment.selector, 0x08);
        assert!(header.cs_segment.attributes.long());
        assert!(header.execution_state.cr0_pe());
        assert!(header.execution_state.efer_lma());
        assert_eq!(header.execution_state.cpl(), 0);
    }

    proptest::proptest! {
        /// The composed bits are the TLFS bitfield's, field by field,
        /// reserved bits clear.
        #[test]
        fn the_execution_state_is_the_bitfields(
            cpl: u8, cr0: u64, efer: u64, dr7: u64, pending: bool,
        ) {
            let mut vmcb = Vmcb::default();
            vmcb.save.cpl = cpl;
            vmcb.save.cr0 = cr0;
            vmcb.save.efer = efer;
            vmcb.save.dr7 = dr7;
            vmcb.control.exit_int_info.set_valid(pending);
            let expected = HvX64VpExecutionState::new()
                .with_cpl(cpl & 3)
                .with_cr0_pe(cr0 & 1 != 0)
                .with_cr0_am(cr0 & (1 << 18) != 0)
                .with_efer_lma(efer & (1 << 10) != 0)
                .with_debug_active(dr7 & 0xFF != 0)
                .with_interruption_pending(pending);
            proptest::prop_assert_eq!(execution_state(&vmcb), expected);
        }
    }

    #[test]
    fn a_cpuid_message_carries_the_tlfs_body_then_the_asked_registers() {
        let (vmcb, gprs) = guest();
        let header = header(&vmcb, 0, 2, HvInterceptAccessType::EXECUTE);
        let body = cpuid(header, &gprs, vmcb.save.rax, [1, 2, 3, 4]);
        let exit = Exit::Cpuid {
            leaf: 0xAA,
            subleaf: 0xCC,
            default: [1, 2, 3, 4],
        };
        let mut message = EncodedExit::new(&exit, 0);
        message.body(&body);
        registers(&mut message, 0b1001, &gprs, vmcb.save.rax, vmcb.save.rsp);
        assert_eq!(message.words[0], 0x8001_0002);
        // 104 bytes of body are 13 words; then RAX and RBX.
        assert_eq!(message.buffer_words(), 13 + 2);
        assert_eq!(message.buffer()[5], 0xAA, "rax at offset 40");
        assert_eq!(message.buffer()[9], 1, "default eax at offset 72");
        assert_eq!(&message.buffer()[13..], &[0xAA, 0xBB]);
    }

    #[test]
    fn io_and_msr_bodies_keep_their_offsets() {
        let (vmcb, gprs) = guest();
        let header = header(&vmcb, 0, 1, HvInterceptAccessType::WRITE);
        let io = io_port(header, 0x3F8, 1, &gprs, 0x41);
        let mut message = EncodedExit::new(&Exit::ResetRequest, 0);
        message.body(&io);
        assert_eq!(message.buffer_words(), 16);
        assert_eq!(message.buffer()[5] & 0xFFFF, 0x3F8, "port at offset 40");
        assert_eq!((message.buffer()[5] >> 16) & 0xFF, 0b001, "access size");
        assert_eq!(message.buffer()[6], 0x41, "rax at offset 48");
        let msr = msr(header, 0xC000_0080, &gprs, 0x500);
        let mut message = EncodedExit::new(&Exit::ResetRequest, 0);
        message.body(&msr);
        assert_eq!(message.buffer()[5], 0xC000_0080);
        assert_eq!(message.buffer()[6], 0xDD);
        assert_eq!(message.buffer()[7], 0x500);
    }
}
