//! The kernel's hypercall entry (`dispatch`) against the TLFS text: the
//! calls of issue 5, their statuses, rep continuation and the flush
//! requests they produce.

#[allow(dead_code)]
#[path = "hypercall/common.rs"]
mod common;

use common::{IN_PAGE, NO_XMM, OUT_PAGE, TestMemory, control, regs32, regs64};
use tessera_hv1::cpuid::Hv1Config;
use tessera_hv1::dispatch::{
    Action, AddressSpaces, Completion, DispatchPolicy, FlushProcessors, FlushRequest, FlushScope,
    GvaRange, MAX_FLUSH_RANGES, Outcome, VpSet, dispatch, unrouted,
};
use tessera_hv1::hypercall::{
    Access, Caller, CallingConvention, CpuMode, Fault, HypercallRegisters,
};
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

/// `hv-tlbflush` (remote flush + ExProcessorMasks) and XMM input.
fn flush_config() -> Hv1Config {
    Hv1Config::from_features(["hv-tlbflush", "hv-xmm-input"]).unwrap()
}

fn policy(config: &Hv1Config) -> DispatchPolicy {
    DispatchPolicy::from_config(config)
}

fn run(
    policy: &DispatchPolicy,
    caller: Caller,
    regs: &HypercallRegisters,
    xmm: &[u128; 6],
    memory: &mut TestMemory,
) -> Outcome {
    dispatch(caller, regs, xmm, memory, policy, true)
}

/// A 64-bit memory call.
fn run64(
    policy: &DispatchPolicy,
    control: HypercallInputValue,
    memory: &mut TestMemory,
) -> Outcome {
    run(
        policy,
        Caller::KERNEL64,
        &regs64(control.into_bits(), IN_PAGE, OUT_PAGE),
        &NO_XMM,
        memory,
    )
}

fn completion(outcome: Outcome) -> Completion {
    match outcome {
        Outcome::Complete(c) => c,
        other => panic!("expected a completion, got {other:?}"),
    }
}

fn status(outcome: Outcome) -> HvStatus {
    completion(outcome)
        .result_status()
        .expect("a completed call")
}

fn flush_of(outcome: Outcome) -> FlushRequest {
    let c = completion(outcome);
    assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
    match c.action {
        Action::Flush(request) => request,
        other => panic!("expected a flush, got {other:?}"),
    }
}

fn set(vps: &[u32]) -> FlushProcessors {
    let mut set = VpSet::EMPTY;
    for &vp in vps {
        assert!(set.insert(vp));
    }
    FlushProcessors::Set(set)
}

const CR3: u64 = 0x0000_0001_2345_6000;
const ALL_PROCESSORS: u64 = 1;
const ALL_SPACES: u64 = 2;
const NON_GLOBAL: u64 = 4;
const EXTENDED_RANGES: u64 = 8;

// --- Environment -------------------------------------------------------------

/// md `hypercall-interface.md` § Legal Hypercall Environments ("#UD"), and
/// the Choice that a hypercall before the hypercall page is #UD.
#[test]
fn faults() {
    let p = policy(&flush_config());
    let mut memory = TestMemory::new();
    let regs = regs64(
        control(HypercallCode::NOTIFY_LONG_SPIN_WAIT)
            .with_fast(true)
            .into_bits(),
        0,
        0,
    );
    let disabled = dispatch(Caller::KERNEL64, &regs, &NO_XMM, &mut memory, &p, false);
    assert_eq!(disabled, Outcome::Fault(Fault::InvalidOpcode));
    let user = Caller {
        cpl: 3,
        mode: CpuMode::Long64,
    };
    assert_eq!(
        run(&p, user, &regs, &NO_XMM, &mut memory),
        Outcome::Fault(Fault::InvalidOpcode)
    );
    let real = Caller {
        cpl: 0,
        mode: CpuMode::Real,
    };
    assert_eq!(
        run(&p, real, &regs, &NO_XMM, &mut memory),
        Outcome::Fault(Fault::InvalidOpcode)
    );
    // Enabled and legal: success.
    assert_eq!(
        status(run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory)),
        HvStatus::SUCCESS
    );
}

// --- HvCallNotifyLongSpinWait -----------------------------------------------

