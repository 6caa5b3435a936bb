//! A 16550A UART as seen through its eight I/O ports: a pure state machine,
//! one byte per access.
//!
//! Enough of the chip for Linux's 8250 driver to probe a 16550A (the IER
//! existence test, the loopback test on MSR, the FIFO bits of IIR, the
//! scratch register) and for polled output: a byte written to THR leaves
//! at once, so LSR always shows THRE and TEMT.
//!
//! | offset | DLAB = 0 read | DLAB = 0 write | DLAB = 1 |
//! | --- | --- | --- | --- |
//! | 0 | RBR | THR | DLL |
//! | 1 | IER | IER | DLM |
//! | 2 | IIR | FCR | (same as DLAB = 0) |
//! | 3 | LCR | LCR | |
//! | 4 | MCR | MCR | |
//! | 5 | LSR | ignored | |
//! | 6 | MSR | ignored | |
//! | 7 | SCR | SCR | |
//!
//! - Loopback (MCR bit 4): THR goes to the receiver instead of the line,
//!   and MSR's status bits follow MCR (CTS = RTS, DSR = DTR, RI = OUT1,
//!   DCD = OUT2). Outside loopback the line looks like a connected
//!   terminal: DCD, DSR and CTS set.
//! - The receiver holds one byte, or 16 with the FIFOs enabled (FCR bit 0,
//!   which also sets IIR bits 7:6); a byte arriving when it is full sets
//!   the overrun bit of LSR, which reading LSR clears. The line (what is
//!   typed on the console) delivers only when the receiver is empty
//!   ([`Uart16550::line_room`]), so typed bytes are never overrun: they
//!   wait upstream until the guest reads RBR.
//! - **Interrupts** as the PC16550D datasheet orders them (Table IV),
//!   each only while its IER bit is set: receiver line status (an
//!   overrun; reading LSR clears it), received data (with the FIFOs, at
//!   the trigger level, below it as a character timeout, since no more
//!   bytes come until the guest reads; reading RBR clears it), transmitter
//!   holding register empty (set when THR empties — at once after each
//!   write, as the byte leaves at once — and when ETBEI is enabled; reading
//!   IIR while it is the reported source, or writing THR, clears it) and
//!   modem status (an MSR delta; reading MSR clears it). IIR names the
//!   highest; [`Uart16550::interrupt`] is the chip's INTR output, which
//!   `devices` drives the partition's IRQ 4 line with. **Choice** (as
//!   QEMU): OUT2 does not gate the output.

/// Register offsets from the base port.
pub mod offset {
    /// RBR (read) / THR (write); DLL with DLAB.
    pub const DATA: u8 = 0;
    /// IER; DLM with DLAB.
    pub const IER: u8 = 1;
    /// IIR (read) / FCR (write).
    pub const IIR_FCR: u8 = 2;
    pub const LCR: u8 = 3;
    pub const MCR: u8 = 4;
    pub const LSR: u8 = 5;
    pub const MSR: u8 = 6;
    pub const SCR: u8 = 7;
}

