//! The component's logic: exits and lines by badge, deliveries to the
//! kernel, and that a line reaches only its own partition's pin.

use platform::Platform;
use platform::board::{InterruptBus, Log};
use platform::boards::LineAnswer;
use tessera_rt::abi::vm::{attach_shape, interrupt as wire};
use tessera_rt::vm_exit::{Exit, ExitMessage, MemoryAccess, PartitionName};

/// Records what would go to `PartitionAssertInterrupt`.
#[derive(Default)]
struct Recorder {
    sent: Vec<(u32, u8, u8, u64)>,
}

impl InterruptBus for Recorder {
    fn assert(&mut self, slot: u32, vector: u8, destination: u8, flags: u64) -> Result<u64, u64> {
        self.sent.push((slot, vector, destination, flags));
        Ok(1)
    }
}

const A: u64 = 1;
const B: u64 = 2;

fn message(exit: Exit) -> ExitMessage {
    ExitMessage::decode(&exit.encode(0), &[])
}

fn attach(platform: &mut Platform, badge: u64, name: &str, slot: u32) -> Option<u32> {
    let exit = Exit::PartitionAttach {
        name: PartitionName::new(name),
    };
    let shape = attach_shape(16 << 20, 2);
    let (handled, unused) = platform.exit(
        badge,
        &message(exit),
        shape,
        Some(slot),
        &mut Recorder::default(),
    );
    assert_eq!(handled.reply.words()[0], 0, "attach accepted");
    unused
}

fn mmio(
    platform: &mut Platform,
    badge: u64,
    offset: u64,
    write: Option<u32>,
    bus: &mut Recorder,
) -> u64 {
    let exit = Exit::Memory {
        gpa: 0xFEC0_0000 + offset,
        access: if write.is_some() {
            MemoryAccess::Write
        } else {
            MemoryAccess::Read
        },
        rip: 0x1000,
        unmapped: true,
        size: 4,
        value: u64::from(write.unwrap_or(0)),
    };
    let (handled, _) = platform.exit(badge, &message(exit), 0, None, bus);
    handled.reply.words()[2]
}

/// Programs redirection entry `pin` with `low` (vector, mode, trigger,
/// mask) and destination `destination`.
fn program(
    platform: &mut Platform,
    badge: u64,
    pin: u32,
    low: u32,
    destination: u8,
    bus: &mut Recorder,
) {
    mmio(platform, badge, 0x00, Some(0x10 + 2 * pin), bus);
    mmio(platform, badge, 0x10, Some(low), bus);
    mmio(platform, badge, 0x00, Some(0x10 + 2 * pin + 1), bus);
    mmio(
        platform,
        badge,
        0x10,
        Some(u32::from(destination) << 24),
        bus,
    );
}

fn redirection_low(platform: &mut Platform, badge: u64, pin: u32) -> u32 {
    let mut bus = Recorder::default();
    mmio(platform, badge, 0x00, Some(0x10 + 2 * pin), &mut bus);
    mmio(platform, badge, 0x10, None, &mut bus) as u32
}

fn line(platform: &mut Platform, badge: u64, level: u64, bus: &mut Recorder) -> LineAnswer {
    platform.line(
        badge,
        &[wire::LINE_MESSAGE, level, 0, 0, 0, 0],
        bus,
        &mut Log::new(),
    )
}

#[test]
fn an_edge_pin_delivers_its_entry_to_the_partition_and_a_masked_one_nothing() {
    let mut platform = Platform::new();
    attach(&mut platform, A, "a", 16);
    let mut bus = Recorder::default();
    // Pin 4, vector 0x34, fixed, edge, physical destination 0: still masked.
    program(&mut platform, A, 4, 0x0001_0034, 0, &mut bus);
    let com1 = wire::line_badge(A, 4);
    assert_eq!(line(&mut platform, com1, 1, &mut bus), LineAnswer::Done);
    assert!(bus.sent.is_empty(), "a masked pin delivers nothing");
    line(&mut platform, com1, 0, &mut bus);
    program(&mut platform, A, 4, 0x0000_0034, 0, &mut bus);
    line(&mut platform, com1, 1, &mut bus);
    assert_eq!(bus.sent, [(16, 0x34, 0, 0)]);
    // Still high: no second edge.
    line(&mut platform, com1, 1, &mut bus);
    assert_eq!(bus.sent.len(), 1);
}

