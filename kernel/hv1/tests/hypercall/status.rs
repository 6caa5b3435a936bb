//! Every immediate outcome of `decode`, each from a crafted bad input.
//!
//! Quotes are from TLFS md `hypercall-interface.md` unless said otherwise.

use tessera_hv1::hypercall::{
    Caller, CpuMode, Fault, HypercallPolicy, HypercallSet, Input, Output, Reject, decode,
};
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

use crate::common::*;

/// A well-formed memory HvCallFlushVirtualAddressSpace.
fn flush_space() -> HypercallInputValue {
    control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE)
}

#[test]
fn well_formed_memory_call() {
    let call = decode_open(flush_space(), IN_PAGE, 0xFFFF_FFFF_FFFF_FFFF).unwrap();
    assert_eq!(call.code, HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE);
    assert_eq!(call.input, Input::Gpa(IN_PAGE));
    assert_eq!(call.input_len, 24);
    // "If the hypercall involves no input or output parameters, the
    // hypervisor ignores the corresponding GPA pointer."
    assert_eq!(call.output, Output::None);
    assert!(!call.fast);
    assert_eq!((call.rep_count, call.rep_start), (0, 0));
    assert!(!call.is_nested);
}

/// § Legal Hypercall Environments: "protected mode with a current privilege
/// level (CPL) of zero … hypercalls are not allowed in real mode. An attempt
/// to invoke a hypercall within an illegal processor mode will generate a
/// #UD".
#[test]
fn illegal_environments_raise_ud() {
    let regs = regs64(flush_space().into_bits(), IN_PAGE, 0);
    let policy = open_policy();
    let ud = Err(Reject::Fault(Fault::InvalidOpcode));
    for cpl in 1..=3 {
        for mode in [CpuMode::Long64, CpuMode::Protected32] {
            assert_eq!(decode(Caller { cpl, mode }, &regs, &NO_XMM, &policy), ud);
        }
    }
    let real = Caller {
        cpl: 0,
        mode: CpuMode::Real,
    };
    assert_eq!(decode(real, &regs, &NO_XMM, &policy), ud);
    let v86 = Caller {
        cpl: 0,
        mode: CpuMode::Virtual8086,
    };
    assert_eq!(decode(v86, &regs, &NO_XMM, &policy), ud);
    // The environment is checked first: even an unknown code faults.
    let garbage = regs64(u64::MAX, 1, 1);
    assert_eq!(
        decode(
            Caller {
                cpl: 3,
                mode: CpuMode::Long64
            },
            &garbage,
            &NO_XMM,
            &policy
        ),
        ud
    );
}

/// § Common Hypercall Status Codes: HV_STATUS_INVALID_HYPERCALL_CODE, "The
/// hypercall code is not recognized."
#[test]
fn unknown_codes() {
    for code in [0x0000_u16, 0x0001, 0x0004, 0x004E, 0x8000, 0x8002, 0xFFFF] {
        assert_eq!(
            status_of(decode_open(control(HypercallCode(code)), IN_PAGE, 0)),
            HvStatus::INVALID_HYPERCALL_CODE,
            "{code:#06x}"
        );
    }
}

/// A code Tessera implements but did not advertise to this partition is
/// as unknown to it as any other.
#[test]
fn not_advertised() {
    let policy = HypercallPolicy {
        advertised: HypercallSet::all().without(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE),
        ..open_policy()
    };
    assert_eq!(
        status_of(decode64(flush_space(), IN_PAGE, 0, &policy)),
        HvStatus::INVALID_HYPERCALL_CODE
    );
    assert!(decode64(control(HypercallCode::SIGNAL_EVENT), IN_PAGE, 0, &policy).is_ok());
}

/// HvCallPostMessage / HvCallSignalEvent Return Values:
/// "HV_STATUS_ACCESS_DENIED: The caller's partition does not possess the
/// PostMessages [SignalEvents] privilege"; HvExtCallQueryCapabilities:
/// "must be queried using the EnableExtendedHypercalls partition privilege
/// flag".
#[test]
fn advertised_but_not_granted() {
    let policy = HypercallPolicy {
        privileges: HvPartitionPrivilegeMask::new()
            .with_access_hypercall_msrs(true)
            .with_access_vp_index(true),
        ..open_policy()
    };
    for code in [
        HypercallCode::POST_MESSAGE,
        HypercallCode::SIGNAL_EVENT,
        HypercallCode::EXT_QUERY_CAPABILITIES,
    ] {
        assert_eq!(
            status_of(decode64(control(code), IN_PAGE, OUT_PAGE, &policy)),
            HvStatus::ACCESS_DENIED,
            "{code:?}"
        );
    }
    // Only the named privilege matters.
    let policy = HypercallPolicy {
        privileges: HvPartitionPrivilegeMask::new().with_signal_events(true),
        ..open_policy()
    };
    assert!(decode64(control(HypercallCode::SIGNAL_EVENT), IN_PAGE, 0, &policy).is_ok());
    assert_eq!(
        status_of(decode64(
            control(HypercallCode::POST_MESSAGE),
            IN_PAGE,
            0,
            &policy
        )),
        HvStatus::ACCESS_DENIED
    );
    // Calls without a privilege need none.
    assert!(decode64(flush_space(), IN_PAGE, 0, &policy).is_ok());
}

