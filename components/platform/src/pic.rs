//! One 8259A programmable interrupt controller: initialisation words,
//! operation command words, IRR/ISR/IMR, priority with rotation, special
//! mask and special fully nested modes, automatic EOI, polling.
//!
//! Intel 8259A datasheet (order 231468): "Initialization Command Words",
//! "Operation Command Words" (OCW1–OCW3), "Priority Modes", "Poll
//! Command", "Reading the 8259A Status", "Edge and Level Triggered
//! Modes". The pair and its I/O ports are [`crate::pic_pair`].

/// Where the initialisation sequence is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Init {
    /// Initialised (or never): data-port writes are OCW1.
    Ready,
    /// ICW1 came; next data write is ICW2.
    Icw2,
    /// Next data write is ICW3 (cascade mode).
    Icw3,
    /// Next data write is ICW4 (ICW1 bit 0).
    Icw4,
}

/// One 8259A.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Pic {
    irr: u8,
    isr: u8,
    imr: u8,
    /// The input pin levels.
    lines: u8,
    /// Inputs that are level-triggered (from the ELCR).
    level: u8,
    /// ICW2 bits 7:3.
    vector_base: u8,
    /// The IR with the highest priority (0 after init: IR0 highest, IR7
    /// lowest); rotation moves it.
    highest: u8,
    init: Init,
    needs_icw4: bool,
    single: bool,
    /// ICW3: slave mask (master) or ID (slave); kept for reads of state.
    cascade: u8,
    auto_eoi: bool,
    rotate_in_auto_eoi: bool,
    special_fully_nested: bool,
    special_mask: bool,
    read_isr: bool,
    poll: bool,
}

impl Default for Pic {
    fn default() -> Self {
        Self::new()
    }
}

/// A command port write is ICW1 if bit 4 is set, OCW3 if bit 3 is set,
/// else OCW2.
const ICW1: u8 = 0x10;
const OCW3: u8 = 0x08;