/// `HvCallNotifyLongSpinWait.md`: "There is no error status for this
/// hypercall, only HV_STATUS_SUCCESS will be returned as this is an
/// advisory hypercall."
#[test]
fn long_spin_wait_always_succeeds() {
    let p = policy(&Hv1Config::minimal());
    let mut memory = TestMemory::new();
    let fast = control(HypercallCode::NOTIFY_LONG_SPIN_WAIT).with_fast(true);
    // Any SpinCount, RsvdZ half set too.
    for rdx in [0, 0xFFF, u64::MAX] {
        let c = completion(run(
            &p,
            Caller::KERNEL64,
            &regs64(fast.into_bits(), rdx, 0x1234),
            &NO_XMM,
            &mut memory,
        ));
        assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
        assert_eq!(c.reps_completed(), Some(0));
        assert_eq!(c.action, Action::LongSpinWait);
        assert!(c.writeback.advance_rip);
        assert_eq!(c.fast_output, None);
    }
    // Memory form: the advisory input is fetched like any call's, so a
    // readable block succeeds, a GPA outside the GPA space gets the
    // parameter status, and an unmapped one inside it a memory intercept.
    let memory_form = |gpa| {
        regs64(
            control(HypercallCode::NOTIFY_LONG_SPIN_WAIT).into_bits(),
            gpa,
            0,
        )
    };
    let c = completion(run(
        &p,
        Caller::KERNEL64,
        &memory_form(IN_PAGE),
        &NO_XMM,
        &mut memory,
    ));
    assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
    assert_eq!(
        status(run(
            &p,
            Caller::KERNEL64,
            &memory_form(0x1_0000_0000),
            &NO_XMM,
            &mut memory
        )),
        HvStatus::INVALID_ALIGNMENT
    );
    assert!(matches!(
        run(
            &p,
            Caller::KERNEL64,
            &memory_form(0x1000_0000),
            &NO_XMM,
            &mut memory
        ),
        Outcome::MemoryIntercept {
            gpa: 0x1000_0000,
            ..
        }
    ));
    // A 32-bit caller gets EDX:EAX = 0.
    let mut regs = regs32(fast.into_bits(), 100, 0);
    // Garbage in the upper half, which a 32-bit caller cannot see.
    regs.rax |= 0xFFFF_FFFF_0000_0000;
    let c = completion(run(&p, Caller::KERNEL32, &regs, &NO_XMM, &mut memory));
    assert_eq!(c.convention, CallingConvention::X86);
    c.apply(&mut regs);
    assert_eq!((regs.rdx, regs.rax), (0, 0));
}

// --- Unknown, unadvertised and denied calls ---------------------------------

/// md § Common Hypercall Status Codes: HV_STATUS_INVALID_HYPERCALL_CODE,
/// "The hypercall code is not recognized."
#[test]
fn unimplemented_calls_are_invalid_codes() {
    let mut open = flush_config();
    open.privileges = open
        .privileges
        .with_post_messages(true)
        .with_signal_events(true)
        .with_enable_extended_hypercalls(true);
    let p = policy(&open);
    let mut memory = TestMemory::new();
    for code in [
        HypercallCode::SWITCH_VIRTUAL_ADDRESS_SPACE,
        HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI,
        HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX,
        HypercallCode::RETARGET_DEVICE_INTERRUPT,
        HypercallCode::GET_VP_REGISTERS,
        HypercallCode::EXT_GET_BOOT_ZEROED_MEMORY,
        HypercallCode(0x0000),
        HypercallCode(0xFFFF),
    ] {
        assert_eq!(
            status(run64(&p, control(code), &mut memory)),
            HvStatus::INVALID_HYPERCALL_CODE,
            "{code:?}"
        );
    }
}

/// The flush calls exist only when leaf 0x40000004 recommends them; the
/// …Ex ones only with UseExProcessorMasks ("UseExProcessorMasks must be
/// indicated", `HvCallFlushVirtualAddressSpaceEx.md`).
#[test]
fn flush_calls_follow_the_recommendations() {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &[CR3, ALL_PROCESSORS, 0, 0]);
    let space = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE);
    let space_ex = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX);
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(1);
    let list_ex = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX).with_rep_count(1);

    let minimal = policy(&Hv1Config::minimal());
    for c in [space, space_ex, list, list_ex] {
        assert_eq!(
            status(run64(&minimal, c, &mut memory)),
            HvStatus::INVALID_HYPERCALL_CODE
        );
    }
    let mut local = Hv1Config::minimal();
    local.recommendations = local
        .recommendations
        .with_use_hypercall_for_local_flush(true);
    let local = policy(&local);
    assert_eq!(status(run64(&local, space, &mut memory)), HvStatus::SUCCESS);
    assert_eq!(status(run64(&local, list, &mut memory)), HvStatus::SUCCESS);
    assert_eq!(
        status(run64(&local, space_ex, &mut memory)),
        HvStatus::INVALID_HYPERCALL_CODE
    );
    let full = policy(&flush_config());
    for c in [space, space_ex, list, list_ex] {
        assert_eq!(status(run64(&full, c, &mut memory)), HvStatus::SUCCESS);
    }
}

