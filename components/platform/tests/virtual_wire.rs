//! The 8259 pair's INT output as the component reports it to the kernel
//! (`PartitionAssertInterrupt` in ExtINT mode) and the interrupt
//! acknowledge it answers: the vector fixed at the acknowledge, the
//! IRR→ISR move, EOI, masking, the spurious IR7 of a request that went
//! away, and hostile port traffic.

use platform::Platform;
use platform::board::InterruptBus;
use proptest::prelude::*;
use tessera_rt::abi::vm::{action, attach_shape, interrupt as wire};
use tessera_rt::vm_exit::{Exit, ExitMessage, PartitionName};

/// The levels reported for the 8259's output, and every other call.
#[derive(Default)]
struct Wire {
    levels: Vec<u8>,
    messages: usize,
}

impl InterruptBus for Wire {
    fn assert(&mut self, slot: u32, level: u8, destination: u8, flags: u64) -> Result<u64, u64> {
        assert_eq!(slot, SLOT);
        if flags == wire::EXTINT_FLAGS {
            assert!(level <= 1 && destination == 0, "a malformed ExtINT call");
            self.levels.push(level);
        } else {
            self.messages += 1;
        }
        Ok(1)
    }
}

const BADGE: u64 = 1;
const SLOT: u32 = 16;

fn message(exit: Exit) -> ExitMessage {
    ExitMessage::decode(&exit.encode(0), &[])
}

struct Board {
    platform: Platform,
    wire: Wire,
}

impl Board {
    fn attached() -> Self {
        let mut platform = Platform::new();
        let mut wire = Wire::default();
        let attach = Exit::PartitionAttach {
            name: PartitionName::new("pc"),
        };
        platform.exit(
            BADGE,
            &message(attach),
            attach_shape(16 << 20, 1),
            Some(SLOT),
            &mut wire,
        );
        assert_eq!(wire.levels, [0], "an attach tells the output's level");
        Self { platform, wire }
    }

    fn exit(&mut self, exit: Exit) -> [u64; 6] {
        let (handled, _) = self
            .platform
            .exit(BADGE, &message(exit), 0, None, &mut self.wire);
        handled.reply.words()
    }

    fn out(&mut self, port: u16, value: u8) {
        self.exit(Exit::IoPort {
            port,
            size: 1,
            write: true,
            value: u32::from(value),
        });
    }

    fn inb(&mut self, port: u16) -> u8 {
        self.exit(Exit::IoPort {
            port,
            size: 1,
            write: false,
            value: 0,
        })[2] as u8
    }

    /// The vector the acknowledge answers (reply: RESULT, word 2).
    fn acknowledge(&mut self) -> u8 {
        let words = self.exit(Exit::InterruptAcknowledge);
        assert_eq!(words[0], action::RESULT, "a result and nothing else");
        u8::try_from(words[2]).expect("a vector")
    }

    fn line(&mut self, pin: u64, level: u64) {
        let mut log = Vec::new();
        self.platform.line(
            wire::line_badge(BADGE, pin),
            &[wire::LINE_MESSAGE, level, 0, 0, 0, 0],
            &mut self.wire,
            &mut log,
        );
    }

    /// ICW1-4 for a cascaded pair at `base` and `base + 8`, then the
    /// masks.
    fn init(&mut self, base: u8, icw4: u8, master_mask: u8) {
        for (command, data, vectors, cascade) in
            [(0x20, 0x21, base, 0x04), (0xA0, 0xA1, base + 8, 0x02)]
        {
            self.out(command, 0x11);
            self.out(data, vectors);
            self.out(data, cascade);
            self.out(data, icw4);
        }
        self.out(0x21, master_mask);
        self.out(0xA1, 0xFF);
    }

    /// OCW3 read of the master's ISR (`0x0B`) or IRR (`0x0A`).
    fn master_register(&mut self, ocw3: u8) -> u8 {
        self.out(0x20, ocw3);
        self.inb(0x20)
    }
}

