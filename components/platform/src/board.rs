//! One partition's platform: its I/O APIC, 8259 pair and `fw_cfg` wired
//! together, answering the exits its routes bring and the lines devices
//! drive. Pure: what must reach the kernel (an interrupt message) goes out
//! through [`InterruptBus`], so the host tests see every delivery.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use log::Level;
use tessera_lapic::destination::DestinationMode;
use tessera_lapic::{DeliveryMode, Message, Target, Trigger};
use tessera_rt::abi::vm::interrupt as wire;
use tessera_rt::vm_exit::{Exit, ExitReply, MemoryAccess, PartitionName};
use tessera_vcpu::log_budget::LineBudget;

use crate::fw_cfg::{self, FwCfg, FwCfgConfig};
use crate::ioapic::{IOAPIC_BASE, IoApic};
use crate::pic_pair::PicPair;
use crate::rtc::{self, Rtc, WallClock};

/// The I/O APIC's MMIO window (one page; the registers are in its first
/// 0x44 bytes).
pub const IOAPIC_WINDOW: core::ops::RangeInclusive<u64> = IOAPIC_BASE..=IOAPIC_BASE + 0xFFF;

/// Where interrupt messages go: the kernel's `PartitionAssertInterrupt`
/// through the partition's interrupt capability, in the component.
pub trait InterruptBus {
    /// Delivers the message of `PartitionAssertInterrupt`'s words to the
    /// partition whose interrupt capability is in `slot`; how many VPs
    /// took it, or the status code.
    fn assert(&mut self, slot: u32, vector: u8, destination: u8, flags: u64) -> Result<u64, u64>;
}

/// One partition's devices, and how to reach the partition.
#[derive(Clone, Debug)]
pub struct Board {
    pub name: PartitionName,
    pub ioapic: IoApic,
    pub pics: PicPair,
    pub fw_cfg: FwCfg,
    pub rtc: Rtc,
    /// The slot of the partition's interrupt capability (from the attach).
    pub interrupt: Option<u32>,
    /// Messages the kernel refused or nobody took, for the log.
    pub undelivered: u64,
    /// The lines undeliverable messages may still print: a guest can make
    /// one per interrupt (an entry in a delivery mode devices cannot use,
    /// a line toggled without the interrupt capability), so they print
    /// within a budget, saying how many were suppressed (as the kernel's
    /// guest lines do).
    drop_log: LineBudget,
}

/// What a handler did, for the log.
pub type Log = Vec<(Level, String)>;

impl Board {
    /// A board at power-on for a partition of `memory_bytes` and `vps`,
    /// its clock reading the host's time through `clock`.
    pub fn new(
        name: PartitionName,
        memory_bytes: u64,
        vps: u16,
        interrupt: Option<u32>,
        clock: WallClock,
    ) -> Self {
        Self {
            name,
            // The I/O APIC's ID follows the VPs' APIC IDs (0..vps), as
            // the MADT the partition manager builds says.
            ioapic: IoApic::new(vps.min(0x0F) as u8),
            pics: PicPair::new(),
            fw_cfg: FwCfg::new(FwCfgConfig {
                ram_bytes: memory_bytes,
                cpus: vps,
            }),
            rtc: Rtc::new(clock),
            interrupt,
            undelivered: 0,
            drop_log: LineBudget::default(),
        }
    }

    /// An exit routed here (never an attach: [`crate::Platform`] keeps
    /// those).
    pub fn exit(&mut self, exit: &Exit, bus: &mut dyn InterruptBus, log: &mut Log) -> ExitReply {
        match *exit {
            Exit::IoPort {
                port,
                size,
                write,
                value,
            } => {
                if write {
                    self.port_write(port, size, value);
                    ExitReply::new().advance_rip()
                } else {
                    let read = self.port_read(port, size);
                    ExitReply::new().io_read_result(read).advance_rip()
                }
            }
            Exit::Memory {
                gpa,
                access,
                size,
                value,
                ..
            } if IOAPIC_WINDOW.contains(&gpa) && size != 0 => {
                let offset = gpa - IOAPIC_BASE;
                match access {
                    MemoryAccess::Read => {
                        let read = self.ioapic.read_mmio(offset, size);
                        ExitReply::new().memory_read_result(read).advance_rip()
                    }
                    MemoryAccess::Write => {
                        let mut out = Vec::new();
                        self.ioapic
                            .write_mmio(offset, size, value, &mut |_, m| out.push(m));
                        self.send(&out, bus, log);
                        ExitReply::new().advance_rip()
                    }
                    MemoryAccess::Execute => ExitReply::new().stop(),
                }
            }
            Exit::EoiBroadcast { vector } => {
                let mut out = Vec::new();
                self.ioapic.eoi(vector, &mut |_, m| out.push(m));
                self.send(&out, bus, log);
                ExitReply::new()
            }
            _ => {
                log.push((
                    Level::Warn,
                    format!(
                        "{}: no platform device handles {exit:?}; stopping the VP",
                        self.name
                    ),
                ));
                ExitReply::new().stop()
            }
        }
    }

