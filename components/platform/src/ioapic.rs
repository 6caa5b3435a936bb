//! The I/O APIC: 24 pins, each with a redirection entry that turns the pin's
//! level or edge into an interrupt message for the local APICs.
//!
//! Intel 82093AA I/O APIC datasheet (1996) §3.1 "Memory Mapped Registers"
//! (IOREGSEL at base + 0x00, IOWIN at base + 0x10), §3.2 "I/O APIC
//! Registers" (ID 0x00, version 0x01, arbitration 0x02, redirection table
//! 0x10–0x3F); the ICH/PCH datasheets' I/O APIC version 0x20 with the EOI
//! register at base + 0x40 (what QEMU's `ioapic` models by default).
//!
//! The messages use the local APIC's vocabulary
//! ([`tessera_lapic::Message`]): the kernel resolves their destination
//! exactly as for an IPI.

use tessera_lapic::{
    DeliveryMode, Destination, DestinationMode, IdWidth, Message, Target, Trigger,
};

/// The default base address.
pub const IOAPIC_BASE: u64 = 0xFEC0_0000;
/// Pins (redirection entries).
pub const IOAPIC_PINS: usize = 24;
/// The version register's version: `0x20`, an I/O APIC with the EOI
/// register (QEMU's default; Linux uses the register when the local APICs
/// suppress EOI broadcasts).
pub const IOAPIC_VERSION: u32 = 0x20;

/// Byte offsets in the MMIO window.
pub const IOREGSEL: u64 = 0x00;
/// The data window.
pub const IOWIN: u64 = 0x10;
/// The EOI register (version 0x20): a write of a vector clears the remote
/// IRR of the level-triggered entries with that vector.
pub const IOEOI: u64 = 0x40;

/// Redirection entry bits (82093AA §3.2.4).
const VECTOR: u64 = 0xFF;
const DELIVERY_MODE: u64 = 0x700;
const DESTINATION_MODE: u64 = 1 << 11;
/// Delivery status (read-only): always idle, messages are delivered at once.
const POLARITY: u64 = 1 << 13;
/// Remote IRR (read-only): a level-triggered interrupt was delivered and
/// its EOI has not come back.
pub const REMOTE_IRR: u64 = 1 << 14;
const TRIGGER_LEVEL: u64 = 1 << 15;
/// The mask bit.
pub const MASKED: u64 = 1 << 16;
const DESTINATION: u64 = 0xFF << 56;
/// What software may write: vector, delivery mode, destination mode,
/// polarity, trigger mode, mask, destination. Bits 55:17 are reserved and
/// read 0; delivery status and remote IRR are the I/O APIC's.
pub const WRITABLE: u64 =
    VECTOR | DELIVERY_MODE | DESTINATION_MODE | POLARITY | TRIGGER_LEVEL | MASKED | DESTINATION;

/// One I/O APIC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoApic {
    id: u8,
    select: u8,
    entries: [u64; IOAPIC_PINS],
    /// Pin levels as the devices drive them (logical: asserted = 1).
    lines: u32,
}

impl Default for IoApic {
    fn default() -> Self {
        Self::new(0)
    }
}

impl IoApic {
    /// An I/O APIC with ID `id` (4 bits kept) after reset: every entry
    /// masked and zero otherwise (82093AA §3.2.4: "the mask bit is set
    /// after reset"), every pin low.
    #[must_use]
    pub const fn new(id: u8) -> Self {
        Self {
            id: id & 0xF,
            select: 0,
            entries: [MASKED; IOAPIC_PINS],
            lines: 0,
        }
    }

    /// Redirection entry `pin` (all 64 bits, as read).
    #[must_use]
    pub fn entry(&self, pin: usize) -> Option<u64> {
        self.entries.get(pin).copied()
    }

    /// The indirect register `index` (IOREGSEL's value) as IOWIN reads it.
    #[must_use]
    pub fn read_register(&self, index: u8) -> u32 {
        match index {
            0x00 => (self.id as u32) << 24,
            0x01 => IOAPIC_VERSION | ((IOAPIC_PINS as u32 - 1) << 16),
            // 82093AA §3.2.3: the arbitration ID is loaded from the ID.
            0x02 => (self.id as u32) << 24,
            0x10..=0x3F => {
                let entry = self.entries[(index as usize - 0x10) / 2];
                if index.is_multiple_of(2) {
                    entry as u32
                } else {
                    (entry >> 32) as u32
                }
            }
            // **Choice:** unimplemented registers read 0 (as QEMU).
            _ => 0,
        }
    }

    /// A write of `value` to indirect register `index`; delivers what the
    /// change makes due (an unmasked level-triggered pin that is asserted).
    pub fn write_register(
        &mut self,
        index: u8,
        value: u32,
        deliver: &mut impl FnMut(usize, Message),
    ) {
        match index {
            0x00 => self.id = (value >> 24) as u8 & 0xF,
            0x10..=0x3F => {
                let pin = (index as usize - 0x10) / 2;
                let old = self.entries[pin];
                let (mask, shift) = if index.is_multiple_of(2) {
                    (0xFFFF_FFFF, 0)
                } else {
                    (!0xFFFF_FFFF, 32)
                };
                let mut entry =
                    (old & !(mask & WRITABLE)) | ((value as u64) << shift & mask & WRITABLE);
                // Remote IRR belongs to level-triggered delivery: switching
                // to edge drops it (as QEMU does).
                if entry & TRIGGER_LEVEL == 0 {
                    entry &= !REMOTE_IRR;
                }
                self.entries[pin] = entry;
                self.service(pin, deliver);
            }
            // Version, arbitration and the rest are read-only.
            _ => {}
        }
    }

