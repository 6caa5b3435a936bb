//! Result values, rep continuation and partial completion.
//!
//! TLFS md `hypercall-interface.md` § Hypercall Classes, § Hypercall
//! Continuation, § Hypercall Outputs, § Volatile Registers (x86/x64).

use tessera_hv1::hypercall::{Caller, CallingConvention, HypercallRegisters, Writeback, decode};
use tlfs::{HvStatus, HypercallCode, HypercallInputValue, HypercallResultValue};

use crate::common::*;

fn list(count: u16, start: u16) -> HypercallInputValue {
    control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        .with_rep_count(count)
        .with_rep_start_index(start)
}

/// "if a caller specifies a rep count of 25, and only 20 iterations are
/// completed within the time constraints, the hypercall returns control
/// back to the calling virtual processor after updating the rep start index
/// to 20. When the hypercall is re-executed, the hypervisor will resume at
/// element 20 and complete the remaining 5 elements."
#[test]
fn tlfs_continuation_example_x64() {
    let first = list(25, 0);
    let mut regs = regs64(first.into_bits(), IN_PAGE, 0);
    regs.rax = 0x1234;
    let call = decode(Caller::KERNEL64, &regs, &NO_XMM, &open_policy()).unwrap();

    let wb = call.complete(HvStatus::SUCCESS, 20);
    // "the instruction pointer is not advanced past the instruction that
    // invoked the hypercall"; "Rep hypercalls will modify RCX (x64) … with
    // the new rep start index."
    assert!(!wb.advance_rip);
    assert_eq!(wb.result, None);
    assert_eq!(wb.control, Some(first.with_rep_start_index(20)));
    wb.apply(CallingConvention::X64, &mut regs);
    assert_eq!(regs.rcx, list(25, 20).into_bits());
    assert_eq!(regs.rax, 0x1234);
    assert_eq!(regs.rdx, IN_PAGE);

    // The guest re-executes the same instruction with the updated RCX.
    let again = decode(Caller::KERNEL64, &regs, &NO_XMM, &open_policy()).unwrap();
    assert_eq!((again.rep_start, again.remaining()), (20, 5));
    let wb = again.complete(HvStatus::SUCCESS, 5);
    assert!(wb.advance_rip);
    assert_eq!(wb.control, None);
    // "the reps complete field is the total number of reps complete and
    // not relative to the rep start index".
    assert_eq!(
        wb.result,
        Some(
            HypercallResultValue::new()
                .with_result(HvStatus::SUCCESS)
                .with_reps_completed(25)
        )
    );
    wb.apply(CallingConvention::X64, &mut regs);
    assert_eq!(regs.rax, 25 << 32);
}

/// The same continuation for a 32-bit caller: the new input value goes to
/// EDX:EAX, and no result value overwrites it.
#[test]
fn continuation_x86() {
    let mut regs = regs32(list(25, 0).into_bits(), IN_PAGE, 0);
    let call = decode(Caller::KERNEL32, &regs, &NO_XMM, &open_policy()).unwrap();
    let wb = call.complete(HvStatus::SUCCESS, 20);
    wb.apply(CallingConvention::X86, &mut regs);
    assert_eq!(
        regs.control(CallingConvention::X86),
        list(25, 20).into_bits()
    );
    let again = decode(Caller::KERNEL32, &regs, &NO_XMM, &open_policy()).unwrap();
    assert_eq!(again.rep_start, 20);
    let wb = again.complete(HvStatus::SUCCESS, 5);
    wb.apply(CallingConvention::X86, &mut regs);
    assert_eq!((regs.rdx, regs.rax), (25, 0));
}

/// "if the caller specified a rep start index of 5, and a rep count of 10,
/// the reps complete field would indicate 10 upon successful completion."
#[test]
fn reps_completed_is_absolute() {
    let call = decode_open(list(10, 5), IN_PAGE, 0).unwrap();
    let wb = call.complete(HvStatus::SUCCESS, 5);
    let result = wb.result.unwrap();
    assert_eq!(result.reps_completed(), 10);
    assert_eq!(result.result(), HvStatus::SUCCESS);
    assert!(wb.advance_rip);
}

/// "If an error is encountered when processing an element, an appropriate
/// status code is provided along with a reps completed count, indicating
/// the number of elements that were successfully processed before the error
/// was encountered."
#[test]
fn error_on_an_element() {
    let call = decode_open(list(10, 4), IN_PAGE, 0).unwrap();
    let wb = call.complete(HvStatus::INVALID_PARAMETER, 3);
    assert!(wb.advance_rip);
    assert_eq!(wb.control, None);
    assert_eq!(wb.result.unwrap().into_bits(), 7 << 32 | 0x0005);
}

#[test]
fn no_progress_and_overshoot() {
    let call = decode_open(list(10, 4), IN_PAGE, 0).unwrap();
    // No element done (a caller suspended for a locked TLB): continue at
    // the same index.
    let wb = call.complete(HvStatus::SUCCESS, 0);
    assert_eq!(wb.control.unwrap().rep_start_index(), 4);
    assert!(!wb.advance_rip);
    // A handler claiming more than was left is clamped.
    let wb = call.complete(HvStatus::SUCCESS, 100);
    assert_eq!(wb.result.unwrap().reps_completed(), 10);
    assert!(wb.advance_rip);
}

#[test]
fn simple_calls_report_zero_reps() {
    let call = decode_open(
        control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE),
        IN_PAGE,
        0,
    )
    .unwrap();
    for status in [HvStatus::SUCCESS, HvStatus::INVALID_PARAMETER] {
        let wb = call.complete(status, 7);
        assert_eq!(wb, Writeback::status(status));
        assert_eq!(wb.result.unwrap().reps_completed(), 0);
        assert!(wb.advance_rip);
    }
    // Reissue: nothing changes, the guest runs the call again.
    let wb = call.reissue();
    assert_eq!((wb.result, wb.control, wb.advance_rip), (None, None, false));
    let mut regs = HypercallRegisters::default();
    wb.apply(CallingConvention::X64, &mut regs);
    assert_eq!(regs, HypercallRegisters::default());
}

/// A rejected call's status goes to RAX / EDX:EAX and RIP moves on.
#[test]
fn status_writeback() {
    let wb = Writeback::status(HvStatus::INVALID_HYPERCALL_CODE);
    assert!(wb.advance_rip);
    let mut regs = HypercallRegisters {
        rax: u64::MAX,
        rdx: u64::MAX,
        ..Default::default()
    };
    wb.apply(CallingConvention::X86, &mut regs);
    assert_eq!((regs.rdx, regs.rax), (0, 2));
    wb.apply(CallingConvention::X64, &mut regs);
    assert_eq!(regs.rax, 2);
}
