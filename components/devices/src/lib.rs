//! The guest devices: what the `devices` component answers to the port-I/O
//! exits of any number of partitions, one device state per caller badge
//! (each partition's route carries its own badge).
//!
//! Devices:
//!
//! | ports | device |
//! | --- | --- |
//! | `0x3F8..=0x3FF` (COM1) | a 16550A UART ([`uart16550`]); its output is logged line by line as `<partition>: <text>` |
//!
//! An access wider than a byte is split into byte accesses to consecutive
//! ports, as the ISA bus does for 8-bit devices. A port routed here that no
//! device implements reads all ones; writes to it are dropped.
//!
//! The exit protocol is `tessera_rt::vm_exit`: `IN` is answered with the
//! value (masked to the access size) and an RIP advance, `OUT` with an RIP
//! advance. A partition attach ([`Exit::PartitionAttach`]) names the
//! partition behind a badge (until then its lines are tagged
//! `partition <badge>`) and resets its devices: the partition manager
//! sends it before the partition starts. Anything else (another exit
//! kind, a malformed or unknown message) stops the VP, with a warning.
//!
//! What is typed on the console reaches one partition's COM1, the
//! *console partition*: with [`Devices::with_console_input`] (the
//! component holds the console's input), the first partition that
//! attaches. When its guest reads the receive buffer or the line status
//! and the receiver is empty, the bytes waiting upstream ([`TypedInput`],
//! the kernel's console input) are taken into it, as many as it holds; a
//! polling guest sees LSR.DR and reads them from RBR.
//!
//! Interrupts: COM1's INTR output drives IRQ 4 of its partition through
//! [`InterruptLines`] (in the component, the partition's line capability
//! to `platform`): after each access the output is compared with what the
//! line was last driven to, and a change is sent. Typed input reaches the
//! receiver only when the guest reads RBR or LSR (above), so a guest that
//! waits for a received-data interrupt without polling does not see what
//! is typed until then.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub mod line;
pub mod uart16550;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::ops::RangeInclusive;

use log::Level;
use tessera_rt::abi::vm::guest_ports::COM1;
use tessera_rt::vm_exit::{Escaped, Exit, ExitError, ExitMessage, ExitReply, PartitionName};

use line::LineBuffer;
use uart16550::Uart16550;

/// COM1's ports.
pub const COM1_PORTS: RangeInclusive<u16> = COM1..=COM1 + 7;

/// COM1's ISA IRQ (the I/O APIC and 8259 pin).
pub const COM1_IRQ: u8 = 4;

/// Where interrupt lines go: `platform`, through the line capability of
/// the partition behind `badge`.
pub trait InterruptLines {
    /// Drives `pin` of the partition behind `badge` to `level`.
    fn drive(&mut self, badge: u64, pin: u8, level: bool);
}

/// No interrupt lines at all.
#[derive(Debug)]
pub struct NoLines;

impl InterruptLines for NoLines {
    fn drive(&mut self, _: u64, _: u8, _: bool) {}
}

/// The answer to one exit, and what to log about it: guest output
/// (`Info`), attaches (`Info`), refused messages (`Warn`).
pub use tessera_rt::vm_exit::Handled;

/// One partition's devices.
#[derive(Clone, Debug, Default)]
struct Partition {
    name: Option<PartitionName>,
    com1: Uart16550,
    com1_line: LineBuffer,
    /// What COM1's IRQ line was last driven to.
    com1_irq: bool,
}

/// How a partition shows in log lines: its name, or `partition <badge>`
/// before it attached.
struct Tag<'a>(u64, Option<&'a PartitionName>);

impl fmt::Display for Tag<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(name) if !name.is_empty() => write!(f, "{name}"),
            _ => write!(f, "partition {}", self.0),
        }
    }
}

/// Where typed bytes come from: the kernel's console input, in the
/// component (`Console::read`).
pub trait TypedInput {
    /// Up to `buffer.len()` typed bytes, oldest first; how many (never
    /// blocks).
    fn read(&mut self, buffer: &mut [u8]) -> usize;
}

/// No typed input at all.
#[derive(Debug)]
pub struct NoInput;

impl TypedInput for NoInput {
    fn read(&mut self, _: &mut [u8]) -> usize {
        0
    }
}

/// The devices of every partition that called, by badge.
#[derive(Clone, Debug, Default)]
pub struct Devices {
    partitions: BTreeMap<u64, Partition>,
    /// Whether typed input is there to hand on.
    takes_input: bool,
    /// The console partition, once it attached.
    console: Option<u64>,
}

impl Devices {
    pub const fn new() -> Self {
        Self {
            partitions: BTreeMap::new(),
            takes_input: false,
            console: None,
        }
    }

    /// Devices whose first attached partition gets what is typed.
    pub const fn with_console_input() -> Self {
        Self {
            partitions: BTreeMap::new(),
            takes_input: true,
            console: None,
        }
    }

    /// How many partitions (badges) have device state.
    pub fn partitions(&self) -> usize {
        self.partitions.len()
    }

    /// Answers one message from the caller with `badge`, without typed
    /// input.
    pub fn handle(&mut self, badge: u64, message: &ExitMessage) -> Handled {
        self.handle_with(badge, message, &mut NoInput)
    }

    /// Answers one message from the caller with `badge`; the console
    /// partition's COM1 receives from `input`.
    pub fn handle_with(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        input: &mut dyn TypedInput,
    ) -> Handled {
        self.handle_with_lines(badge, message, input, &mut NoLines)
    }