#[test]
fn level_pins_hold_remote_irr_until_the_eoi_broadcast() {
    let mut platform = Platform::new();
    attach(&mut platform, A, "a", 16);
    let mut bus = Recorder::default();
    // Pin 9, vector 0x49, lowest priority, level, logical destination 1.
    program(&mut platform, A, 9, 0x0000_8949, 1, &mut bus);
    line(&mut platform, wire::line_badge(A, 9), 1, &mut bus);
    let level = wire::LEVEL | wire::LOGICAL | wire::MODE_LOWEST_PRIORITY << wire::MODE_SHIFT;
    assert_eq!(bus.sent, [(16, 0x49, 1, level)]);
    assert_ne!(
        redirection_low(&mut platform, A, 9) & (1 << 14),
        0,
        "remote IRR set"
    );
    // An EOI of another vector changes nothing.
    platform.exit(
        A,
        &message(Exit::EoiBroadcast { vector: 0x48 }),
        0,
        None,
        &mut bus,
    );
    assert_ne!(redirection_low(&mut platform, A, 9) & (1 << 14), 0);
    assert_eq!(bus.sent.len(), 1);
    // Its EOI clears it, and the line still asserted delivers again.
    platform.exit(
        A,
        &message(Exit::EoiBroadcast { vector: 0x49 }),
        0,
        None,
        &mut bus,
    );
    assert_eq!(bus.sent.len(), 2);
    line(&mut platform, wire::line_badge(A, 9), 0, &mut bus);
    platform.exit(
        A,
        &message(Exit::EoiBroadcast { vector: 0x49 }),
        0,
        None,
        &mut bus,
    );
    assert_eq!(
        redirection_low(&mut platform, A, 9) & (1 << 14),
        0,
        "remote IRR clear"
    );
    assert_eq!(bus.sent.len(), 2);
}

#[test]
fn a_line_reaches_only_its_own_partition_and_pin() {
    let mut platform = Platform::new();
    attach(&mut platform, A, "a", 16);
    attach(&mut platform, B, "b", 17);
    let mut bus = Recorder::default();
    program(&mut platform, A, 4, 0x34, 0, &mut bus);
    program(&mut platform, B, 4, 0x44, 0, &mut bus);
    program(&mut platform, B, 5, 0x45, 0, &mut bus);
    line(&mut platform, wire::line_badge(A, 4), 1, &mut bus);
    assert_eq!(bus.sent, [(16, 0x34, 0, 0)], "A's capability, A's vector");
    assert!(!platform.board(B).unwrap().ioapic.line(4));
    assert!(!platform.board(B).unwrap().ioapic.line(5));
    // A route badge, a pin past 23 or an unattached partition drive nothing.
    assert_eq!(line(&mut platform, B, 1, &mut bus), LineAnswer::Malformed);
    assert_eq!(
        line(&mut platform, wire::LINE_BADGE | B << 8 | 24, 1, &mut bus),
        LineAnswer::Malformed
    );
    assert_eq!(
        line(&mut platform, wire::line_badge(3, 4), 1, &mut bus),
        LineAnswer::Unknown
    );
    assert_eq!(
        line(&mut platform, wire::line_badge(B, 4), 2, &mut bus),
        LineAnswer::Malformed
    );
    let words = [wire::LINE_MESSAGE + 1, 1, 0, 0, 0, 0];
    assert_eq!(
        platform.line(wire::line_badge(B, 4), &words, &mut bus, &mut Log::new()),
        LineAnswer::Malformed
    );
    assert_eq!(bus.sent.len(), 1, "nothing else was delivered");
}

#[test]
fn attaches_keep_the_capability_and_set_fw_cfg() {
    let mut platform = Platform::new();
    assert_eq!(platform.free_slot(), Some(16));
    assert_eq!(attach(&mut platform, A, "a", 16), None);
    assert_eq!(platform.free_slot(), Some(17));
    // A reset re-attaches with a new capability: the old one is returned.
    assert_eq!(attach(&mut platform, A, "a", 17), Some(16));
    assert_eq!(platform.free_slot(), Some(16));
    let board = platform.board(A).unwrap();
    assert_eq!(board.interrupt, Some(17));
    // fw_cfg: 2 CPUs, 16 MiB.
    assert_eq!(
        board.fw_cfg.item_byte(platform::fw_cfg::FW_CFG_NB_CPUS, 0),
        Some(2)
    );
    let ram: Vec<u8> = (0..8)
        .map(|i| {
            board
                .fw_cfg
                .item_byte(platform::fw_cfg::FW_CFG_RAM_SIZE, i)
                .unwrap()
        })
        .collect();
    assert_eq!(u64::from_le_bytes(ram.try_into().unwrap()), 16 << 20);
}