impl Pic {
    /// A PIC at power-on: everything clear, not yet initialised.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            irr: 0,
            isr: 0,
            imr: 0,
            lines: 0,
            level: 0,
            vector_base: 0,
            highest: 0,
            init: Init::Ready,
            needs_icw4: false,
            single: false,
            cascade: 0,
            auto_eoi: false,
            rotate_in_auto_eoi: false,
            special_fully_nested: false,
            special_mask: false,
            read_isr: false,
            poll: false,
        }
    }

    /// The interrupt request register.
    #[must_use]
    pub const fn irr(&self) -> u8 {
        self.irr
    }

    /// The in-service register.
    #[must_use]
    pub const fn isr(&self) -> u8 {
        self.isr
    }

    /// The interrupt mask register.
    #[must_use]
    pub const fn imr(&self) -> u8 {
        self.imr
    }

    /// ICW2's vector base.
    #[must_use]
    pub const fn vector_base(&self) -> u8 {
        self.vector_base
    }

    /// Sets which inputs are level-triggered (the ELCR byte).
    pub fn set_level_triggered(&mut self, mask: u8) {
        self.level = mask;
        // A level input's request is its level.
        self.irr = (self.irr & !mask) | (self.lines & mask);
    }

    /// A write to the command port (`0x20`/`0xA0`).
    pub fn write_command(&mut self, value: u8) {
        if value & ICW1 != 0 {
            self.icw1(value);
        } else if value & OCW3 != 0 {
            self.ocw3(value);
        } else {
            self.ocw2(value);
        }
    }

    /// A write to the data port (`0x21`/`0xA1`): the next ICW during
    /// initialisation, OCW1 (the mask) otherwise.
    pub fn write_data(&mut self, value: u8) {
        match self.init {
            Init::Ready => self.imr = value,
            Init::Icw2 => {
                self.vector_base = value & 0xF8;
                self.init = if !self.single {
                    Init::Icw3
                } else if self.needs_icw4 {
                    Init::Icw4
                } else {
                    Init::Ready
                };
            }
            Init::Icw3 => {
                self.cascade = value;
                self.init = if self.needs_icw4 {
                    Init::Icw4
                } else {
                    Init::Ready
                };
            }
            Init::Icw4 => {
                // Bit 0 (8086 mode) is assumed; bits 2–3 (buffered mode)
                // mean nothing without a bus.
                self.auto_eoi = value & 2 != 0;
                self.special_fully_nested = value & 0x10 != 0;
                self.init = Init::Ready;
            }
        }
    }

    /// ICW1: "a. The edge sense circuit is reset ... b. The Interrupt Mask
    /// Register is cleared. c. IR7 input is assigned priority 7 ... e.
    /// Special Mask Mode is cleared and Status Read is set to IRR. f. If
    /// IC4 = 0, then all functions selected in ICW4 are set to zero."
    /// Bit 3 (LTIM) is ignored: the ELCR decides edge or level, as in the
    /// PIIX and QEMU. The in-service register is cleared too (as QEMU).
    fn icw1(&mut self, value: u8) {
        *self = Self {
            // Edge requests are forgotten: a line already high must go
            // low and high again. Level requests follow their lines.
            irr: self.lines & self.level,
            lines: self.lines,
            level: self.level,
            needs_icw4: value & 1 != 0,
            single: value & 2 != 0,
            init: Init::Icw2,
            ..Self::new()
        };
    }

    fn ocw2(&mut self, value: u8) {
        let level = value & 7;
        match value >> 5 {
            // Non-specific EOI, optionally rotating.
            0b001 | 0b101 => {
                if let Some(irq) = self.highest_in(self.isr) {
                    self.isr &= !(1 << irq);
                    if value >> 5 == 0b101 {
                        self.highest = (irq + 1) & 7;
                    }
                }
            }
            // Specific EOI, optionally rotating.
            0b011 | 0b111 => {
                self.isr &= !(1 << level);
                if value >> 5 == 0b111 {
                    self.highest = (level + 1) & 7;
                }
            }
            // Set priority: `level` becomes the lowest.
            0b110 => self.highest = (level + 1) & 7,
            0b100 => self.rotate_in_auto_eoi = true,
            0b000 => self.rotate_in_auto_eoi = false,
            // 0b010: no operation.
            _ => {}
        }
    }

    fn ocw3(&mut self, value: u8) {
        if value & 2 != 0 {
            self.read_isr = value & 1 != 0;
        }
        if value & 0x40 != 0 {
            self.special_mask = value & 0x20 != 0;
        }
        self.poll = value & 4 != 0;
    }

    /// The IR of highest priority among `mask`'s bits, given the rotation.
    fn highest_in(&self, mask: u8) -> Option<u8> {
        (0..8)
            .map(|p| (self.highest + p) & 7)
            .find(|irq| mask & (1 << irq) != 0)
    }

    /// The priority rank of `irq` (0 highest).
    const fn rank(&self, irq: u8) -> u8 {
        irq.wrapping_sub(self.highest) & 7
    }

    /// The request the PIC raises its INT output for, if any: the
    /// highest-priority unmasked request above every in-service level that
    /// blocks it. In special mask mode an in-service level that software
    /// masked no longer blocks ("enables interrupts from all other levels
    /// (lower as well as higher) that are not masked"; QEMU reads it the
    /// same way); in special fully
    /// nested mode (a master) the cascade input's in-service bit does not
    /// block further requests from the same slave.
    #[must_use]
    pub fn pending(&self, cascade_input: Option<u8>) -> Option<u8> {
        let irq = self.highest_in(self.irr & !self.imr)?;
        let mut blocking = self.isr;
        if self.special_mask {
            blocking &= !self.imr;
        }
        if self.special_fully_nested
            && let Some(cascade) = cascade_input
        {
            blocking &= !(1 << cascade);
        }
        match self.highest_in(blocking) {
            Some(busy) if self.rank(busy) <= self.rank(irq) => None,
            _ => Some(irq),
        }
    }

    /// The INTA cycle: the pending request is acknowledged — its ISR bit
    /// set (unless in automatic-EOI mode, which rotates if asked), an edge
    /// request's IRR bit cleared — and its IR returned. `None` when nothing
    /// is pending: the caller answers with IR7, the spurious interrupt,
    /// without setting ISR.
    pub fn acknowledge(&mut self, cascade_input: Option<u8>) -> Option<u8> {
        let irq = self.pending(cascade_input)?;
        if self.level & (1 << irq) == 0 {
            self.irr &= !(1 << irq);
        }
        if self.auto_eoi {
            if self.rotate_in_auto_eoi {
                self.highest = (irq + 1) & 7;
            }
        } else {
            self.isr |= 1 << irq;
        }
        Some(irq)
    }

    /// Drives input `irq` (0–7) to `level`: an edge input latches a request
    /// on the rising edge (kept until acknowledged); a level input's
    /// request is its level.
    pub fn set_line(&mut self, irq: u8, level: bool) {
        let bit = 1 << (irq & 7);
        let rising = level && self.lines & bit == 0;
        if level {
            self.lines |= bit;
        } else {
            self.lines &= !bit;
        }
        if self.level & bit != 0 {
            self.irr = (self.irr & !bit) | (self.lines & bit);
        } else if rising {
            self.irr |= bit;
        }
    }

    /// A read of the command port: the poll word if a poll command is
    /// pending (then the poll acknowledges, as an INTA does: "the 8259A
    /// treats the next RD pulse ... as an interrupt acknowledge"), else
    /// IRR or ISR as OCW3 selected.
    pub fn read_command(&mut self, cascade_input: Option<u8>) -> u8 {
        if self.poll {
            return self.poll_word(cascade_input);
        }
        if self.read_isr { self.isr } else { self.irr }
    }

    /// A read of the data port: the poll word if a poll is pending, else
    /// the mask.
    pub fn read_data(&mut self, cascade_input: Option<u8>) -> u8 {
        if self.poll {
            return self.poll_word(cascade_input);
        }
        self.imr
    }

    /// "I = 1 if there is an interrupt; W2–W0: binary code of the highest
    /// priority level requesting service."
    fn poll_word(&mut self, cascade_input: Option<u8>) -> u8 {
        self.poll = false;
        match self.acknowledge(cascade_input) {
            Some(irq) => 0x80 | irq,
            None => 0,
        }
    }
}
