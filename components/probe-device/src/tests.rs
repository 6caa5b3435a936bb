use super::*;
use alloc::string::ToString;
use alloc::vec;
use proptest::prelude::*;
use tessera_rt::abi::vm::{TESSERA_UNSUPPORTED, action};
use tessera_rt::vm_exit::attach_message;

const IO_PORT: u64 = 0x8001_0000;
const MSR: u64 = 0x8001_0001;
const CPUID: u64 = 0x8001_0002;
const HALT: u64 = 0x8001_0007;
const UNMAPPED_GPA: u64 = 0x8000_0000;
const GPA_INTERCEPT: u64 = 0x8000_0001;
const HYPERCALL: u64 = 0x8000_0050;
/// Quick word 3 of a memory exit: access (0 read, 1 write, 2 execute) |
/// size << 8.
const READ: u64 = 0;
const WRITE: u64 = 1;
const EXECUTE: u64 = 2;
const ADVANCE_RESULT: u64 = action::ADVANCE_RIP | action::RESULT;

fn handle(probe: &mut Probe, badge: u64, words: [u64; 6]) -> Handled {
    probe.handle(badge, &ExitMessage::decode(&words, &[]))
}

fn inl(probe: &mut Probe, badge: u64, port: u16, size: u64) -> u64 {
    let handled = handle(probe, badge, [IO_PORT, 0, u64::from(port), size, 0, 0]);
    assert_eq!(handled.reply.actions(), ADVANCE_RESULT);
    handled.reply.words()[2]
}

fn outl(probe: &mut Probe, badge: u64, port: u16, size: u64, value: u64) {
    let handled = handle(probe, badge, [IO_PORT, 0, u64::from(port), size, 1, value]);
    assert_eq!(handled.reply.words(), [action::ADVANCE_RIP, 0, 0, 0, 0, 0]);
}

fn hlt(probe: &mut Probe, badge: u64) {
    let handled = handle(probe, badge, [HALT, 0, 0x202, 0, 0, 0]);
    assert_eq!(handled.reply.words(), [action::ADVANCE_RIP, 0, 0, 0, 0, 0]);
}

fn rdmsr(probe: &mut Probe, badge: u64, msr: u32) -> ExitReply {
    handle(probe, badge, [MSR, 0, u64::from(msr), 0, 0, 0]).reply
}

fn wrmsr(probe: &mut Probe, badge: u64, msr: u32, value: u64) -> ExitReply {
    handle(probe, badge, [MSR, 0, u64::from(msr), 1, value, 0]).reply
}

fn mmio_read(probe: &mut Probe, badge: u64, offset: u64, size: u64) -> u64 {
    let gpa = probe::MMIO_BASE + offset;
    let handled = handle(
        probe,
        badge,
        [UNMAPPED_GPA, 0, gpa, READ | size << 8, 0x1000, 0],
    );
    assert_eq!(handled.reply.actions(), ADVANCE_RESULT, "{:?}", handled.log);
    assert!(handled.log.is_empty());
    handled.reply.words()[2]
}

fn mmio_write(probe: &mut Probe, badge: u64, offset: u64, size: u64, value: u64) {
    let gpa = probe::MMIO_BASE + offset;
    let handled = handle(
        probe,
        badge,
        [UNMAPPED_GPA, 0, gpa, WRITE | size << 8, 0x1000, value],
    );
    assert_eq!(handled.reply.words(), [action::ADVANCE_RIP, 0, 0, 0, 0, 0]);
    assert!(handled.log.is_empty());
}

#[test]
fn mmio_scratch_register_acts_on_its_low_bytes() {
    let mut probe = Probe::new();
    let scratch = probe::MMIO_SCRATCH_OFFSET;
    assert_eq!(mmio_read(&mut probe, 1, scratch, 8), 0);
    mmio_write(&mut probe, 1, scratch, 8, 0x1122_3344_5566_7788);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 8), 0x1122_3344_5566_7788);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 4), 0x5566_7788);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 2), 0x7788);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 1), 0x88);
    // A narrower write replaces the low bytes and keeps the others.
    mmio_write(&mut probe, 1, scratch, 4, 0xA1B2_C3D4);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 8), 0x1122_3344_A1B2_C3D4);
    mmio_write(&mut probe, 1, scratch, 2, 0xEEFF);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 8), 0x1122_3344_A1B2_EEFF);
    mmio_write(&mut probe, 1, scratch, 1, 0x5A);
    assert_eq!(mmio_read(&mut probe, 1, scratch, 8), 0x1122_3344_A1B2_EE5A);
    assert_eq!(
        probe.partition(1).map(|p| p.mmio_scratch),
        Some(0x1122_3344_A1B2_EE5A)
    );
    // It is not the scratch port.
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 0);
    // GPA_INTERCEPT (a mapping's rights refused the access) is served too.
    let handled = handle(
        &mut probe,
        1,
        [GPA_INTERCEPT, 0, probe::MMIO_BASE, READ | 8 << 8, 0x1000, 0],
    );
    assert_eq!(handled.reply.words()[2], 0x1122_3344_A1B2_EE5A);
}