/// `HvCallPostMessage.md` / `HvCallSignalEvent.md`: ACCESS_DENIED without
/// the privilege; with it the call goes to the SynIC component.
#[test]
fn synic_calls_are_denied_or_forwarded() {
    let mut memory = TestMemory::new();
    let post = control(HypercallCode::POST_MESSAGE);
    let signal = control(HypercallCode::SIGNAL_EVENT).with_fast(true);
    let p = policy(&Hv1Config::minimal());
    assert_eq!(
        status(run64(&p, post, &mut memory)),
        HvStatus::ACCESS_DENIED
    );
    assert_eq!(
        status(run64(&p, signal, &mut memory)),
        HvStatus::ACCESS_DENIED
    );

    let mut granted = Hv1Config::minimal();
    granted.privileges = granted
        .privileges
        .with_post_messages(true)
        .with_signal_events(true);
    let p = policy(&granted);
    for c in [post, signal] {
        let Outcome::Forward(call) = run64(&p, c, &mut memory) else {
            panic!("expected a forward");
        };
        assert_eq!(call.code, c.call_code());
        // No SynIC component: no connection exists.
        let done = unrouted(&call);
        assert_eq!(done.result_status(), Some(HvStatus::INVALID_CONNECTION_ID));
        assert!(done.writeback.advance_rip);
    }
}

// --- HvExtCallQueryCapabilities ------------------------------------------------

fn ext_config(xmm_output: bool) -> Hv1Config {
    let mut config = Hv1Config::minimal();
    config.privileges = config.privileges.with_enable_extended_hypercalls(true);
    config.features_edx = config
        .features_edx
        .with_fast_hypercall_output_available(xmm_output);
    config
}

/// `HvExtCallQueryCapabilities.md`: "Bitmask of supported extended
/// hypercalls"; none is supported, so it is 0.
#[test]
fn query_capabilities() {
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
    let mut memory = TestMemory::new();
    // Without EnableExtendedHypercalls: ACCESS_DENIED.
    assert_eq!(
        status(run64(&policy(&Hv1Config::minimal()), caps, &mut memory)),
        HvStatus::ACCESS_DENIED
    );
    // Memory output: 8 zero bytes written over the guest's garbage.
    let p = policy(&ext_config(false));
    memory.put(OUT_PAGE, &[0xFF; 16]);
    let c = completion(run64(&p, caps, &mut memory));
    assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
    assert_eq!(c.action, Action::None);
    assert_eq!(
        &memory.bytes[OUT_PAGE as usize..][..16],
        &[
            0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF
        ]
    );
    // Output GPA unmapped (inside the GPA space): a memory intercept.
    let regs = regs64(caps.into_bits(), 0, 0x1000_0000);
    match run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory) {
        Outcome::MemoryIntercept { call, gpa, access } => {
            assert_eq!((gpa, access), (0x1000_0000, Access::Write));
            assert_eq!(call.code, HypercallCode::EXT_QUERY_CAPABILITIES);
        }
        other => panic!("{other:?}"),
    }
    // Beyond the GPA space: HV_STATUS_INVALID_ALIGNMENT (md § Common
    // Hypercall Status Codes).
    let regs = regs64(caps.into_bits(), 0, 0x4000_0000);
    assert_eq!(
        status(run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory)),
        HvStatus::INVALID_ALIGNMENT
    );
    // Fast without XMM output: #UD (md § XMM Fast Hypercall Output).
    let fast = caps.with_fast(true);
    let regs = regs64(fast.into_bits(), 7, 7);
    assert_eq!(
        run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory),
        Outcome::Fault(Fault::InvalidOpcode)
    );
    // Fast with XMM output: RDX receives the 8 bytes.
    let p = policy(&ext_config(true));
    let mut regs = regs64(fast.into_bits(), 7, 7);
    let c = completion(run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory));
    assert_eq!(c.result_status(), Some(HvStatus::SUCCESS));
    let out = c.fast_output.expect("fast output");
    assert_eq!(out.rdx, Some(0));
    assert_eq!(out.r8, None);
    assert_eq!(out.xmm, [None; 6]);
    c.apply(&mut regs);
    assert_eq!((regs.rax, regs.rdx, regs.r8), (0, 0, 7));
}

