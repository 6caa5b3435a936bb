//! Fast calls: register input, XMM input when advertised and not, and XMM
//! output.
//!
//! TLFS md `hypercall-interface.md` § XMM Fast Hypercall Input (x86/x64), §
//! XMM Fast Hypercall Output (x86/x64).

use tessera_hv1::hypercall::{
    Caller, FastOutputWrites, Fault, HypercallPolicy, HypercallRegisters, Input, Output, Reject,
    decode,
};
use tlfs::{HvStatus, HypercallCode};

use crate::common::*;

fn without_xmm() -> HypercallPolicy {
    HypercallPolicy {
        xmm_fast_input: false,
        xmm_fast_output: false,
        ..open_policy()
    }
}

const XMM: [u128; 6] = [
    0x1111_1111_1111_1111_0000_0000_0000_0051,
    0x2222_2222_2222_2222_2222_2222_2222_2222,
    0x3333_3333_3333_3333_3333_3333_3333_3333,
    0x4444_4444_4444_4444_4444_4444_4444_4444,
    0x5555_5555_5555_5555_5555_5555_5555_5555,
    0x6666_6666_6666_6666_6666_6666_6666_6666,
];

/// "A second hypercall calling convention … for a subset of hypercalls –
/// in particular, those that have two or fewer input parameters": 16 bytes
/// in RDX and R8, with or without the XMM feature.
#[test]
fn register_fast_input() {
    let signal = control(HypercallCode::SIGNAL_EVENT).with_fast(true);
    for policy in [open_policy(), without_xmm()] {
        let call = decode64(signal, 0x0000_0102_0012_3456, 0xFFFF, &policy).unwrap();
        assert!(call.fast);
        assert_eq!(
            call.input,
            Input::Registers([0x0000_0102_0012_3456, 0xFFFF])
        );
        assert_eq!(call.output, Output::None);
        let mut event = [0; 8];
        call.read_input(&TestMemory::new(), 0, &mut event).unwrap();
        assert_eq!(event, [0x56, 0x34, 0x12, 0x00, 0x02, 0x01, 0x00, 0x00]);
    }
}

/// 24 bytes of HvCallFlushVirtualAddressSpace input: RDX, R8, then the low
/// half of XMM0.
#[test]
fn xmm_fast_input_when_advertised() {
    let flush = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).with_fast(true);
    let regs = regs64(flush.into_bits(), 0xCAFE_0000, 0x3);
    let call = decode(Caller::KERNEL64, &regs, &XMM, &open_policy()).unwrap();
    let Input::Xmm(block) = call.input else {
        panic!("expected XMM input, got {:?}", call.input)
    };
    assert_eq!(&block.0[0..8], &0xCAFE_0000_u64.to_le_bytes());
    assert_eq!(&block.0[8..16], &3_u64.to_le_bytes());
    assert_eq!(&block.0[16..32], &XMM[0].to_le_bytes());
    assert_eq!(&block.0[96..112], &XMM[5].to_le_bytes());
    // The handler reads it like memory input.
    let mut header = [0; 24];
    call.read_header(&TestMemory::new(), &mut header).unwrap();
    assert_eq!(u64::from_le_bytes(header[16..24].try_into().unwrap()), 0x51);
    // Reading past the 24-byte block is refused, even though the
    // registers hold more.
    let mut too_far = [0; 8];
    assert!(
        call.read_input(&TestMemory::new(), 24, &mut too_far)
            .is_err()
    );
}

/// "Any attempt to use this interface when the hypervisor does not
/// indicate availability will result in a #UD fault."
#[test]
fn xmm_fast_input_when_not_advertised() {
    let flush = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).with_fast(true);
    assert_eq!(
        decode64(flush, 0, 0, &without_xmm()),
        Err(Reject::Fault(Fault::InvalidOpcode))
    );
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        .with_fast(true)
        .with_rep_count(1);
    assert_eq!(
        decode64(list, 0, 0, &without_xmm()),
        Err(Reject::Fault(Fault::InvalidOpcode))
    );
}