#[test]
fn mmio_id_register_is_the_partition_number_and_read_only() {
    let mut probe = Probe::new();
    let id = probe::MMIO_ID_OFFSET;
    for size in [1, 2, 4, 8] {
        assert_eq!(mmio_read(&mut probe, 5, id, size), 5);
    }
    mmio_write(&mut probe, 5, id, 8, 99);
    assert_eq!(mmio_read(&mut probe, 5, id, 8), 5, "writes are ignored");
    assert_eq!(
        mmio_read(&mut probe, 0x1_0203, id, 1),
        0x03,
        "masked to the size"
    );
    assert_eq!(mmio_read(&mut probe, 5, probe::MMIO_SCRATCH_OFFSET, 8), 0);
}

#[test]
fn mmio_elsewhere_in_the_window_reads_all_ones() {
    let mut probe = Probe::new();
    for offset in [
        0x1,
        0x4,
        0x10,
        0x9,
        probe::MMIO_SIZE - 8,
        probe::MMIO_SIZE - 1,
    ] {
        assert_eq!(mmio_read(&mut probe, 1, offset, 8), u64::MAX);
        assert_eq!(mmio_read(&mut probe, 1, offset, 2), 0xFFFF);
        mmio_write(&mut probe, 1, offset, 8, 7);
    }
    assert_eq!(mmio_read(&mut probe, 1, probe::MMIO_SCRATCH_OFFSET, 8), 0);
}

#[test]
fn mmio_the_probe_cannot_emulate_stops_the_vp() {
    let mut probe = Probe::new();
    let stop = [action::STOP, 0, 0, 0, 0, 0];
    // Not decoded: size 0.
    let handled = handle(
        &mut probe,
        2,
        [UNMAPPED_GPA, 1, probe::MMIO_BASE, WRITE, 0x1234, 5],
    );
    assert_eq!(handled.reply.words(), stop);
    assert_eq!(
        handled.log,
        vec![(
            Level::Warn,
            "partition 2: the kernel could not decode the write at GPA 0xfed00000 (rip 0x1234, \
             VP 1), so the probe cannot emulate it; stopping the VP"
                .to_string()
        )]
    );
    assert_eq!(mmio_read(&mut probe, 2, probe::MMIO_SCRATCH_OFFSET, 8), 0);
    // An instruction fetch.
    let handled = handle(
        &mut probe,
        2,
        [UNMAPPED_GPA, 0, probe::MMIO_BASE, EXECUTE, 0xFED0_0000, 0],
    );
    assert_eq!(handled.reply.words(), stop);
    assert!(
        handled.log[0].1.contains("instruction fetch"),
        "{:?}",
        handled.log
    );
    // Outside the window.
    for gpa in [
        probe::MMIO_BASE - 1,
        probe::MMIO_BASE + probe::MMIO_SIZE,
        0xC000_0000,
    ] {
        let handled = handle(
            &mut probe,
            2,
            [UNMAPPED_GPA, 0, gpa, READ | 4 << 8, 0x1234, 0],
        );
        assert_eq!(handled.reply.words(), stop);
        assert_eq!(handled.log[0].0, Level::Warn);
        assert!(
            handled.log[0].1.contains("outside the probe's MMIO window"),
            "{:?}",
            handled.log
        );
    }
}

#[test]
fn mmio_registers_are_per_partition() {
    let mut probe = Probe::new();
    mmio_write(&mut probe, 1, probe::MMIO_SCRATCH_OFFSET, 8, 111);
    mmio_write(&mut probe, 2, probe::MMIO_SCRATCH_OFFSET, 8, 222);
    assert_eq!(mmio_read(&mut probe, 1, probe::MMIO_SCRATCH_OFFSET, 8), 111);
    assert_eq!(mmio_read(&mut probe, 2, probe::MMIO_SCRATCH_OFFSET, 8), 222);
    // An attach resets it.
    let message = attach_message("mmio-guest");
    probe.handle(1, &ExitMessage::decode(&message.words, &[]));
    assert_eq!(mmio_read(&mut probe, 1, probe::MMIO_SCRATCH_OFFSET, 8), 0);
    assert_eq!(mmio_read(&mut probe, 2, probe::MMIO_SCRATCH_OFFSET, 8), 222);
}

