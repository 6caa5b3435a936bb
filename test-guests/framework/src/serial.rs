//! Polled output and input on COM1 (a 16550 UART).
//!
//! The UART is used as the firmware leaves it: Tessera's serial device and
//! QEMU's both send whatever reaches the transmit register, so there is no
//! baud rate to program. Lines end in CR LF, as serial terminals expect.

use core::fmt;

use tessera_abi::vm::guest_ports::COM1;

use crate::port::{inb, outb};

/// Transmitter holding register (write), receiver buffer register (read).
const TRANSMIT: u16 = COM1;
const RECEIVE: u16 = COM1;
/// Line status register.
const LINE_STATUS: u16 = COM1 + 5;
/// Line status: the transmitter holding register is empty.
const TRANSMIT_EMPTY: u8 = 1 << 5;
/// Line status: a received byte waits in the receiver buffer.
const DATA_READY: u8 = 1 << 0;
/// A UART that never reports an empty transmitter must not hang the guest
/// forever: after this many polls the byte is sent regardless.
const POLL_LIMIT: u32 = 1 << 20;

/// COM1. A unit struct: the port is global and the guests are single
/// threaded, so any number of writers may exist.
#[derive(Clone, Copy, Debug, Default)]
pub struct Serial;

impl Serial {
    pub fn write_byte(self, byte: u8) {
        let mut polls = 0;
        while inb(LINE_STATUS) & TRANSMIT_EMPTY == 0 && polls < POLL_LIMIT {
            polls += 1;
        }
        outb(TRANSMIT, byte);
    }

    /// The next received byte, if one waits (LSR.DR).
    pub fn try_read_byte(self) -> Option<u8> {
        (inb(LINE_STATUS) & DATA_READY != 0).then(|| inb(RECEIVE))
    }

    /// Waits (polling LSR.DR) for the next received byte.
    pub fn read_byte(self) -> u8 {
        loop {
            if let Some(byte) = self.try_read_byte() {
                return byte;
            }
            core::hint::spin_loop();
        }
    }

    /// Reads one line into `line` up to CR or LF (not stored); bytes past
    /// its end are dropped. Returns the line's length.
    pub fn read_line(self, line: &mut [u8]) -> usize {
        let mut len = 0;
        loop {
            match self.read_byte() {
                b'\r' | b'\n' if len > 0 => return len,
                b'\r' | b'\n' => {}
                byte => {
                    if let Some(slot) = line.get_mut(len) {
                        *slot = byte;
                        len += 1;
                    }
                }
            }
        }
    }
}

impl fmt::Write for Serial {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.write_byte(b'\r');
            }
            self.write_byte(byte);
        }
        Ok(())
    }
}

/// Writes formatted text to COM1.
pub fn print(args: fmt::Arguments<'_>) {
    // Writing to the UART cannot fail.
    let _ = fmt::Write::write_fmt(&mut Serial, args);
}

/// `print!` to COM1.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::serial::print(::core::format_args!($($arg)*))
    };
}

/// `println!` to COM1 (CR LF line ends).
#[macro_export]
macro_rules! println {
    () => {
        $crate::serial::print(::core::format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::serial::print(::core::format_args!("{}\n", ::core::format_args!($($arg)*)))
    };
}
