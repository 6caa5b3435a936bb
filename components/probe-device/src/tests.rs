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
const ADVANCE_RESULT: u64 = action::ADVANCE_RIP | action::RESULT;

fn handle(probe: &mut Probe, badge: u64, words: [u64; 6]) -> Handled {
    probe.handle(badge, &ExitMessage::parse(&words, &[]))
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
    let handled = probe.handle(1, &ExitMessage::parse(&message.words, &[]));
    assert_eq!(handled.reply.words(), [0; 6]);
    assert_eq!(
        handled.log,
        vec![(Level::Info, "badge 1 is partition probe-guest".to_string())]
    );
    assert_eq!(inl(&mut probe, 1, probe::HALTS_PORT, 4), 0);
    let again = probe.handle(1, &ExitMessage::parse(&message.words, &[]));
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
    fn any_message_gets_a_sane_answer(words in any::<[u64; 6]>(), kind in 0usize..8, badge in any::<u64>()) {
        let types = [IO_PORT, MSR, CPUID, HALT, IO_PORT, MSR];
        let mut words = words;
        if let Some(&t) = types.get(kind) {
            words[0] = t;
        }
        let mut probe = Probe::new();
        let handled = probe.handle(badge, &ExitMessage::parse(&words, &[]));
        let actions = handled.reply.actions();
        prop_assert_eq!(actions & !action::ALL, 0);
        // The kernel refuses FAULT with RESULT or ADVANCE_RIP, and on non-MSR exits.
        if actions & action::FAULT != 0 {
            prop_assert_eq!(actions, action::FAULT);
            prop_assert_eq!(words[0], MSR);
        }
        prop_assert!(handled.reply.buffer_words().is_empty());
    }
}