/// The reply to a routed hypercall: success, no reps, RIP past VMMCALL,
/// and the signature in RDX.
fn assert_probe_answer(reply: &ExitReply) {
    assert_eq!(
        reply.words(),
        [
            action::ADVANCE_RIP | action::RESULT | action::SET_REGISTERS,
            0,
            HYPERCALL_RESULT,
            0,
            0,
            0
        ]
    );
    assert_eq!(
        reply.encode().unwrap().buffer(),
        [
            u64::from(HvRegisterName::X64_RDX.0),
            probe::HYPERCALL_SIGNATURE
        ]
    );
}

#[test]
fn hypercalls_get_success_and_the_signature_in_rdx() {
    let mut probe = Probe::new();
    // HvCallNotifyLongSpinWait, fast; the same with a rep count, which the
    // kernel would refuse for a simple call but does not decode here; a
    // memory-based call; an unknown code.
    for control in [0x1_0008, 0x1_0008 | 3 << 32, 0x0008, 0x7FFF, u64::MAX] {
        let handled = handle(&mut probe, 4, [HYPERCALL, 0, control, 0x1000, 0x2000, 0]);
        assert_probe_answer(&handled.reply);
        assert!(handled.log.is_empty(), "{:?}", handled.log);
    }
    assert_eq!(probe.partition(4).map(|p| p.hypercalls), Some(5));
    assert_eq!(HYPERCALL_RESULT & 0xFFFF, 0, "HV_STATUS_SUCCESS");
    assert_eq!(HYPERCALL_RESULT >> 32 & 0xFFF, 0, "0 reps completed");
}

#[test]
fn hypercalls_are_counted_per_partition_and_reset_by_an_attach() {
    let mut probe = Probe::new();
    for badge in [1, 2, 2] {
        let handled = handle(&mut probe, badge, [HYPERCALL, 0, 0x1_0008, 0, 0, 0]);
        assert_probe_answer(&handled.reply);
    }
    assert_eq!(probe.partition(1).map(|p| p.hypercalls), Some(1));
    assert_eq!(probe.partition(2).map(|p| p.hypercalls), Some(2));
    let message = attach_message("routes");
    probe.handle(2, &ExitMessage::decode(&message.words, &[]));
    assert_eq!(probe.partition(2).map(|p| p.hypercalls), Some(0));
    assert_eq!(probe.partition(1).map(|p| p.hypercalls), Some(1));
}

#[test]
fn scratch_port_keeps_the_last_write() {
    let mut probe = Probe::new();
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 0);
    outl(&mut probe, 1, probe::SCRATCH_PORT, 4, 0xDEAD_BEEF);
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 0xDEAD_BEEF);
    assert_eq!(
        inl(&mut probe, 1, probe::SCRATCH_PORT, 1),
        0xEF,
        "masked to the size"
    );
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 2), 0xBEEF);
    outl(&mut probe, 1, probe::SCRATCH_PORT, 1, 0x1234_5678);
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 0x78);
}

#[test]
fn id_and_halts_ports() {
    let mut probe = Probe::new();
    assert_eq!(inl(&mut probe, 3, probe::ID_PORT, 4), 3);
    outl(&mut probe, 3, probe::ID_PORT, 4, 99);
    assert_eq!(
        inl(&mut probe, 3, probe::ID_PORT, 4),
        3,
        "writes are ignored"
    );
    assert_eq!(inl(&mut probe, 3, probe::HALTS_PORT, 4), 0);
    for _ in 0..5 {
        hlt(&mut probe, 3);
    }
    assert_eq!(inl(&mut probe, 3, probe::HALTS_PORT, 4), 5);
    outl(&mut probe, 3, probe::HALTS_PORT, 4, 0);
    assert_eq!(inl(&mut probe, 3, probe::HALTS_PORT, 4), 5);
    assert_eq!(probe.partition(3).map(|p| p.halts), Some(5));
}