#[test]
fn ports_reach_the_8259s_elcr_and_fw_cfg_and_unknown_exits_stop() {
    let mut platform = Platform::new();
    attach(&mut platform, A, "a", 16);
    let mut bus = Recorder::default();
    let io = |platform: &mut Platform, port: u16, size: u8, write: Option<u32>| {
        let exit = Exit::IoPort {
            port,
            size,
            write: write.is_some(),
            value: write.unwrap_or(0),
        };
        let (handled, _) = platform.exit(A, &message(exit), 0, None, &mut Recorder::default());
        handled.reply.words()[2] as u32
    };
    // Linux's probe: mask all, read the mask back.
    io(&mut platform, 0x21, 1, Some(0xFF));
    assert_eq!(io(&mut platform, 0x21, 1, None), 0xFF);
    io(&mut platform, 0x4D1, 1, Some(0x0E));
    assert_eq!(
        io(&mut platform, 0x4D0, 2, None),
        0x0E00,
        "ELCR as one 16-bit read"
    );
    io(&mut platform, 0x510, 2, Some(0));
    let signature: Vec<u8> = (0..4)
        .map(|_| io(&mut platform, 0x511, 1, None) as u8)
        .collect();
    assert_eq!(signature, b"QEMU");
    let (handled, _) = platform.exit(A, &message(Exit::Halt { rflags: 2 }), 0, None, &mut bus);
    assert_ne!(
        handled.reply.actions() & tessera_rt::abi::vm::action::STOP,
        0
    );
    let (handled, _) = platform.exit(
        B,
        &message(Exit::IoPort {
            port: 0x21,
            size: 1,
            write: false,
            value: 0,
        }),
        0,
        None,
        &mut bus,
    );
    assert_ne!(
        handled.reply.actions() & tessera_rt::abi::vm::action::STOP,
        0,
        "an unattached badge"
    );
}

#[test]
fn undeliverable_interrupts_log_within_a_budget() {
    // Attached without an interrupt capability: every message is dropped.
    let mut platform = Platform::new();
    let exit = Exit::PartitionAttach {
        name: PartitionName::new("a"),
    };
    platform.exit(
        A,
        &message(exit),
        attach_shape(16 << 20, 1),
        None,
        &mut Recorder::default(),
    );
    let mut bus = Recorder::default();
    program(&mut platform, A, 4, 0x0000_0034, 0, &mut bus);
    let com1 = wire::line_badge(A, 4);
    let mut lines = Vec::new();
    for _ in 0..1000 {
        for level in [1, 0] {
            let mut log = Log::new();
            platform.line(
                com1,
                &[wire::LINE_MESSAGE, level, 0, 0, 0, 0],
                &mut bus,
                &mut log,
            );
            lines.extend(log);
        }
    }
    assert!(bus.sent.is_empty());
    assert_eq!(platform.board(A).unwrap().undelivered, 1000);
    // The first 16, then one at each power of two up to 512: 16 + 5.
    assert_eq!(lines.len(), 21, "{lines:?}");
    assert!(
        lines[0]
            .1
            .ends_with("no interrupt capability; vector 0x34 dropped")
    );
    assert!(
        lines[16]
            .1
            .ends_with("(15 such lines suppressed; 32 undelivered in all)"),
        "{}",
        lines[16].1
    );
}

fn port(platform: &mut Platform, badge: u64, port: u16, size: u8, write: Option<u32>) -> u64 {
    let exit = Exit::IoPort {
        port,
        size,
        write: write.is_some(),
        value: write.unwrap_or(0),
    };
    let (handled, _) = platform.exit(badge, &message(exit), 0, None, &mut Recorder::default());
    handled.reply.words()[2]
}

/// 2001-09-09 01:46:40 UTC.
fn billennium() -> Option<u64> {
    Some(1_000_000_000 * 1_000_000_000)
}

#[test]
fn each_partition_has_its_own_cmos_clock_on_ports_0x70_and_0x71() {
    let mut platform = Platform::with_clock(billennium);
    attach(&mut platform, A, "a", 16);
    attach(&mut platform, B, "b", 17);
    // Minutes (BCD): 46.
    port(&mut platform, A, 0x70, 1, Some(0x02));
    assert_eq!(port(&mut platform, A, 0x71, 1, None) & 0xFF, 0x46);
    // A sets its year to 2030; B's clock is untouched.
    port(&mut platform, A, 0x70, 1, Some(0x09));
    port(&mut platform, A, 0x71, 1, Some(0x30));
    assert_eq!(port(&mut platform, A, 0x71, 1, None) & 0xFF, 0x30);
    port(&mut platform, B, 0x70, 1, Some(0x09));
    assert_eq!(port(&mut platform, B, 0x71, 1, None) & 0xFF, 0x01);
    // A 16-bit write is two byte writes: index then data; the index port
    // reads all ones.
    port(&mut platform, A, 0x70, 2, Some(0x5A_40));
    port(&mut platform, A, 0x70, 1, Some(0x40));
    assert_eq!(port(&mut platform, A, 0x70, 2, None) & 0xFFFF, 0x5A_FF);
    // Without a host clock the partitions' clocks say they are not valid.
    let mut unknown = Platform::new();
    attach(&mut unknown, A, "a", 16);
    port(&mut unknown, A, 0x70, 1, Some(0x0D));
    assert_eq!(port(&mut unknown, A, 0x71, 1, None) & 0xFF, 0);
}