/// The register block holds 112 bytes: 24 + 11 * 8 fits, 24 + 12 * 8 does
/// not (an input value that cannot be satisfied: INVALID_HYPERCALL_INPUT,
/// a choice — the TLFS names no status).
#[test]
fn xmm_capacity() {
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_fast(true);
    let regs = regs64(list.with_rep_count(11).into_bits(), 0, 0);
    let call = decode(Caller::KERNEL64, &regs, &XMM, &open_policy()).unwrap();
    assert_eq!(call.input_len, 112);
    let mut last = [0; 8];
    call.read_element(&TestMemory::new(), 10, &mut last)
        .unwrap();
    assert_eq!(u64::from_le_bytes(last), 0x6666_6666_6666_6666);

    assert_eq!(
        status_of(decode64(list.with_rep_count(12), 0, 0, &open_policy())),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // 256-byte HvCallPostMessage can never be fast, advertised or not.
    let post = control(HypercallCode::POST_MESSAGE).with_fast(true);
    for policy in [open_policy(), without_xmm()] {
        assert_eq!(
            status_of(decode64(post, 0, 0, &policy)),
            HvStatus::INVALID_HYPERCALL_INPUT
        );
    }
}

/// XMM input is available to 32-bit callers too (the x86 column: EBX:ECX,
/// EDI:ESI, XMM0–XMM5).
#[test]
fn xmm_fast_input_x86() {
    let flush = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).with_fast(true);
    let regs = regs32(
        flush.into_bits(),
        0x0000_0001_0000_2000,
        0x0000_0000_0000_0001,
    );
    let call = decode(Caller::KERNEL32, &regs, &XMM, &open_policy()).unwrap();
    let mut header = [0; 24];
    call.read_header(&TestMemory::new(), &mut header).unwrap();
    assert_eq!(
        u64::from_le_bytes(header[0..8].try_into().unwrap()),
        0x0000_0001_0000_2000
    );
    assert_eq!(u64::from_le_bytes(header[8..16].try_into().unwrap()), 1);
    assert_eq!(u64::from_le_bytes(header[16..24].try_into().unwrap()), 0x51);
}

/// § XMM Fast Hypercall Output: output follows the input "rounded up to the
/// nearest 16 byte aligned chunk"; with no input it starts at RDX.
#[test]
fn xmm_fast_output() {
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES).with_fast(true);
    let call = decode64(caps, 0xAAAA, 0xBBBB, &open_policy()).unwrap();
    assert_eq!(call.input, Input::None);
    assert_eq!(call.output, Output::Registers { offset: 0 });
    let writes = call.fast_output_writes(&0x1F_u64.to_le_bytes()).unwrap();
    assert_eq!(
        writes,
        FastOutputWrites {
            rdx: Some(0x1F),
            ..FastOutputWrites::default()
        }
    );
    let mut regs = HypercallRegisters {
        r8: 0xBBBB,
        ..Default::default()
    };
    writes.apply_gprs(&mut regs);
    assert_eq!((regs.rdx, regs.r8), (0x1F, 0xBBBB));
    // Longer than the output block: refused.
    assert!(call.fast_output_writes(&[0; 9]).is_err());
    // A memory call's output is not in registers.
    let memory_call = decode64(
        control(HypercallCode::EXT_QUERY_CAPABILITIES),
        0,
        OUT_PAGE,
        &open_policy(),
    )
    .unwrap();
    assert!(memory_call.fast_output_writes(&[0; 8]).is_err());
}

/// "Any attempt to use this interface when the hypervisor does not
/// indicate availability will result in a #UD fault", and output "is only
/// supported on x64 platforms".
#[test]
fn xmm_fast_output_not_available() {
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES).with_fast(true);
    let input_only = HypercallPolicy {
        xmm_fast_output: false,
        ..open_policy()
    };
    assert_eq!(
        decode64(caps, 0, 0, &input_only),
        Err(Reject::Fault(Fault::InvalidOpcode))
    );
    let regs = regs32(caps.into_bits(), 0, 0);
    assert_eq!(
        decode(Caller::KERNEL32, &regs, &NO_XMM, &open_policy()),
        Err(Reject::Fault(Fault::InvalidOpcode))
    );
}