#[test]
fn other_ports_read_all_ones() {
    let mut probe = Probe::new();
    for port in [0x511, 0x51C, 0x51F, 0x80, 0x3F8] {
        assert_eq!(inl(&mut probe, 1, port, 4), 0xFFFF_FFFF);
        assert_eq!(inl(&mut probe, 1, port, 1), 0xFF);
        outl(&mut probe, 1, port, 4, 5);
    }
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 0);
}

#[test]
fn cpuid_leaves() {
    let mut probe = Probe::new();
    let leaf = 0x4C00_0005u32;
    let handled = handle(&mut probe, 2, [CPUID, 0, u64::from(leaf), 9, 0, 0]);
    let eax = u64::from(leaf ^ probe::CPUID_XOR);
    let edx = u64::from(probe::CPUID_SIGNATURE);
    assert_eq!(
        handled.reply.words(),
        [ADVANCE_RESULT, 0, eax | 9 << 32, 2 | edx << 32, 0, 0]
    );
    // A leaf outside the range gets the kernel's default.
    let handled = handle(&mut probe, 2, [CPUID, 0, 1, 0, 0x2222_1111, 0x4444_3333]);
    assert_eq!(
        handled.reply.words(),
        [ADVANCE_RESULT, 0, 0x2222_1111, 0x4444_3333, 0, 0]
    );
    let last = handle(&mut probe, 2, [CPUID, 0, 0x4C00_00FF, 0, 0, 0]);
    assert_eq!(last.reply.words()[2] as u32, 0x4C00_00FF ^ probe::CPUID_XOR);
    let past = handle(&mut probe, 2, [CPUID, 0, 0x4C00_0100, 0, 7, 0]);
    assert_eq!(past.reply.words()[2], 7);
}

#[test]
fn msr_scratch_registers_and_the_read_only_one() {
    let mut probe = Probe::new();
    let first = *probe::MSRS.start();
    assert_eq!(
        rdmsr(&mut probe, 1, first).words(),
        [ADVANCE_RESULT, 0, 0, 0, 0, 0]
    );
    assert_eq!(
        wrmsr(&mut probe, 1, first, u64::MAX).words(),
        [action::ADVANCE_RIP, 0, 0, 0, 0, 0]
    );
    assert_eq!(rdmsr(&mut probe, 1, first).words()[2], u64::MAX);
    assert_eq!(
        rdmsr(&mut probe, 1, first + 1).words()[2],
        0,
        "registers are separate"
    );
    // The read-only one reads 0, and a write is #GP without an RIP advance.
    assert_eq!(rdmsr(&mut probe, 1, probe::MSR_READ_ONLY).words()[2], 0);
    assert_eq!(
        wrmsr(&mut probe, 1, probe::MSR_READ_ONLY, 1).words(),
        [action::FAULT, 0, 0, 0, 0, 0]
    );
    assert_eq!(rdmsr(&mut probe, 1, probe::MSR_READ_ONLY).words()[2], 0);
    // MSRs outside the range are #GP.
    assert_eq!(rdmsr(&mut probe, 1, first - 1).actions(), action::FAULT);
    assert_eq!(
        wrmsr(&mut probe, 1, probe::MSR_READ_ONLY + 1, 0).actions(),
        action::FAULT
    );
}

#[test]
fn partitions_are_isolated_by_badge() {
    let mut probe = Probe::new();
    outl(&mut probe, 1, probe::SCRATCH_PORT, 4, 111);
    outl(&mut probe, 2, probe::SCRATCH_PORT, 4, 222);
    wrmsr(&mut probe, 1, *probe::MSRS.start(), 5);
    hlt(&mut probe, 2);
    assert_eq!(inl(&mut probe, 1, probe::SCRATCH_PORT, 4), 111);
    assert_eq!(inl(&mut probe, 2, probe::SCRATCH_PORT, 4), 222);
    assert_eq!(rdmsr(&mut probe, 2, *probe::MSRS.start()).words()[2], 0);
    assert_eq!(inl(&mut probe, 1, probe::HALTS_PORT, 4), 0);
    assert_eq!(inl(&mut probe, 2, probe::HALTS_PORT, 4), 1);
    assert_eq!(inl(&mut probe, 2, probe::ID_PORT, 4), 2);
}