/// Register bits.
pub mod bits {
    /// IER: the four interrupt enables (the rest read as 0).
    pub const IER_MASK: u8 = 0x0F;
    /// IER: received data, THR empty, receiver line status, modem status.
    pub const IER_ERBFI: u8 = 0x01;
    pub const IER_ETBEI: u8 = 0x02;
    pub const IER_ELSI: u8 = 0x04;
    pub const IER_EDSSI: u8 = 0x08;
    /// IIR: no interrupt pending.
    pub const IIR_NO_INTERRUPT: u8 = 0x01;
    /// IIR bits 3:0 per source, highest priority first (PC16550D Table IV).
    pub const IIR_LINE_STATUS: u8 = 0x06;
    pub const IIR_RX_DATA: u8 = 0x04;
    pub const IIR_TIMEOUT: u8 = 0x0C;
    pub const IIR_THR_EMPTY: u8 = 0x02;
    pub const IIR_MODEM_STATUS: u8 = 0x00;
    /// IIR bits 7:6: the FIFOs are enabled.
    pub const IIR_FIFOS_ENABLED: u8 = 0xC0;
    /// FCR: enable the FIFOs.
    pub const FCR_ENABLE: u8 = 0x01;
    /// FCR: clear the receive FIFO (self-clearing).
    pub const FCR_CLEAR_RX: u8 = 0x02;
    /// FCR: clear the transmit FIFO (self-clearing).
    pub const FCR_CLEAR_TX: u8 = 0x04;
    /// LCR: divisor latch access.
    pub const LCR_DLAB: u8 = 0x80;
    /// MCR: the five defined bits (DTR, RTS, OUT1, OUT2, LOOP).
    pub const MCR_MASK: u8 = 0x1F;
    pub const MCR_DTR: u8 = 0x01;
    pub const MCR_RTS: u8 = 0x02;
    pub const MCR_OUT1: u8 = 0x04;
    pub const MCR_OUT2: u8 = 0x08;
    pub const MCR_LOOP: u8 = 0x10;
    /// LSR: data ready.
    pub const LSR_DR: u8 = 0x01;
    /// LSR: overrun error.
    pub const LSR_OE: u8 = 0x02;
    /// LSR: transmit holding register empty.
    pub const LSR_THRE: u8 = 0x20;
    /// LSR: transmitter empty.
    pub const LSR_TEMT: u8 = 0x40;
    /// MSR deltas: CTS changed, DSR changed, RI trailing edge, DCD changed.
    pub const MSR_DCTS: u8 = 0x01;
    pub const MSR_DDSR: u8 = 0x02;
    pub const MSR_TERI: u8 = 0x04;
    pub const MSR_DDCD: u8 = 0x08;
    /// MSR status: clear to send, data set ready, ring indicator, carrier
    /// detect.
    pub const MSR_CTS: u8 = 0x10;
    pub const MSR_DSR: u8 = 0x20;
    pub const MSR_RI: u8 = 0x40;
    pub const MSR_DCD: u8 = 0x80;
}

use bits::*;

/// The receive FIFO's depth.
pub const FIFO_DEPTH: usize = 16;

/// The divisor latch after reset: 12, 9600 baud from the 1.8432 MHz clock.
pub const RESET_DIVISOR: u16 = 12;

/// One 16550A.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uart16550 {
    ier: u8,
    /// FCR bits that stick: enable, DMA mode, trigger level.
    fcr: u8,
    lcr: u8,
    mcr: u8,
    scr: u8,
    divisor: u16,
    overrun: bool,
    /// MSR delta bits not yet read.
    msr_deltas: u8,
    /// The receive FIFO (a ring; one slot used without FIFOs).
    rx: [u8; FIFO_DEPTH],
    rx_head: usize,
    rx_len: usize,
    /// What RBR reads when the receiver is empty: the last byte read.
    last_rbr: u8,
    /// The THR-empty interrupt is pending (see the module comment).
    thre_pending: bool,
    /// THR was written since [`Uart16550::take_thr_refilled`]: the
    /// THR-empty interrupt dropped and rose again within the access.
    thr_refilled: bool,
}

impl Default for Uart16550 {
    fn default() -> Self {
        Self::new()
    }
}

impl Uart16550 {
    /// A UART in its reset state.
    pub const fn new() -> Self {
        Self {
            ier: 0,
            fcr: 0,
            lcr: 0,
            mcr: 0,
            scr: 0,
            divisor: RESET_DIVISOR,
            overrun: false,
            msr_deltas: 0,
            rx: [0; FIFO_DEPTH],
            rx_head: 0,
            rx_len: 0,
            last_rbr: 0,
            thre_pending: false,
            thr_refilled: false,
        }
    }

    fn dlab(&self) -> bool {
        self.lcr & LCR_DLAB != 0
    }

    fn fifos_enabled(&self) -> bool {
        self.fcr & FCR_ENABLE != 0
    }

    fn loopback(&self) -> bool {
        self.mcr & MCR_LOOP != 0
    }

    /// The divisor latch (DLM:DLL).
    pub const fn divisor(&self) -> u16 {
        self.divisor
    }