// --- HvCallFlushVirtualAddressSpace ----------------------------------------------

fn flush_space(p: &DispatchPolicy, header: [u64; 3]) -> Outcome {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &header);
    run64(
        p,
        control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE),
        &mut memory,
    )
}

/// `HvCallFlushVirtualAddressSpace.md`: "a mask of 0x0000000000000051
/// indicates that the hypervisor should flush only the TLB of virtual
/// processors 0, 4, and 6."
#[test]
fn flush_space_mask_example() {
    let p = policy(&flush_config());
    let outcome = flush_space(&p, [CR3, 0, 0x51]);
    let c = completion(outcome);
    assert_eq!(c.reps_completed(), Some(0));
    assert!(c.writeback.advance_rip);
    assert_eq!(
        flush_of(outcome),
        FlushRequest {
            processors: set(&[0, 4, 6]),
            address_spaces: AddressSpaces::One(CR3),
            non_global_only: false,
            scope: FlushScope::Entire,
        }
    );
}

/// "HV_FLUSH_ALL_PROCESSORS … If this flag is set, the ProcessorMask
/// parameter is ignored"; "HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES … the
/// AddressSpace parameter is ignored"; NON_GLOBAL_MAPPINGS_ONLY is passed
/// on.
#[test]
fn flush_space_flags() {
    let p = policy(&flush_config());
    let request = flush_of(flush_space(
        &p,
        [u64::MAX, ALL_PROCESSORS | ALL_SPACES | NON_GLOBAL, 0],
    ));
    assert_eq!(request.processors, FlushProcessors::All);
    assert_eq!(request.address_spaces, AddressSpaces::All);
    assert!(request.non_global_only);
    assert_eq!(request.scope, FlushScope::Entire);
}

/// TLFS 6.0b §9.4 HvFlushVirtualAddressSpace, Return Values: each
/// HV_STATUS_INVALID_PARAMETER condition.
#[test]
fn flush_space_invalid_parameters() {
    let p = policy(&flush_config());
    let invalid = |header| status(flush_space(&p, header));
    // "All of the bits in the processor bit mask are set to zero, and the
    // 'flush all processors' flag was not specified."
    assert_eq!(invalid([CR3, 0, 0]), HvStatus::INVALID_PARAMETER);
    // "One or more reserved bits within the flags register are set."
    for bit in [4, 31, 32, 63] {
        assert_eq!(
            invalid([CR3, ALL_PROCESSORS | 1 << bit, 0]),
            HvStatus::INVALID_PARAMETER,
            "flag bit {bit}"
        );
    }
    // Choice: USE_EXTENDED_RANGE_FORMAT without
    // ExtendedGvaRangesForFlushVirtualAddressListAvailable.
    assert_eq!(
        invalid([CR3, ALL_PROCESSORS | EXTENDED_RANGES, 0]),
        HvStatus::INVALID_PARAMETER
    );
    // "One or more reserved bits in the specified address space ID (as
    // defined by the x64 architecture) were set": CR3 bits 63:52.
    assert_eq!(
        invalid([1 << 52 | CR3, ALL_PROCESSORS, 0]),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(
        invalid([1 << 63, ALL_PROCESSORS, 0]),
        HvStatus::INVALID_PARAMETER
    );
    // … unless all address spaces are flushed.
    assert_eq!(
        invalid([1 << 63, ALL_PROCESSORS | ALL_SPACES, 0]),
        HvStatus::SUCCESS
    );
    // Low CR3 bits (PCID, PWT/PCD) are not reserved.
    assert_eq!(invalid([CR3 | 0xFFF, 1, 0]), HvStatus::SUCCESS);
    // With a reported MAXPHYADDR of 40, bit 40 is reserved.
    let mut narrow = flush_config();
    narrow.implemented_physical_address_bits = 40;
    let narrow = policy(&narrow);
    assert_eq!(
        status(flush_space(&narrow, [1 << 40, ALL_PROCESSORS, 0])),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(
        status(flush_space(
            &narrow,
            [(1 << 40) - 0x1000, ALL_PROCESSORS, 0]
        )),
        HvStatus::SUCCESS
    );
}

/// With ExtendedGvaRangesForFlushVirtualAddressListAvailable the flag is
/// accepted (it only matters to the list calls).
#[test]
fn flush_space_extended_flag_when_advertised() {
    let p = policy(&Hv1Config::from_features(["hv-tlbflush", "hv-tlbflush-ext"]).unwrap());
    let request = flush_of(flush_space(&p, [CR3, EXTENDED_RANGES, 1]));
    assert_eq!(request.scope, FlushScope::Entire);
    assert_eq!(request.processors, set(&[0]));
}

#[test]
fn flush_space_parameter_access() {
    let p = policy(&flush_config());
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE);
    let mut memory = TestMemory::new();
    // Unmapped input page inside the GPA space: memory intercept (read).
    let regs = regs64(c.into_bits(), 0x1000_0000, 0);
    match run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory) {
        Outcome::MemoryIntercept { gpa, access, call } => {
            assert_eq!((gpa, access), (0x1000_0000, Access::Read));
            assert_eq!(call.code, HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE);
        }
        other => panic!("{other:?}"),
    }
    // Misaligned: HV_STATUS_INVALID_ALIGNMENT ("not aligned to 8 bytes").
    let regs = regs64(c.into_bits(), IN_PAGE + 4, 0);
    assert_eq!(
        status(run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory)),
        HvStatus::INVALID_ALIGNMENT
    );
    // XMM fast form: RDX = AddressSpace, R8 = Flags, XMM0[63:0] = mask.
    let regs = regs64(c.with_fast(true).into_bits(), CR3, 0);
    let xmm = [0x8000_0000_0000_0001_u128, 0, 0, 0, 0, 0];
    let request = flush_of(run(&p, Caller::KERNEL64, &regs, &xmm, &mut memory));
    assert_eq!(request.processors, set(&[0, 63]));
    assert_eq!(request.address_spaces, AddressSpaces::One(CR3));
    // The same from a 32-bit caller: EBX:ECX, EDI:ESI.
    let regs = regs32(c.with_fast(true).into_bits(), CR3, ALL_SPACES);
    let request = flush_of(run(&p, Caller::KERNEL32, &regs, &xmm, &mut memory));
    assert_eq!(request.address_spaces, AddressSpaces::All);
}