    /// A read of `size` bytes at `offset` in the MMIO window.
    ///
    /// **Choice:** IOREGSEL reads its 8 bits at any width; IOWIN needs a
    /// 4-byte access; anything else reads 0.
    #[must_use]
    pub fn read_mmio(&self, offset: u64, size: u8) -> u64 {
        match (offset, size) {
            (IOREGSEL, 1 | 2 | 4) => self.select as u64,
            (IOWIN, 4) => self.read_register(self.select) as u64,
            _ => 0,
        }
    }

    /// A write of `size` bytes of `value` at `offset` in the MMIO window
    /// (same access rules as [`read_mmio`](Self::read_mmio); the EOI
    /// register takes a 4-byte write of the vector).
    pub fn write_mmio(
        &mut self,
        offset: u64,
        size: u8,
        value: u64,
        deliver: &mut impl FnMut(usize, Message),
    ) {
        match (offset, size) {
            (IOREGSEL, 1 | 2 | 4) => self.select = value as u8,
            (IOWIN, 4) => self.write_register(self.select, value as u32, deliver),
            (IOEOI, 4) => self.eoi(value as u8, deliver),
            _ => {}
        }
    }

    /// The device on `pin` drives it to `asserted` (logical level: the
    /// polarity bit is kept for software but not applied, since devices
    /// report assertion, not voltage — as QEMU and Linux's KVM do). An
    /// out-of-range pin is ignored.
    ///
    /// Edge-triggered: a rising edge on an unmasked pin delivers; an edge
    /// on a masked pin is lost ("Edge-sensitive interrupts signaled on a
    /// masked interrupt pin are ignored", 82093AA §3.2.4). Level-triggered:
    /// an asserted, unmasked pin delivers unless its remote IRR is set.
    pub fn set_line(
        &mut self,
        pin: usize,
        asserted: bool,
        deliver: &mut impl FnMut(usize, Message),
    ) {
        if pin >= IOAPIC_PINS {
            return;
        }
        let bit = 1 << pin;
        let rising = asserted && self.lines & bit == 0;
        if asserted {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
        if self.waits_for_eoi(pin) {
            self.service(pin, deliver);
        } else if rising && self.entries[pin] & (MASKED | REMOTE_IRR) == 0 {
            // (A remote IRR left from before a mode change still holds the
            // pin until its EOI.)
            deliver(pin, self.message(pin));
        }
    }

    /// Whether entry `pin` is level-triggered with an EOI to wait for:
    /// fixed or lowest priority. Level-triggered NMI, INIT or ExtINT have
    /// no EOI, so they are taken on the rising edge (**Choice**, to avoid
    /// a storm; no guest programs them).
    fn waits_for_eoi(&self, pin: usize) -> bool {
        self.entries[pin] & TRIGGER_LEVEL != 0
            && matches!(
                self.mode(pin),
                Some(DeliveryMode::Fixed | DeliveryMode::LowestPriority)
            )
    }

    /// Whether the device holds `pin` asserted.
    #[must_use]
    pub const fn line(&self, pin: usize) -> bool {
        pin < IOAPIC_PINS && self.lines & (1 << pin) != 0
    }

    /// An EOI for `vector` (a local APIC's broadcast, or a write of the EOI
    /// register): every level-triggered entry with that vector and its
    /// remote IRR set has it cleared, and delivers again if its pin is
    /// still asserted.
    pub fn eoi(&mut self, vector: u8, deliver: &mut impl FnMut(usize, Message)) {
        for pin in 0..IOAPIC_PINS {
            let entry = self.entries[pin];
            if entry & REMOTE_IRR != 0 && entry & VECTOR == vector as u64 {
                self.entries[pin] &= !REMOTE_IRR;
                self.service(pin, deliver);
            }
        }
    }

    /// Delivers a level-triggered pin if it is due, and sets its remote
    /// IRR.
    fn service(&mut self, pin: usize, deliver: &mut impl FnMut(usize, Message)) {
        let due = self.waits_for_eoi(pin)
            && self.entries[pin] & (MASKED | REMOTE_IRR) == 0
            && self.lines & (1 << pin) != 0;
        if due {
            self.entries[pin] |= REMOTE_IRR;
            deliver(pin, self.message(pin));
        }
    }

    fn mode(&self, pin: usize) -> Option<DeliveryMode> {
        DeliveryMode::from_bits((self.entries[pin] >> 8) as u32)
    }

    /// The message entry `pin` sends. A reserved delivery mode (`011b`)
    /// is sent as fixed (**Choice**: the datasheet leaves it undefined).
    fn message(&self, pin: usize) -> Message {
        let entry = self.entries[pin];
        Message {
            mode: self.mode(pin).unwrap_or(DeliveryMode::Fixed),
            vector: entry as u8,
            trigger: if entry & TRIGGER_LEVEL != 0 {
                Trigger::Level
            } else {
                Trigger::Edge
            },
            target: Target::Destination(Destination {
                mode: if entry & DESTINATION_MODE != 0 {
                    DestinationMode::Logical
                } else {
                    DestinationMode::Physical
                },
                id: (entry >> 56) as u32,
                width: IdWidth::Xapic,
            }),
        }
    }
}