/// § Ordering of Error Conditions: "HV_STATUS_ACCESS_DENIED is the preferred
/// status code over one that would reveal some context or state
/// information".
#[test]
fn access_denied_wins_over_input_errors() {
    let policy = HypercallPolicy {
        privileges: HvPartitionPrivilegeMask::new(),
        ..open_policy()
    };
    let bad = HypercallInputValue::from_bits(
        control(HypercallCode::POST_MESSAGE).into_bits() | 1 << 63 | 5 << 32,
    );
    assert_eq!(
        status_of(decode64(bad, IN_PAGE + 3, 0, &policy)),
        HvStatus::ACCESS_DENIED
    );
}

/// § Hypercall Inputs: RsvdZ bits 30-27, 47-44, 63-60 "Must be zero"; §
/// Common Hypercall Status Codes: "A reserved bit in the specified
/// hypercall input value is non-zero."
#[test]
fn reserved_bits() {
    for bit in (27..=30).chain(44..=47).chain(60..=63) {
        let raw = flush_space().into_bits() | 1 << bit;
        assert_eq!(
            status_of(decode_open(HypercallInputValue::from_bits(raw), IN_PAGE, 0)),
            HvStatus::INVALID_HYPERCALL_INPUT,
            "bit {bit}"
        );
    }
    // Bit 31 is Is Nested in the Markdown edition (TLFS 6.0b put it at bit
    // 26 and reserved 31:27); it is accepted and reported.
    let nested = flush_space().with_is_nested(true);
    assert!(decode_open(nested, IN_PAGE, 0).unwrap().is_nested);
}

/// § Variable Sized Hypercall Input Headers: "It is illegal to specify a
/// non-zero variable header size for a hypercall that is not explicitly
/// documented as accepting variable sized input headers. In such a case
/// the hypercall will result in a return code of
/// HV_STATUS_INVALID_HYPERCALL_INPUT."
#[test]
fn variable_header_only_where_documented() {
    for code in [
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE,
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST,
        HypercallCode::NOTIFY_LONG_SPIN_WAIT,
        HypercallCode::POST_MESSAGE,
        HypercallCode::SIGNAL_EVENT,
        HypercallCode::EXT_QUERY_CAPABILITIES,
    ] {
        let mut value = control(code).with_variable_header_size(1);
        if code.class() == Some(tlfs::hypercall::HypercallClass::Rep) {
            value = value.with_rep_count(1);
        }
        assert_eq!(
            status_of(decode_open(value, IN_PAGE, OUT_PAGE)),
            HvStatus::INVALID_HYPERCALL_INPUT,
            "{code:?}"
        );
    }
    // The Ex flushes take HV_VP_SET.BankContents[] as the variable header.
    let ex = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX).with_variable_header_size(3);
    let call = decode_open(ex, IN_PAGE, 0).unwrap();
    assert_eq!(call.variable_header_bytes, 24);
    assert_eq!(call.header_len(), 32 + 24);
    assert_eq!(call.input_len, 56);
}

/// § Hypercall Inputs: Rep Count "(for rep call, must be zero otherwise)",
/// Rep Start Index "(for rep call, must be zero otherwise)"; § Common
/// Hypercall Status Codes: "a non-zero rep count is passed to a non-rep
/// call".
#[test]
fn rep_fields_on_simple_calls() {
    let with_count = flush_space().with_rep_count(1);
    assert_eq!(
        status_of(decode_open(with_count, IN_PAGE, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
    let with_start = flush_space().with_rep_start_index(1);
    assert_eq!(
        status_of(decode_open(with_start, IN_PAGE, 0)),
        HvStatus::INVALID_HYPERCALL_INPUT
    );
}

/// § Common Hypercall Status Codes: "a zero rep count is passed to a rep
/// call", "The rep start index is not less than the rep count."; §
/// Hypercall Inputs: "the rep count value must always be greater than the
/// rep start index".
#[test]
fn rep_count_rules() {
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST);
    for (count, start) in [(0, 0), (3, 3), (3, 4), (0, 1), (0xFFF, 0xFFF)] {
        let value = list.with_rep_count(count).with_rep_start_index(start);
        assert_eq!(
            status_of(decode_open(value, IN_PAGE, 0)),
            HvStatus::INVALID_HYPERCALL_INPUT,
            "count {count} start {start}"
        );
    }
    let call = decode_open(list.with_rep_count(3).with_rep_start_index(2), IN_PAGE, 0).unwrap();
    assert_eq!(
        (call.rep_count, call.rep_start, call.remaining()),
        (3, 2, 1)
    );
    assert_eq!(call.input_len, 24 + 3 * 8);
}

/// § Alignment Requirements: "GPA pointers must be 8-byte aligned"; §
/// Common Hypercall Status Codes: HV_STATUS_INVALID_ALIGNMENT, "The
/// specified input or output GPA pointer is not aligned to 8 bytes."
#[test]
fn misaligned_gpas() {
    for offset in 1..8 {
        assert_eq!(
            status_of(decode_open(flush_space(), IN_PAGE + offset, 0)),
            HvStatus::INVALID_ALIGNMENT
        );
        let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
        assert_eq!(
            status_of(decode_open(caps, 0, OUT_PAGE + offset)),
            HvStatus::INVALID_ALIGNMENT
        );
        // A block the call does not have is not checked.
        assert!(decode_open(caps, IN_PAGE + offset, OUT_PAGE).is_ok());
        assert!(decode_open(flush_space(), IN_PAGE, OUT_PAGE + offset).is_ok());
    }
}

/// § Common Hypercall Status Codes: HV_STATUS_INVALID_ALIGNMENT, "The
/// specified input or output parameter lists span pages."
#[test]
fn page_crossing_is_invalid_alignment() {
    assert_eq!(
        status_of(decode_open(flush_space(), IN_PAGE + 0xFF0, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
}