// --- HvCallFlushVirtualAddressList (rep) -------------------------------------------

/// The list elements: page `i` of a range, `i` additional pages.
fn elements(n: u64) -> Vec<u64> {
    (0..n)
        .map(|i| (0x7FF0_0000_0000 + (i << 20)) | (i & 0xFFF))
        .collect()
}

fn list_memory(header: [u64; 3], elements: &[u64]) -> TestMemory {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &header);
    memory.put_qwords(IN_PAGE + 24, elements);
    memory
}

#[test]
fn flush_list_small() {
    let p = policy(&flush_config());
    let elems = elements(3);
    let mut memory = list_memory([CR3, 0, 0b110], &elems);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(3);
    let outcome = run64(&p, c, &mut memory);
    assert_eq!(completion(outcome).reps_completed(), Some(3));
    let request = flush_of(outcome);
    assert_eq!(request.processors, set(&[1, 2]));
    let FlushScope::Ranges(ranges) = request.scope else {
        panic!("expected ranges");
    };
    assert!(
        ranges
            .iter()
            .eq(elems.iter().map(|&e| GvaRange::from_element(e)))
    );
    assert_eq!(ranges.get(2).unwrap().pages, 3);
}

/// md § Hypercall Classes: "if a caller specifies a rep count of 25, and
/// only 20 iterations are completed … the hypercall returns control back to
/// the calling virtual processor after updating the rep start index"; §
/// Hypercall Continuation: "the instruction pointer is not advanced".
#[test]
fn flush_list_continues_in_batches() {
    let p = policy(&flush_config());
    let total = 40_u16;
    let elems = elements(u64::from(total));
    let mut memory = list_memory([CR3, ALL_PROCESSORS, 0], &elems);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(total);
    let mut regs = regs64(c.into_bits(), IN_PAGE, 0);
    regs.rax = 0xAAAA;
    let mut flushed = Vec::new();
    let mut executions = 0;
    loop {
        executions += 1;
        let outcome = run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory);
        let done = completion(outcome);
        let FlushScope::Ranges(ranges) = flush_of_any(outcome).scope else {
            panic!("ranges");
        };
        assert!(ranges.len() <= MAX_FLUSH_RANGES);
        flushed.extend(ranges.iter());
        done.apply(&mut regs);
        if done.writeback.advance_rip {
            assert_eq!(done.result_status(), Some(HvStatus::SUCCESS));
            // "Reps completed … total, not relative to the rep start index".
            assert_eq!(done.reps_completed(), Some(total));
            assert_eq!(regs.rax & 0xFFFF, 0);
            assert_eq!(regs.rax >> 32 & 0xFFF, u64::from(total));
            break;
        }
        // Continuation: RCX carries the new start index, RAX untouched.
        assert_eq!(done.result_status(), None);
        let start = HypercallInputValue::from_bits(regs.rcx).rep_start_index();
        assert_eq!(usize::from(start), flushed.len());
        assert_eq!(regs.rax, 0xAAAA);
    }
    assert_eq!(executions, 3);
    assert!(
        flushed
            .iter()
            .copied()
            .eq(elems.iter().map(|&e| GvaRange::from_element(e)))
    );
}