    /// Reads the register at `offset` (taken modulo 8, as the chip's three
    /// address lines do). Reading RBR, LSR and MSR has side effects.
    pub fn read(&mut self, offset: u8) -> u8 {
        match offset % 8 {
            offset::DATA if self.dlab() => self.divisor as u8,
            offset::DATA => self.read_rbr(),
            offset::IER if self.dlab() => (self.divisor >> 8) as u8,
            offset::IER => self.ier,
            offset::IIR_FCR => {
                let iir = self.iir();
                // Reading IIR acknowledges a THR-empty interrupt it reports.
                if iir & 0x0F == IIR_THR_EMPTY {
                    self.thre_pending = false;
                }
                iir
            }
            offset::LCR => self.lcr,
            offset::MCR => self.mcr,
            offset::LSR => {
                let lsr = self.lsr();
                self.overrun = false;
                lsr
            }
            offset::MSR => {
                let msr = self.msr_status() | self.msr_deltas;
                self.msr_deltas = 0;
                msr
            }
            _ => self.scr,
        }
    }

    /// Writes `value` to the register at `offset` (modulo 8). Returns the
    /// byte the UART sends on its line, if the write was one to THR
    /// outside loopback.
    #[must_use = "a transmitted byte goes to the line"]
    pub fn write(&mut self, offset: u8, value: u8) -> Option<u8> {
        match offset % 8 {
            offset::DATA if self.dlab() => {
                self.divisor = (self.divisor & 0xFF00) | u16::from(value);
            }
            offset::DATA if self.loopback() => {
                self.thr_refilled = true;
                self.thre_pending = true;
                self.receive(value);
            }
            offset::DATA => {
                // The byte leaves at once: THR is empty again.
                self.thr_refilled = true;
                self.thre_pending = true;
                return Some(value);
            }
            offset::IER if self.dlab() => {
                self.divisor = (self.divisor & 0x00FF) | u16::from(value) << 8;
            }
            offset::IER => {
                // Enabling ETBEI with THR empty (it always is) raises it.
                if value & !self.ier & IER_ETBEI != 0 {
                    self.thre_pending = true;
                }
                self.ier = value & IER_MASK;
            }
            offset::IIR_FCR => self.write_fcr(value),
            offset::LCR => self.lcr = value,
            offset::MCR => {
                let before = self.msr_status();
                self.mcr = value & MCR_MASK;
                self.note_msr_change(before);
            }
            // LSR and MSR are read-only here (a factory-test write on some
            // chips); dropped.
            offset::LSR | offset::MSR => {}
            _ => self.scr = value,
        }
        None
    }

    /// How many bytes the line may deliver now without an overrun: 0 while
    /// the receiver holds anything (the guest has not taken what came) or
    /// in loopback (the line is cut off from the receiver); otherwise the
    /// receiver's room (16 with the FIFOs, else 1).
    pub fn line_room(&self) -> usize {
        if self.loopback() || self.rx_len > 0 {
            0
        } else if self.fifos_enabled() {
            FIFO_DEPTH
        } else {
            1
        }
    }

    /// A byte arriving on the receive side (from the line, or looped back).
    /// `false` if the receiver was full: the byte is lost and LSR shows an
    /// overrun.
    pub fn receive(&mut self, byte: u8) -> bool {
        let capacity = if self.fifos_enabled() { FIFO_DEPTH } else { 1 };
        if self.rx_len >= capacity {
            self.overrun = true;
            return false;
        }
        self.rx[(self.rx_head + self.rx_len) % FIFO_DEPTH] = byte;
        self.rx_len += 1;
        true
    }

    fn read_rbr(&mut self) -> u8 {
        if self.rx_len > 0 {
            self.last_rbr = self.rx[self.rx_head];
            self.rx_head = (self.rx_head + 1) % FIFO_DEPTH;
            self.rx_len -= 1;
        }
        self.last_rbr
    }

    fn iir(&self) -> u8 {
        let fifos = if self.fifos_enabled() {
            IIR_FIFOS_ENABLED
        } else {
            0
        };
        self.pending_source().unwrap_or(IIR_NO_INTERRUPT) | fifos
    }