#[test]
fn attach_names_and_resets() {
    let mut probe = Probe::new();
    hlt(&mut probe, 1);
    let message = attach_message("probe-guest");
    let handled = probe.handle(1, &ExitMessage::decode(&message.words, &[]));
    assert_eq!(handled.reply.words(), [0; 6]);
    assert_eq!(
        handled.log,
        vec![(Level::Info, "badge 1 is partition probe-guest".to_string())]
    );
    assert_eq!(inl(&mut probe, 1, probe::HALTS_PORT, 4), 0);
    let again = probe.handle(1, &ExitMessage::decode(&message.words, &[]));
    assert!(again.log.is_empty(), "the same name is not announced twice");
    // Refusals use the name.
    let handled = handle(&mut probe, 1, [TESSERA_UNSUPPORTED, 0, 0x6E, 0x1000, 0, 0]);
    assert_eq!(handled.reply.words(), [action::STOP, 0, 0, 0, 0, 0]);
    assert!(
        handled.log[0]
            .1
            .starts_with("probe-guest: the probe does not handle Unsupported"),
        "{:?}",
        handled.log
    );
}

#[test]
fn unknown_and_malformed_messages_stop_the_vp() {
    let mut probe = Probe::new();
    let handled = handle(&mut probe, 7, [0xBAD, 2, 0, 0, 0, 0]);
    assert_eq!(handled.reply.words(), [action::STOP, 0, 0, 0, 0, 0]);
    assert_eq!(
        handled.log,
        vec![(
            Level::Warn,
            "partition 7: unknown message type 0xbad (VP 2); stopping the VP".to_string()
        )]
    );
    let handled = handle(
        &mut probe,
        7,
        [IO_PORT, 0, u64::from(probe::SCRATCH_PORT), 3, 1, 5],
    );
    assert_eq!(handled.reply.actions(), action::STOP);
    assert_eq!(handled.log[0].0, Level::Warn);
    assert_eq!(
        inl(&mut probe, 7, probe::SCRATCH_PORT, 4),
        0,
        "the bad write did nothing"
    );
}

proptest! {
    /// Any message gets an answer the kernel accepts: defined action bits,
    /// and a #GP alone, on MSR exits only.
    #[test]
    fn any_message_gets_a_sane_answer(
        words in any::<[u64; 6]>(),
        kind in 0usize..11,
        badge in any::<u64>(),
        in_window in any::<bool>(),
        access in 0u64..4,
        size in prop::sample::select(&[0u64, 1, 2, 4, 8, 3][..]),
    ) {
        let types = [IO_PORT, MSR, CPUID, HALT, IO_PORT, MSR, UNMAPPED_GPA, GPA_INTERCEPT, HYPERCALL];
        let mut words = words;
        if let Some(&t) = types.get(kind) {
            words[0] = t;
        }
        if words[0] == UNMAPPED_GPA || words[0] == GPA_INTERCEPT {
            // Mostly well-formed memory exits, often in the window.
            words[3] = access | size << 8;
            if in_window {
                words[2] = probe::MMIO_BASE + words[2] % probe::MMIO_SIZE;
            }
        }
        let mut probe = Probe::new();
        let handled = probe.handle(badge, &ExitMessage::decode(&words, &[]));
        let actions = handled.reply.actions();
        prop_assert_eq!(actions & !action::ALL, 0);
        // The kernel refuses FAULT with RESULT or ADVANCE_RIP, and on non-MSR exits.
        if actions & action::FAULT != 0 {
            prop_assert_eq!(actions, action::FAULT);
            prop_assert_eq!(words[0], MSR);
        }
        // Register pairs: only the signature, only for hypercalls.
        if words[0] == HYPERCALL {
            prop_assert_eq!(
                actions,
                action::ADVANCE_RIP | action::RESULT | action::SET_REGISTERS
            );
            prop_assert_eq!(
                handled.reply.encode().unwrap().buffer().to_vec(),
                vec![u64::from(HvRegisterName::X64_RDX.0), probe::HYPERCALL_SIGNATURE]
            );
        } else {
            prop_assert!(handled.reply.encode().unwrap().buffer().is_empty());
        }
        // Memory exits: emulated (advance, with a result for reads) only
        // when decoded; anything else stops the VP.
        if let Ok(Exit::Memory { access, size, .. }) = ExitMessage::decode(&words, &[]).exit {
            if size == 0 || access == MemoryAccess::Execute {
                prop_assert_eq!(actions, action::STOP);
            } else if actions != action::STOP {
                prop_assert!(actions & action::ADVANCE_RIP != 0);
                prop_assert_eq!(actions & action::RESULT != 0, access == MemoryAccess::Read);
            }
        }
    }
}