/// Like `flush_of`, without requiring a result (continuations have none).
fn flush_of_any(outcome: Outcome) -> FlushRequest {
    match completion(outcome).action {
        Action::Flush(request) => request,
        other => panic!("expected a flush, got {other:?}"),
    }
}

/// The guest resumes a list at its rep start index; a 32-bit caller's
/// continuation is in EDX:EAX.
#[test]
fn flush_list_rep_start_and_x86_continuation() {
    let p = policy(&flush_config());
    let elems = elements(20);
    let mut memory = list_memory([CR3, ALL_PROCESSORS, 0], &elems);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        .with_rep_count(20)
        .with_rep_start_index(17);
    let outcome = run64(&p, c, &mut memory);
    let FlushScope::Ranges(ranges) = flush_of(outcome).scope else {
        panic!()
    };
    assert!(
        ranges
            .iter()
            .eq(elems[17..].iter().map(|&e| GvaRange::from_element(e)))
    );
    assert_eq!(completion(outcome).reps_completed(), Some(20));

    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(20);
    let mut regs = regs32(c.into_bits(), IN_PAGE, 0);
    let done = completion(run(&p, Caller::KERNEL32, &regs, &NO_XMM, &mut memory));
    assert!(!done.writeback.advance_rip);
    done.apply(&mut regs);
    let value = (regs.rdx << 32) | regs.rax;
    assert_eq!(
        HypercallInputValue::from_bits(value).rep_start_index(),
        MAX_FLUSH_RANGES as u16
    );
    assert_eq!(
        HypercallInputValue::from_bits(value).call_code(),
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST
    );
}

/// "HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY does not make sense for this call and
/// is treated as an invalid option"; a failed rep call reports the reps
/// completed before it (here the rep start index).
#[test]
fn flush_list_invalid_parameters() {
    let p = policy(&flush_config());
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        .with_rep_count(4)
        .with_rep_start_index(2);
    for header in [
        [CR3, ALL_PROCESSORS | NON_GLOBAL, 0],
        [CR3, 0, 0],
        [CR3, ALL_PROCESSORS | 1 << 40, 0],
        [CR3, ALL_PROCESSORS | EXTENDED_RANGES, 0],
    ] {
        let mut memory = list_memory(header, &elements(4));
        let done = completion(run64(&p, c, &mut memory));
        assert_eq!(
            done.result_status(),
            Some(HvStatus::INVALID_PARAMETER),
            "{header:x?}"
        );
        assert_eq!(done.reps_completed(), Some(2));
        assert!(done.writeback.advance_rip);
        assert_eq!(done.action, Action::None);
    }
}

/// With the extended range format (element layout not in the reference)
/// the whole address space is flushed and every element completes.
#[test]
fn flush_list_extended_format_widens() {
    let p = policy(&Hv1Config::from_features(["hv-tlbflush", "hv-tlbflush-ext"]).unwrap());
    let mut memory = list_memory([CR3, ALL_PROCESSORS | EXTENDED_RANGES, 0], &elements(100));
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(100);
    let outcome = run64(&p, c, &mut memory);
    assert_eq!(flush_of(outcome).scope, FlushScope::Entire);
    assert_eq!(completion(outcome).reps_completed(), Some(100));
}

/// An element that becomes unreadable ends the batch before it; at the
/// start of a batch it is a memory intercept.
#[test]
fn flush_list_unreadable_element() {
    let p = policy(&flush_config());
    let mut memory = list_memory([CR3, ALL_PROCESSORS, 0], &elements(8));
    // Element 3 at IN_PAGE + 24 + 3·8.
    let hole = IN_PAGE + 48..IN_PAGE + 56;
    memory.holes.push(hole.clone());
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST).with_rep_count(8);
    let mut regs = regs64(c.into_bits(), IN_PAGE, 0);
    let outcome = run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory);
    let FlushScope::Ranges(ranges) = flush_of_any(outcome).scope else {
        panic!()
    };
    assert_eq!(ranges.len(), 3);
    completion(outcome).apply(&mut regs);
    assert_eq!(
        HypercallInputValue::from_bits(regs.rcx).rep_start_index(),
        3
    );
    match run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory) {
        Outcome::MemoryIntercept { gpa, access, .. } => {
            assert_eq!((gpa, access), (hole.start, Access::Read));
        }
        other => panic!("{other:?}"),
    }
}