    /// The IIR code of the highest enabled interrupt pending, if any.
    fn pending_source(&self) -> Option<u8> {
        if self.ier & IER_ELSI != 0 && self.overrun {
            return Some(IIR_LINE_STATUS);
        }
        if self.ier & IER_ERBFI != 0 && self.rx_len > 0 {
            let trigger = [1, 4, 8, 14][usize::from(self.fcr >> 6)];
            return Some(if self.fifos_enabled() && self.rx_len < trigger {
                IIR_TIMEOUT
            } else {
                IIR_RX_DATA
            });
        }
        if self.ier & IER_ETBEI != 0 && self.thre_pending {
            return Some(IIR_THR_EMPTY);
        }
        if self.ier & IER_EDSSI != 0 && self.msr_deltas != 0 {
            return Some(IIR_MODEM_STATUS);
        }
        None
    }

    /// Whether THR was written since the last call: the write cleared the
    /// THR-empty interrupt and the byte's leaving raised it again, so an
    /// INTR output that reads high before and after dropped in between
    /// (an edge-triggered controller must see the new edge).
    pub fn take_thr_refilled(&mut self) -> bool {
        core::mem::take(&mut self.thr_refilled)
    }

    /// The INTR output: an enabled interrupt is pending.
    pub fn interrupt(&self) -> bool {
        self.pending_source().is_some()
    }

    fn write_fcr(&mut self, value: u8) {
        let enable = value & FCR_ENABLE != 0;
        if enable != self.fifos_enabled() || value & FCR_CLEAR_RX != 0 {
            // Switching the FIFOs on or off empties them, as does the
            // clear bit. (The transmitter has nothing queued.)
            self.clear_rx();
        }
        // Enable, DMA mode (bit 3) and the trigger level (bits 7:6) stick;
        // without the enable bit the others do not matter.
        self.fcr = if enable { value & 0xC9 } else { 0 };
    }

    fn clear_rx(&mut self) {
        self.rx_head = 0;
        self.rx_len = 0;
    }

    fn lsr(&self) -> u8 {
        let mut lsr = LSR_THRE | LSR_TEMT;
        if self.rx_len > 0 {
            lsr |= LSR_DR;
        }
        if self.overrun {
            lsr |= LSR_OE;
        }
        lsr
    }

    /// MSR bits 7:4.
    fn msr_status(&self) -> u8 {
        if !self.loopback() {
            return MSR_DCD | MSR_DSR | MSR_CTS;
        }
        let mut msr = 0;
        if self.mcr & MCR_RTS != 0 {
            msr |= MSR_CTS;
        }
        if self.mcr & MCR_DTR != 0 {
            msr |= MSR_DSR;
        }
        if self.mcr & MCR_OUT1 != 0 {
            msr |= MSR_RI;
        }
        if self.mcr & MCR_OUT2 != 0 {
            msr |= MSR_DCD;
        }
        msr
    }