    /// Answers one message as [`Devices::handle_with`] does, and drives
    /// COM1's IRQ line of the partition through `lines` when its INTR
    /// output changed.
    pub fn handle_with_lines(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        input: &mut dyn TypedInput,
        lines: &mut dyn InterruptLines,
    ) -> Handled {
        let handled = self.dispatch(badge, message, input);
        if let Some(partition) = self.partitions.get_mut(&badge) {
            if partition.com1.take_thr_refilled() && partition.com1_irq {
                partition.com1_irq = false;
                lines.drive(badge, COM1_IRQ, false);
            }
            let level = partition.com1.interrupt();
            if level != partition.com1_irq {
                partition.com1_irq = level;
                lines.drive(badge, COM1_IRQ, level);
            }
        }
        handled
    }

    fn dispatch(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        input: &mut dyn TypedInput,
    ) -> Handled {
        match message.exit {
            Ok(Exit::IoPort {
                port,
                size,
                write,
                value,
            }) => {
                let typed: &mut dyn TypedInput = if self.console == Some(badge) {
                    input
                } else {
                    &mut NoInput
                };
                self.io(badge, port, size, write, value, typed)
            }
            Ok(Exit::PartitionAttach { name }) => self.attach(badge, name),
            _ => {
                let partition = self.partitions.get(&badge);
                let tag = Tag(badge, partition.and_then(|p| p.name.as_ref()));
                let warning = refusal(&tag, message);
                Handled {
                    reply: ExitReply::new().stop(),
                    log: alloc::vec![(Level::Warn, warning)],
                }
            }
        }
    }

    fn attach(&mut self, badge: u64, name: PartitionName) -> Handled {
        let partition = self.partitions.entry(badge).or_default();
        let mut log = Vec::new();
        // A partition (re)starts: what the old one left unfinished is
        // logged under its old tag, then its devices reset.
        if let Some(partial) = partition.com1_line.take_partial() {
            let tag = Tag(badge, partition.name.as_ref());
            log.push((Level::Info, format!("{tag}: {}", Escaped(&partial))));
        }
        if partition.name != Some(name) {
            log.push((Level::Info, format!("badge {badge} is partition {name}")));
        }
        if self.takes_input && self.console.is_none() {
            self.console = Some(badge);
            log.push((
                Level::Info,
                format!("what is typed on the console goes to partition {name}'s COM1"),
            ));
        }
        *partition = Partition {
            name: Some(name),
            ..Partition::default()
        };
        Handled {
            reply: ExitReply::accept_attach(),
            log,
        }
    }

    /// `IN` or `OUT` of `size` bytes (1, 2 or 4: the parser checked) at
    /// `port`.
    fn io(
        &mut self,
        badge: u64,
        port: u16,
        size: u8,
        write: bool,
        value: u32,
        input: &mut dyn TypedInput,
    ) -> Handled {
        let partition = self.partitions.entry(badge).or_default();
        let mut log = Vec::new();
        let mut read = 0u32;
        for i in 0..size {
            let port = port.wrapping_add(u16::from(i));
            let shift = 8 * u32::from(i);
            if write {
                let byte = (value >> shift) as u8;
                if let Some(line) = partition.write_byte(port, byte) {
                    let tag = Tag(badge, partition.name.as_ref());
                    log.push((Level::Info, format!("{tag}: {}", Escaped(&line))));
                }
            } else {
                read |= u32::from(partition.read_byte(port, input)) << shift;
            }
        }
        let reply = if write {
            ExitReply::new().advance_rip()
        } else {
            ExitReply::new().io_read_result(read).advance_rip()
        };
        Handled { reply, log }
    }
}

impl Partition {
    fn read_byte(&mut self, port: u16, input: &mut dyn TypedInput) -> u8 {
        if !COM1_PORTS.contains(&port) {
            return 0xFF;
        }
        let offset = (port - COM1) as u8;
        // The guest looks for received data: what was typed comes in now.
        if offset == uart16550::offset::DATA || offset == uart16550::offset::LSR {
            let mut typed = [0u8; uart16550::FIFO_DEPTH];
            let room = self.com1.line_room().min(typed.len());
            let count = input.read(&mut typed[..room]).min(room);
            for &byte in &typed[..count] {
                self.com1.receive(byte);
            }
        }
        self.com1.read(offset)
    }

    /// Writes a byte; a completed output line, if this finished one.
    fn write_byte(&mut self, port: u16, byte: u8) -> Option<Vec<u8>> {
        if !COM1_PORTS.contains(&port) {
            return None;
        }
        let sent = self.com1.write((port - COM1) as u8, byte)?;
        self.com1_line.push(sent)
    }
}

/// The warning for a message this component does not answer.
fn refusal(tag: &Tag<'_>, message: &ExitMessage) -> String {
    match message.exit {
        Err(ExitError::Unknown(t)) => format!(
            "{tag}: unknown message type {t:#x} (VP {}); stopping the VP",
            message.vp_index
        ),
        Err(ExitError::Malformed { field, .. }) => format!(
            "{tag}: malformed {} message (bad {field}, VP {}); stopping the VP",
            message.type_name().unwrap_or("exit"),
            message.vp_index
        ),
        Ok(exit) => format!(
            "{tag}: no device handles {exit:?} (VP {}); stopping the VP",
            message.vp_index
        ),
    }
}

#[cfg(test)]
mod tests;