// --- The …Ex calls and HV_VP_SET -------------------------------------------------

fn ex_memory(header: [u64; 4], banks: &[u64], elements: &[u64]) -> TestMemory {
    let mut memory = TestMemory::new();
    memory.put_qwords(IN_PAGE, &header);
    memory.put_qwords(IN_PAGE + 32, banks);
    memory.put_qwords(IN_PAGE + 32 + 8 * banks.len() as u64, elements);
    memory
}

fn space_ex(header: [u64; 4], banks: &[u64], variable_qwords: u16) -> Outcome {
    let p = policy(&flush_config());
    let mut memory = ex_memory(header, banks, &[]);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX)
        .with_variable_header_size(variable_qwords);
    run64(&p, c, &mut memory)
}

/// `datatypes/hv_vp_set.md` § Processor Set Example: {0, 5, 130} is format
/// 0, ValidBanksMask 0x05, BankContents {0x21, 0x04}.
#[test]
fn vp_set_example() {
    let request = flush_of(space_ex([CR3, 0, 0, 0x05], &[0x21, 0x04], 2));
    assert_eq!(request.processors, set(&[0, 5, 130]));
    assert_eq!(request.address_spaces, AddressSpaces::One(CR3));
    assert_eq!(request.scope, FlushScope::Entire);
    // "a bit 1 in ValidBankMask … can be all 0s": bank 0 empty, bank 1 has
    // VP 64; bank 63 reaches VP 4095.
    let request = flush_of(space_ex(
        [CR3, 0, 0, 1 | 1 << 1 | 1 << 63],
        &[0, 1, 1 << 63],
        3,
    ));
    assert_eq!(request.processors, set(&[64, 4095]));
}

/// Format 1: "Processor sets with a format '1' represent all virtual
/// processors for the given partition."
#[test]
fn vp_set_all() {
    let request = flush_of(space_ex([CR3, 0, 1, 0], &[], 0));
    assert_eq!(request.processors, FlushProcessors::All);
    // ValidBanksMask is meaningless then.
    let request = flush_of(space_ex([CR3, 0, 1, u64::MAX], &[], 0));
    assert_eq!(request.processors, FlushProcessors::All);
}

/// TLFS 6.0b §9.4 HvFlushVirtualAddressSpaceEx: "HV_STATUS_INVALID_PARAMETER
/// A parameter is invalid."
#[test]
fn vp_set_invalid() {
    // Unknown format.
    for format in [2, 3, u64::MAX] {
        assert_eq!(
            status(space_ex([CR3, 0, format, 1], &[1], 1)),
            HvStatus::INVALID_PARAMETER
        );
    }
    // "For every bit that is set with ValidBanksMask, there must be an
    // element in the BanksContents array": too few, too many.
    assert_eq!(
        status(space_ex([CR3, 0, 0, 0b111], &[1, 1], 2)),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(
        status(space_ex([CR3, 0, 0, 0b1], &[1, 1], 2)),
        HvStatus::INVALID_PARAMETER
    );
    // Reserved flag bits and address space bits, as for the non-Ex call.
    assert_eq!(
        status(space_ex([CR3, 1 << 4, 1, 0], &[], 0)),
        HvStatus::INVALID_PARAMETER
    );
    assert_eq!(
        status(space_ex([1 << 60, 0, 1, 0], &[], 0)),
        HvStatus::INVALID_PARAMETER
    );
}

/// Choice: an empty sparse set is a valid set naming no VP — success, no
/// flush. HV_FLUSH_ALL_PROCESSORS ignores the set entirely.
#[test]
fn vp_set_empty_and_ignored() {
    let done = completion(space_ex([CR3, 0, 0, 0], &[], 0));
    assert_eq!(done.result_status(), Some(HvStatus::SUCCESS));
    assert_eq!(done.action, Action::None);
    let done = completion(space_ex([CR3, 0, 0, 0b11], &[0, 0], 2));
    assert_eq!(done.action, Action::None);
    // A bogus set under ALL_PROCESSORS.
    let request = flush_of(space_ex([CR3, ALL_PROCESSORS, 7, 0b111], &[1], 1));
    assert_eq!(request.processors, FlushProcessors::All);
}

/// `HvCallFlushVirtualAddressListEx`: the GVA list follows the whole
/// header, variable part (BankContents) included (md § Variable Sized
/// Hypercall Input Headers).
#[test]
fn flush_list_ex() {
    let p = policy(&flush_config());
    let elems = elements(5);
    let mut memory = ex_memory([CR3, 0, 0, 0b100], &[0b1000], &elems);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX)
        .with_variable_header_size(1)
        .with_rep_count(5);
    let outcome = run64(&p, c, &mut memory);
    let request = flush_of(outcome);
    assert_eq!(request.processors, set(&[131]));
    let FlushScope::Ranges(ranges) = request.scope else {
        panic!()
    };
    assert!(
        ranges
            .iter()
            .eq(elems.iter().map(|&e| GvaRange::from_element(e)))
    );
    assert_eq!(completion(outcome).reps_completed(), Some(5));
    // An empty set completes every element without a flush.
    let mut memory = ex_memory([CR3, 0, 0, 0], &[], &elems);
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX).with_rep_count(5);
    let done = completion(run64(&p, c, &mut memory));
    assert_eq!(done.reps_completed(), Some(5));
    assert_eq!(done.action, Action::None);
}