    /// A device drove `pin` to `level`: the I/O APIC, and for ISA IRQs
    /// (pins 0-15) the 8259 pair, see it.
    pub fn line(&mut self, pin: u8, level: bool, bus: &mut dyn InterruptBus, log: &mut Log) {
        if u64::from(pin) >= wire::PINS {
            return;
        }
        if pin < 16 {
            self.pics.set_irq(pin, level);
        }
        let mut out = Vec::new();
        self.ioapic
            .set_line(usize::from(pin), level, &mut |_, m| out.push(m));
        self.send(&out, bus, log);
    }

    fn send(&mut self, messages: &[Message], bus: &mut dyn InterruptBus, log: &mut Log) {
        for message in messages {
            let Some((vector, destination, flags)) = wire_words(message) else {
                self.dropped(log, |name| {
                    format!("{name}: {message:?} needs a delivery mode the kernel does not take from devices yet")
                });
                continue;
            };
            let Some(slot) = self.interrupt else {
                self.dropped(log, |name| {
                    format!("{name}: no interrupt capability; vector {vector:#x} dropped")
                });
                continue;
            };
            match bus.assert(slot, vector, destination, flags) {
                Ok(0) => self.undelivered += 1,
                Ok(_) => {}
                Err(status) => self.dropped(log, |name| {
                    format!("{name}: vector {vector:#x} refused by the kernel ({status:#x})")
                }),
            }
        }
    }

    /// A message that reached no VP: counted, and logged as `line` says
    /// (given the partition's name) within the board's budget.
    fn dropped(&mut self, log: &mut Log, line: impl FnOnce(&PartitionName) -> String) {
        self.undelivered += 1;
        let Some(suppressed) = self.drop_log.admit() else {
            return;
        };
        let mut line = line(&self.name);
        if suppressed > 0 {
            line.push_str(&format!(
                " ({suppressed} such lines suppressed; {} undelivered in all)",
                self.undelivered
            ));
        }
        log.push((Level::Warn, line));
    }

    /// `IN` of `size` bytes: the 8259s, ELCR and RTC byte by byte,
    /// `fw_cfg`'s selector and data as they are; other ports read all ones.
    fn port_read(&mut self, port: u16, size: u8) -> u32 {
        if port == fw_cfg::SELECTOR_PORT || port == fw_cfg::DATA_PORT {
            return self.fw_cfg.read(port, size);
        }
        let mut value = 0u32;
        for i in 0..size {
            let port = port.wrapping_add(u16::from(i));
            let byte = if is_rtc(port) {
                self.rtc.read(port)
            } else {
                self.pics.read(port).unwrap_or(0xFF)
            };
            value |= u32::from(byte) << (8 * u32::from(i));
        }
        value
    }

    fn port_write(&mut self, port: u16, size: u8, value: u32) {
        if port == fw_cfg::SELECTOR_PORT || port == fw_cfg::DATA_PORT {
            self.fw_cfg.write(port, size, value);
            return;
        }
        for i in 0..size {
            let (port, byte) = (port.wrapping_add(u16::from(i)), (value >> (8 * i)) as u8);
            if is_rtc(port) {
                self.rtc.write(port, byte);
            } else {
                self.pics.write(port, byte);
            }
        }
    }
}

fn is_rtc(port: u16) -> bool {
    port == rtc::INDEX_PORT || port == rtc::DATA_PORT
}

/// The `PartitionAssertInterrupt` words of an I/O APIC message: fixed and
/// lowest-priority only (`None` for NMI, INIT, ExtINT, ..., which the
/// kernel does not take from devices yet).
pub fn wire_words(message: &Message) -> Option<(u8, u8, u64)> {
    let mode = match message.mode {
        DeliveryMode::Fixed => wire::MODE_FIXED,
        DeliveryMode::LowestPriority => wire::MODE_LOWEST_PRIORITY,
        _ => return None,
    };
    let Target::Destination(destination) = message.target else {
        return None;
    };
    let mut flags = mode << wire::MODE_SHIFT;
    if message.trigger == Trigger::Level {
        flags |= wire::LEVEL;
    }
    if destination.mode == DestinationMode::Logical {
        flags |= wire::LOGICAL;
    }
    Some((message.vector, destination.id as u8, flags))
}