#[test]
fn the_output_is_reported_and_the_acknowledge_moves_irr_to_isr() {
    let mut board = Board::attached();
    board.init(0x20, 0x01, !(1 << 4));
    board.line(4, 1);
    assert_eq!(board.wire.levels, [0, 1], "IRQ 4 raises the output");
    assert_eq!(board.master_register(0x0A) & 1 << 4, 1 << 4, "IRR");
    assert_eq!(board.acknowledge(), 0x24, "ICW2 base 0x20 + IR4");
    assert_eq!(board.wire.levels, [0, 1, 0], "in service: the output falls");
    assert_eq!(board.master_register(0x0B), 1 << 4, "ISR");
    assert_eq!(
        board.master_register(0x0A) & 1 << 4,
        0,
        "edge request consumed"
    );
    // A second edge waits behind the one in service (same priority).
    board.line(4, 0);
    board.line(4, 1);
    assert_eq!(board.wire.levels, [0, 1, 0], "held back by ISR");
    board.out(0x20, 0x20); // non-specific EOI
    assert_eq!(board.wire.levels, [0, 1, 0, 1], "released by the EOI");
    assert_eq!(board.acknowledge(), 0x24);
    board.out(0x20, 0x64); // specific EOI, IR4
    assert_eq!(board.master_register(0x0B), 0);
    // The I/O APIC's pin 4 is masked at reset: no message went out.
    assert_eq!(board.wire.messages, 0);
}

#[test]
fn masking_holds_the_request_and_a_vanished_request_is_spurious() {
    let mut board = Board::attached();
    board.init(0x20, 0x01, 0xFF);
    board.line(4, 1);
    assert_eq!(board.wire.levels, [0], "masked: the output stays low");
    assert_eq!(board.master_register(0x0A) & 1 << 4, 1 << 4, "IRR latched");
    board.out(0x21, !(1 << 4));
    assert_eq!(board.wire.levels, [0, 1], "unmasking raises it");
    // The guest masks it again before the processor takes it: the
    // acknowledge that was already under way finds nothing.
    board.out(0x21, 0xFF);
    assert_eq!(board.wire.levels, [0, 1, 0]);
    assert_eq!(board.acknowledge(), 0x27, "the spurious IR7");
    assert_eq!(board.master_register(0x0B), 0, "no ISR bit for it");
}

#[test]
fn automatic_eoi_leaves_nothing_in_service() {
    let mut board = Board::attached();
    board.init(0x40, 0x03, !(1 << 4));
    board.line(4, 1);
    assert_eq!(board.acknowledge(), 0x44);
    assert_eq!(board.master_register(0x0B), 0, "AEOI at the acknowledge");
    board.line(4, 0);
    board.line(4, 1);
    assert_eq!(board.acknowledge(), 0x44, "no EOI needed for the next");
}

#[test]
fn a_slave_irq_is_acknowledged_through_the_cascade() {
    let mut board = Board::attached();
    board.init(0x20, 0x01, !(1 << 2));
    board.out(0xA1, !(1 << 3)); // IRQ 11
    board.line(11, 1);
    assert_eq!(board.wire.levels, [0, 1]);
    assert_eq!(board.acknowledge(), 0x2B, "slave base 0x28 + IR3");
    assert_eq!(board.master_register(0x0B), 1 << 2, "master IR2 in service");
}

#[test]
fn a_real_mode_base_answers_vectors_below_32() {
    // The BIOS's 8259 at 0x08: the kernel injects whatever the 8259 says.
    let mut board = Board::attached();
    board.init(0x08, 0x01, !1);
    board.line(0, 1);
    assert_eq!(board.acknowledge(), 0x08);
}

proptest! {
    /// Hostile port traffic, ICWs included, interleaved with lines and
    /// acknowledges: nothing panics, every acknowledge answers a vector
    /// of one of the two bases, and what the kernel was last told is the
    /// pair's output after every step.
    #[test]
    fn any_traffic_keeps_the_reported_level_true(
        ops in proptest::collection::vec((0..4_u8, any::<u8>(), any::<u8>()), 1..300)
    ) {
        let mut board = Board::attached();
        for (kind, a, b) in ops {
            match kind {
                0 => board.line(u64::from(a % 16), u64::from(b & 1)),
                1 => board.out([0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1][a as usize % 6], b),
                2 => {
                    let board_ref = board.platform.board(BADGE).unwrap();
                    let bases = [board_ref.pics.master().vector_base(), board_ref.pics.slave().vector_base()];
                    let vector = board.acknowledge();
                    prop_assert!(bases.contains(&(vector & 0xF8)), "{vector:#x} from {bases:x?}");
                }
                _ => { board.inb([0x20, 0x21, 0xA0, 0xA1][a as usize % 4]); }
            }
            let output = board.platform.board(BADGE).unwrap().pics.output();
            prop_assert_eq!(board.wire.levels.last().copied(), Some(u8::from(output)));
        }
        // Lines past the 8259's 16 IRQs and malformed levels change nothing.
        let before = board.wire.levels.len();
        board.line(16, 1);
        board.line(23, 1);
        prop_assert_eq!(board.wire.levels.len(), before);
    }
}