/// An XMM fast …Ex call: the fixed header (32 bytes) is RDX, R8 and XMM0;
/// BankContents follows in XMM1.
#[test]
fn flush_space_ex_xmm_fast() {
    let p = policy(&flush_config());
    let c = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX)
        .with_fast(true)
        .with_variable_header_size(2);
    let regs = regs64(c.into_bits(), CR3, 0);
    // XMM0: Format 0 (low), ValidBanksMask 0b11 (high); XMM1: banks.
    let xmm = [0b11 << 64, 1 << 64 | 0b1000_0001, 0, 0, 0, 0];
    let mut memory = TestMemory::new();
    let request = flush_of(run(&p, Caller::KERNEL64, &regs, &xmm, &mut memory));
    assert_eq!(request.processors, set(&[0, 7, 64]));
    // Without XMM input: #UD (md § XMM Fast Hypercall Input).
    let p = policy(&Hv1Config::from_features(["hv-tlbflush"]).unwrap());
    assert_eq!(
        run(&p, Caller::KERNEL64, &regs, &xmm, &mut memory),
        Outcome::Fault(Fault::InvalidOpcode)
    );
}

/// The lock-free subset gives exactly what the full dispatcher gives, and
/// declines whatever needs more than registers.
#[test]
fn register_only_agrees_with_dispatch() {
    use tessera_hv1::dispatch::register_only;
    let p = policy(&Hv1Config::minimal());
    let mut memory = TestMemory::new();
    let fast_spin = control(HypercallCode::NOTIFY_LONG_SPIN_WAIT).with_fast(true);
    let unknown = control(HypercallCode(0x7FFF)).with_fast(true);
    for (regs, expect_some) in [
        (regs64(fast_spin.into_bits(), 5, 0), true),
        (regs64(unknown.into_bits(), 0, 0), true),
        // Memory-based: needs the input block.
        (
            regs64(
                control(HypercallCode::NOTIFY_LONG_SPIN_WAIT).into_bits(),
                IN_PAGE,
                0,
            ),
            false,
        ),
    ] {
        let quick = register_only(Caller::KERNEL64, &regs, &p, true);
        assert_eq!(quick.is_some(), expect_some, "{regs:?}");
        if let Some(quick) = quick {
            let full = completion(run(&p, Caller::KERNEL64, &regs, &NO_XMM, &mut memory));
            assert_eq!(quick.writeback, full.writeback);
            assert_eq!(quick.long_spin_wait, full.action == Action::LongSpinWait);
        }
    }
    // The plain spin wait is recognised exactly: its value and no other.
    assert!(tessera_hv1::dispatch::is_plain_spin_wait(
        fast_spin.into_bits(),
        &p
    ));
    assert!(!tessera_hv1::dispatch::is_plain_spin_wait(
        fast_spin.into_bits() | 1 << 32,
        &p
    ));
    assert!(!tessera_hv1::dispatch::is_plain_spin_wait(
        control(HypercallCode::NOTIFY_LONG_SPIN_WAIT).into_bits(),
        &p
    ));
    // Hypercalls disabled, or a real-mode caller: the full path decides.
    let regs = regs64(fast_spin.into_bits(), 0, 0);
    assert!(register_only(Caller::KERNEL64, &regs, &p, false).is_none());
    let real = Caller {
        cpl: 0,
        mode: CpuMode::Real,
    };
    assert!(register_only(real, &regs, &p, true).is_none());
}
