//! Both calling conventions, and masking of the call code.
//!
//! TLFS md `hypercall-interface.md` § Hypercall Register Conventions
//! (x86/x64): RCX / EDX:EAX input value, RDX / EBX:ECX input, R8 / EDI:ESI
//! output.

use tessera_hv1::hypercall::{
    Caller, CallingConvention, CpuMode, HypercallRegisters, Input, Output, decode,
};
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

use crate::common::*;

const GARBAGE: u64 = 0xA5A5_A5A5_0000_0000;

#[test]
fn x64_memory_call() {
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
    let call = decode_open(caps, 0x1234_5678, OUT_PAGE).unwrap();
    assert_eq!(call.convention, CallingConvention::X64);
    assert_eq!(call.input, Input::None);
    assert_eq!(call.output, Output::Gpa(OUT_PAGE));
    assert_eq!(call.output_len, 8);
}

#[test]
fn x86_memory_call() {
    // A GPA above 4 GiB needs both halves of EBX:ECX.
    let in_gpa = 0x0000_0001_0000_1000;
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(2);
    let regs = regs32(list.into_bits(), in_gpa, 0);
    let call = decode(Caller::KERNEL32, &regs, &NO_XMM, &open_policy()).unwrap();
    assert_eq!(call.convention, CallingConvention::X86);
    assert_eq!(call.input, Input::Gpa(in_gpa));
    assert_eq!(call.rep_count, 2);

    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
    let out_gpa = 0x0000_0002_0000_0FF8;
    let regs = regs32(caps.into_bits(), 0, out_gpa);
    let call = decode(Caller::KERNEL32, &regs, &NO_XMM, &open_policy()).unwrap();
    assert_eq!(call.output, Output::Gpa(out_gpa));
}

/// Compatibility mode is a 32-bit caller: "If both of these flags [EFER.LMA
/// and CS.L] are set, the caller is assumed to be a 64-bit caller."
#[test]
fn compatibility_mode_uses_x86_registers() {
    let mode = CpuMode::from_state(true, false, true, false);
    assert_eq!(mode, CpuMode::Protected32);
    let signal = control(HypercallCode::SIGNAL_EVENT).with_fast(true);
    // R8 and the upper half of RCX (the x64 view) hold nonsense; the x86
    // registers hold the call.
    let regs = HypercallRegisters {
        rcx: 0xFFFF_FFFF_0000_0042,
        r8: u64::MAX,
        ..regs32(signal.into_bits(), 0x0000_0007_0000_0042, 0)
    };
    let call = decode(Caller { cpl: 0, mode }, &regs, &NO_XMM, &open_policy()).unwrap();
    assert_eq!(call.code, HypercallCode::SIGNAL_EVENT);
    assert_eq!(call.input, Input::Registers([0x0000_0007_0000_0042, 0]));
}

/// The call code is bits 15:0; the rest of the input value never changes
/// which call is looked up.
#[test]
fn code_is_masked_before_lookup() {
    // Fast bit (16) set: still HvCallSignalEvent.
    let call = decode_open(HypercallInputValue::from_bits(0x1_005D), 7, 0).unwrap();
    assert_eq!(call.code, HypercallCode::SIGNAL_EVENT);
    // Garbage in the rep count (bits 43:32) of a simple call: the code is
    // found, and the rep count is what is wrong.
    let raw = HypercallInputValue::from_bits(0x0000_0ABC_0000_005D);
    assert_eq!(
        status_of(decode_open(raw, IN_PAGE, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // Every high bit set over a known code: found, then rejected for its
    // reserved bits, not for its code.
    let raw = HypercallInputValue::from_bits(0xFFFF_FFFF_FFFF_0002);
    assert_eq!(
        status_of(decode_open(raw, IN_PAGE, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    // An unknown low half stays unknown whatever the high bits.
    let raw = HypercallInputValue::from_bits(0x0000_0000_0001_1002);
    assert_eq!(
        status_of(decode_open(raw, IN_PAGE, 0)),
        HvStatus::INVALID_HYPERCALL_CODE
    );
}

/// A 32-bit caller's registers are 32 bits: whatever the upper halves of
/// RAX, RDX, RBX, RCX, RSI and RDI hold (left over from 64-bit code) is
/// ignored.
#[test]
fn x86_ignores_upper_register_halves() {
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(1);
    let clean = regs32(list.into_bits(), IN_PAGE, 0);
    let dirty = HypercallRegisters {
        rax: clean.rax | GARBAGE,
        rdx: clean.rdx | GARBAGE,
        rbx: clean.rbx | GARBAGE,
        rcx: clean.rcx | GARBAGE,
        rsi: clean.rsi | GARBAGE,
        rdi: clean.rdi | GARBAGE,
        r8: u64::MAX,
    };
    let a = decode(Caller::KERNEL32, &clean, &NO_XMM, &open_policy()).unwrap();
    let b = decode(Caller::KERNEL32, &dirty, &NO_XMM, &open_policy()).unwrap();
    assert_eq!(a, b);
    assert_eq!(b.input, Input::Gpa(IN_PAGE));
    // The same garbage in 64-bit mode is part of the values.
    let dirty64 = regs64(list.into_bits() | GARBAGE, IN_PAGE, 0);
    assert_eq!(
        status_of(decode(Caller::KERNEL64, &dirty64, &NO_XMM, &open_policy())),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
}
