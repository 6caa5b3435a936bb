//! The I/O APIC and COM1's interrupts through pin 4 (the line `devices`
//! holds): transmit-empty interrupts driving output, received data, a
//! masked pin, and a level-triggered pin's remote IRR until the EOI.

use tessera_guest_framework::interrupt::{self, Eoi};
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::port::{inb, outb};
use tessera_guest_framework::{Outcome, Suite, ensure, ensure_eq};

pub const IOAPIC: u64 = 0xFEC0_0000;
pub const LAPIC: u64 = 0xFEE0_0000;

const COM1: u16 = 0x3F8;
pub(crate) const THR: u16 = COM1;
pub(crate) const IER: u16 = COM1 + 1;
pub(crate) const IIR: u16 = COM1 + 2;
const MCR: u16 = COM1 + 4;
const SCR: u16 = COM1 + 7;
const IER_RX_DATA: u8 = 0x01;
pub(crate) const IER_THR_EMPTY: u8 = 0x02;
pub(crate) const IIR_NONE: u8 = 0x01;
pub(crate) const IIR_THR_EMPTY: u8 = 0x02;
const IIR_RX_DATA: u8 = 0x04;
const MCR_LOOP: u8 = 0x10;

/// COM1's pin, and the vectors the checks program it with.
const PIN: u32 = 4;
const EDGE_VECTOR: u8 = 0x34;
const LEVEL_VECTOR: u8 = 0x35;
/// Redirection entry bits.
const LEVEL: u32 = 1 << 15;
const REMOTE_IRR: u32 = 1 << 14;
const MASKED: u32 = 1 << 16;

/// The line the checks send interrupt-driven; the system test looks for
/// it in the partition's output.
const DRIVEN: &[u8] = b"COM1 output driven by IRQ 4\n";

struct IoApic<'a>(&'a DeviceWindow);

impl IoApic<'_> {
    fn read(&self, register: u32) -> u32 {
        self.0.write32(0x00, register);
        self.0.read32(0x10)
    }

    fn write(&self, register: u32, value: u32) {
        self.0.write32(0x00, register);
        self.0.write32(0x10, value);
    }

    /// Pin 4's entry: `low` (vector, trigger, mask), destination APIC 0.
    fn program(&self, low: u32) {
        self.write(0x10 + 2 * PIN + 1, 0);
        self.write(0x10 + 2 * PIN, low);
    }

    fn entry(&self) -> u32 {
        self.read(0x10 + 2 * PIN)
    }
}

/// Opens interrupt windows until `vector` came `count` times (at most a
/// thousand: each delivery is posted before the access that raised it
/// returns, so one window takes it); how many times it came. COM1's
/// scratch register is read first: where the route posts writes to THR
/// (vm-platform-posted), they reach the UART ahead of that read, and what
/// they raise is posted before it returns.
pub(crate) fn wait_for(vector: u8, count: u32) -> u32 {
    let _ = inb(SCR);
    for _ in 0..1000 {
        if interrupt::count(vector) >= count {
            break;
        }
        interrupt::window();
    }
    interrupt::count(vector)
}

/// Leaves COM1 as the framework's polled output expects it.
pub(crate) fn quiet() {
    outb(IER, 0);
    outb(MCR, 0);
    while inb(IIR) & IIR_NONE == 0 {}
}

pub fn run(suite: &mut Suite, ioapic: &DeviceWindow, apic: &DeviceWindow) {
    let ioapic = IoApic(ioapic);
    // Software-enable the local APIC (spurious vector 0xFF).
    apic.write32(0xF0, 0x1FF);
    interrupt::set_eoi(Eoi::XapicMmio(apic.base() + 0xB0));
    suite.check(
        "I/O APIC: version 0x20 with 24 entries, every entry masked at reset",
        || {
            ensure_eq!(ioapic.read(0x01), 0x0017_0020, "version register");
            for pin in 0..24 {
                let entry = ioapic.read(0x10 + 2 * pin);
                ensure!(
                    entry & MASKED != 0,
                    "entry {pin} reads {entry:#x}: not masked"
                );
            }
            Ok(())
        },
    );
    suite.check(
        "COM1 output driven by its transmit-empty interrupt on pin 4 (edge)",
        || {
            let outcome = driven_output(&ioapic);
            quiet();
            outcome
        },
    );
    suite.check(
        "COM1 received data (loopback) raises pin 4; reading RBR ends it",
        || {
            let outcome = received_data(&ioapic);
            quiet();
            outcome
        },
    );
    suite.check(
        "a masked pin delivers nothing, and the edge it missed stays lost",
        || {
            let outcome = masked(&ioapic);
            quiet();
            outcome
        },
    );
    interrupt::set_eoi(Eoi::Manual);
    let eoi = || apic.write32(0xB0, 0);
    suite.check(
        "a level-triggered pin: remote IRR set until the EOI, delivered again while asserted",
        || {
            let outcome = level(&ioapic, eoi);
            quiet();
            outcome
        },
    );
    interrupt::set_eoi(Eoi::XapicMmio(apic.base() + 0xB0));
    suite.check(
        "a byte sent in loopback reaches the receiver when the VP halts, with no other access",
        || {
            let outcome = received_unaccessed(&ioapic, || {
                while interrupt::count(EDGE_VECTOR) == 0 {
                    interrupt::sti_hlt();
                    interrupt::cli();
                }
            });
            quiet();
            outcome
        },
    );
    suite.check(
        "a byte sent in loopback reaches the receiver while the VP spins, with no other access",
        || {
            let outcome = received_unaccessed(&ioapic, || {
                interrupt::sti();
                while interrupt::count(EDGE_VECTOR) == 0 {
                    core::hint::spin_loop();
                }
                interrupt::cli();
            });
            quiet();
            outcome
        },
    );
    ioapic.program(MASKED);
}