    fn note_msr_change(&mut self, before: u8) {
        let after = self.msr_status();
        let changed = before ^ after;
        if changed & MSR_CTS != 0 {
            self.msr_deltas |= MSR_DCTS;
        }
        if changed & MSR_DSR != 0 {
            self.msr_deltas |= MSR_DDSR;
        }
        if before & MSR_RI != 0 && after & MSR_RI == 0 {
            self.msr_deltas |= MSR_TERI;
        }
        if changed & MSR_DCD != 0 {
            self.msr_deltas |= MSR_DDCD;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::offset::*;
    use super::*;

    fn write(uart: &mut Uart16550, offset: u8, value: u8) {
        assert_eq!(uart.write(offset, value), None, "no output expected");
    }

    #[test]
    fn reset_state() {
        let mut uart = Uart16550::new();
        assert_eq!(uart.read(IER), 0);
        assert_eq!(uart.read(IIR_FCR), 0x01);
        assert_eq!(uart.read(LCR), 0);
        assert_eq!(uart.read(MCR), 0);
        assert_eq!(uart.read(LSR), 0x60, "THRE and TEMT, no data");
        assert_eq!(uart.read(MSR), 0xB0, "DCD, DSR, CTS: a terminal is there");
        assert_eq!(uart.read(SCR), 0);
        assert_eq!(uart.divisor(), RESET_DIVISOR);
        assert_eq!(uart.read(DATA), 0, "nothing received");
    }

    #[test]
    fn thr_writes_go_to_the_line() {
        let mut uart = Uart16550::new();
        assert_eq!(uart.write(DATA, b'h'), Some(b'h'));
        assert_eq!(uart.read(LSR), LSR_THRE | LSR_TEMT, "output is immediate");
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
    }

    #[test]
    fn dlab_switches_offsets_0_and_1_to_the_divisor() {
        let mut uart = Uart16550::new();
        write(&mut uart, IER, 0x05);
        write(&mut uart, LCR, 0x83);
        write(&mut uart, DATA, 0x01);
        write(&mut uart, IER, 0x00);
        assert_eq!(uart.divisor(), 1, "115200 baud");
        assert_eq!(uart.read(DATA), 0x01);
        assert_eq!(uart.read(IER), 0x00);
        write(&mut uart, IER, 0x12);
        assert_eq!(uart.divisor(), 0x1201);
        assert_eq!(uart.read(LCR), 0x83);
        // Back to data: IER kept its value, THR transmits again.
        write(&mut uart, LCR, 0x03);
        assert_eq!(uart.read(IER), 0x05);
        assert_eq!(uart.write(DATA, b'x'), Some(b'x'));
        assert_eq!(uart.divisor(), 0x1201);
        // IIR/FCR is the same with DLAB.
        write(&mut uart, LCR, 0x80);
        write(&mut uart, IIR_FCR, FCR_ENABLE);
        assert_eq!(uart.read(IIR_FCR), 0xC1);
    }

    #[test]
    fn ier_keeps_four_bits() {
        let mut uart = Uart16550::new();
        write(&mut uart, IER, 0xFF);
        assert_eq!(uart.read(IER), 0x0F);
        write(&mut uart, IER, 0x40);
        assert_eq!(uart.read(IER), 0, "no XScale UUE bit");
    }

    #[test]
    fn scratch_register() {
        let mut uart = Uart16550::new();
        for value in [0x55, 0xAA, 0x00, 0xFF] {
            write(&mut uart, SCR, value);
            assert_eq!(uart.read(SCR), value);
        }
        write(&mut uart, LCR, LCR_DLAB);
        assert_eq!(uart.read(SCR), 0xFF, "not switched by DLAB");
    }

    #[test]
    fn iir_shows_fifos() {
        let mut uart = Uart16550::new();
        assert_eq!(uart.read(IIR_FCR), 0x01);
        write(
            &mut uart,
            IIR_FCR,
            FCR_ENABLE | FCR_CLEAR_RX | FCR_CLEAR_TX | 0xC0,
        );
        assert_eq!(uart.read(IIR_FCR), 0xC1);
        assert_eq!(uart.read(IIR_FCR) >> 6, 3, "Linux: a 16550A");
        // A 64-byte FIFO request (FCR bit 5) is not a 16750.
        write(&mut uart, IIR_FCR, FCR_ENABLE | 0x20);
        assert_eq!(uart.read(IIR_FCR) & 0x20, 0);
        write(&mut uart, IIR_FCR, 0);
        assert_eq!(uart.read(IIR_FCR), 0x01);
    }

    #[test]
    fn linux_loopback_probe() {
        // drivers/tty/serial/8250/8250_port.c autoconfig(): MCR = LOOP |
        // OUT2 | RTS must read back as DCD | CTS.
        let mut uart = Uart16550::new();
        let _ = uart.read(MSR);
        write(&mut uart, MCR, MCR_LOOP | 0x0A);
        assert_eq!(uart.read(MSR) & 0xF0, MSR_DCD | MSR_CTS);
        write(&mut uart, MCR, 0);
        assert_eq!(uart.read(MSR) & 0xF0, 0xB0);
    }

    #[test]
    fn loopback_sends_thr_to_rbr() {
        let mut uart = Uart16550::new();
        write(&mut uart, MCR, MCR_LOOP);
        write(&mut uart, DATA, 0x5A);
        assert_eq!(uart.read(LSR), LSR_THRE | LSR_TEMT | LSR_DR);
        assert_eq!(uart.read(DATA), 0x5A);
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
        // Without FIFOs one byte fits: the second overruns.
        write(&mut uart, DATA, 1);
        write(&mut uart, DATA, 2);
        assert_eq!(uart.read(LSR), LSR_THRE | LSR_TEMT | LSR_DR | LSR_OE);
        assert_eq!(uart.read(LSR) & LSR_OE, 0, "reading LSR clears OE");
        assert_eq!(uart.read(DATA), 1);
        assert_eq!(uart.read(DATA), 1, "empty: RBR reads the last byte again");
        // Leaving loopback: THR is the line again.
        write(&mut uart, MCR, 0);
        assert_eq!(uart.write(DATA, b'z'), Some(b'z'));
    }

    #[test]
    fn loopback_with_fifos_holds_sixteen() {
        let mut uart = Uart16550::new();
        write(&mut uart, IIR_FCR, FCR_ENABLE);
        write(&mut uart, MCR, MCR_LOOP);
        for byte in 0..17u8 {
            write(&mut uart, DATA, byte);
        }
        assert_eq!(uart.read(LSR) & (LSR_DR | LSR_OE), LSR_DR | LSR_OE);
        let received: [u8; 16] = core::array::from_fn(|_| uart.read(DATA));
        assert_eq!(received, core::array::from_fn(|i| i as u8));
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
        // Clearing the receive FIFO empties it.
        write(&mut uart, DATA, 7);
        write(&mut uart, IIR_FCR, FCR_ENABLE | FCR_CLEAR_RX);
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
        // So does switching the FIFOs off.
        write(&mut uart, DATA, 8);
        write(&mut uart, IIR_FCR, 0);
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
    }

    #[test]
    fn msr_follows_mcr_in_loopback_with_deltas() {
        let mut uart = Uart16550::new();
        let _ = uart.read(MSR);
        // Entering loopback with everything low: DCD, DSR, CTS drop.
        write(&mut uart, MCR, MCR_LOOP);
        assert_eq!(uart.read(MSR), MSR_DCTS | MSR_DDSR | MSR_DDCD);
        assert_eq!(uart.read(MSR), 0, "reading MSR clears the deltas");
        write(
            &mut uart,
            MCR,
            MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2,
        );
        assert_eq!(uart.read(MSR), 0xF0 | MSR_DCTS | MSR_DDSR | MSR_DDCD);
        // RI falling is a trailing edge; rising is not.
        write(&mut uart, MCR, MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT2);
        assert_eq!(uart.read(MSR), MSR_CTS | MSR_DSR | MSR_DCD | MSR_TERI);
        write(
            &mut uart,
            MCR,
            MCR_LOOP | MCR_DTR | MCR_RTS | MCR_OUT1 | MCR_OUT2,
        );
        assert_eq!(uart.read(MSR), 0xF0);
    }

    #[test]
    fn mcr_keeps_five_bits_and_lsr_msr_ignore_writes() {
        let mut uart = Uart16550::new();
        write(&mut uart, MCR, 0xFF);
        assert_eq!(uart.read(MCR), 0x1F);
        write(&mut uart, MCR, 0);
        let _ = uart.read(MSR);
        write(&mut uart, LSR, 0xFF);
        write(&mut uart, MSR, 0xFF);
        assert_eq!(uart.read(LSR), 0x60);
        assert_eq!(uart.read(MSR), 0xB0);
    }

    #[test]
    fn offsets_wrap_at_eight() {
        let mut uart = Uart16550::new();
        write(&mut uart, 8 + SCR, 0x42);
        assert_eq!(uart.read(SCR), 0x42);
        assert_eq!(uart.read(0xF8 + SCR), 0x42);
    }

    #[test]
    fn the_line_delivers_only_into_an_empty_receiver() {
        let mut uart = Uart16550::new();
        assert_eq!(uart.line_room(), 1, "no FIFOs: one byte");
        assert!(uart.receive(b'a'));
        assert_eq!(uart.line_room(), 0, "the guest has not read it yet");
        assert_eq!(uart.read(LSR) & LSR_DR, LSR_DR);
        assert_eq!(uart.read(DATA), b'a');
        assert_eq!(uart.read(LSR) & LSR_DR, 0);
        write(&mut uart, IIR_FCR, FCR_ENABLE);
        assert_eq!(uart.line_room(), FIFO_DEPTH);
        write(&mut uart, MCR, MCR_LOOP);
        assert_eq!(uart.line_room(), 0, "loopback cuts the line off");
    }
}