/// A byte written to THR in loopback, then nothing but `wait` until its
/// received-data interrupt came: where the
/// route posts THR writes, the kernel hands the write to `devices` when
/// the VP halts, or at the latest when it leaves its guest for the host's
/// next interrupt. A write that never reached the UART stalls here, which
/// the system test's progress limit reports.
fn received_unaccessed(ioapic: &IoApic<'_>, wait: impl Fn()) -> Outcome {
    interrupt::reset();
    ioapic.program(u32::from(EDGE_VECTOR));
    outb(MCR, MCR_LOOP);
    outb(IER, IER_RX_DATA);
    outb(THR, b'P');
    wait();
    ensure_eq!(interrupt::count(EDGE_VECTOR), 1, "received-data interrupts");
    ensure_eq!(inb(THR), b'P', "RBR");
    Ok(())
}

fn driven_output(ioapic: &IoApic<'_>) -> Outcome {
    interrupt::reset();
    ioapic.program(u32::from(EDGE_VECTOR));
    ensure_eq!(
        ioapic.entry(),
        u32::from(EDGE_VECTOR),
        "pin 4's entry read back"
    );
    // Enabling the interrupt with THR empty raises it: the first byte's go.
    outb(IER, IER_THR_EMPTY);
    for (sent, &byte) in DRIVEN.iter().enumerate() {
        let want = sent as u32 + 1;
        let taken = wait_for(EDGE_VECTOR, want);
        ensure!(
            taken == want,
            "{taken} interrupts before byte {sent}, expected {want}"
        );
        let iir = inb(IIR) & 0x0F;
        ensure!(
            iir == IIR_THR_EMPTY,
            "IIR {iir:#x} before byte {sent}: not THR empty"
        );
        let iir = inb(IIR) & 0x0F;
        ensure!(
            iir == IIR_NONE,
            "IIR {iir:#x} after reading it (byte {sent})"
        );
        outb(THR, byte);
    }
    let want = DRIVEN.len() as u32 + 1;
    ensure_eq!(
        wait_for(EDGE_VECTOR, want),
        want,
        "one interrupt per byte, and one after the last"
    );
    ensure_eq!(interrupt::total(), want, "no other vector came");
    Ok(())
}

fn received_data(ioapic: &IoApic<'_>) -> Outcome {
    interrupt::reset();
    ioapic.program(u32::from(EDGE_VECTOR));
    outb(MCR, MCR_LOOP);
    outb(IER, IER_RX_DATA);
    ensure_eq!(wait_for(EDGE_VECTOR, 1), 0, "nothing received yet");
    outb(THR, b'Z');
    ensure_eq!(wait_for(EDGE_VECTOR, 1), 1, "received-data interrupt");
    ensure_eq!(inb(IIR) & 0x0F, IIR_RX_DATA, "IIR names received data");
    ensure_eq!(inb(THR), b'Z', "RBR");
    ensure_eq!(inb(IIR) & 0x0F, IIR_NONE, "nothing pending after RBR");
    Ok(())
}

fn masked(ioapic: &IoApic<'_>) -> Outcome {
    interrupt::reset();
    ioapic.program(MASKED | u32::from(EDGE_VECTOR));
    outb(IER, IER_THR_EMPTY);
    ensure_eq!(inb(COM1 + 2) & 0x0F, IIR_THR_EMPTY, "the UART raised it");
    // (Reading IIR ended it; raise it again, the line now stays high.)
    outb(THR, b'\n');
    ensure_eq!(
        wait_for(EDGE_VECTOR, 1),
        0,
        "interrupts through the masked pin"
    );
    ioapic.program(u32::from(EDGE_VECTOR));
    ensure_eq!(
        wait_for(EDGE_VECTOR, 1),
        0,
        "the edge seen while masked after unmasking"
    );
    // A new edge goes through.
    ensure_eq!(inb(IIR) & 0x0F, IIR_THR_EMPTY, "still pending at the UART");
    outb(THR, b'\n');
    ensure_eq!(wait_for(EDGE_VECTOR, 1), 1, "a new edge once unmasked");
    Ok(())
}

fn level(ioapic: &IoApic<'_>, eoi: impl Fn()) -> Outcome {
    interrupt::reset();
    ioapic.program(LEVEL | u32::from(LEVEL_VECTOR));
    outb(IER, IER_THR_EMPTY);
    ensure_eq!(wait_for(LEVEL_VECTOR, 1), 1, "the level interrupt");
    ensure!(
        ioapic.entry() & REMOTE_IRR != 0,
        "remote IRR not set after delivery"
    );
    ensure_eq!(wait_for(LEVEL_VECTOR, 2), 1, "taken again before the EOI");
    // The line is still asserted at the EOI: the I/O APIC delivers again.
    eoi();
    ensure_eq!(
        wait_for(LEVEL_VECTOR, 2),
        2,
        "delivered again after the EOI"
    );
    ensure!(
        ioapic.entry() & REMOTE_IRR != 0,
        "remote IRR not set by the second delivery"
    );
    // The source ends (reading IIR), then the EOI clears remote IRR.
    ensure_eq!(inb(IIR) & 0x0F, IIR_THR_EMPTY, "IIR");
    ensure!(
        ioapic.entry() & REMOTE_IRR != 0,
        "remote IRR cleared before the EOI"
    );
    eoi();
    ensure_eq!(ioapic.entry() & REMOTE_IRR, 0, "remote IRR after the EOI");
    ensure_eq!(
        wait_for(LEVEL_VECTOR, 3),
        2,
        "a third delivery with the line low"
    );
    Ok(())
}
