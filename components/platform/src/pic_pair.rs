//! The PC's two 8259As: master at ports `0x20`/`0x21` with the slave
//! cascaded on its IR2, slave at `0xA0`/`0xA1`, and the edge/level control
//! registers at `0x4D0`/`0x4D1`.
//!
//! ELCR: Intel PIIX/PIIX3 datasheet, "ELCR1/ELCR2 — Edge/Level Control
//! Registers": one bit per IRQ, 1 = level; IRQ 0, 1, 2, 8 and 13 are edge
//! only (their bits read 0). Linux probes the pair by writing the master's
//! mask and reading it back (`probe_8259A`), initialises it with ICW1
//! `0x11`, ICW2 `0x30`/`0x38`, ICW3 `0x04`/`0x02`, ICW4 `0x01`
//! (`init_8259A`), and reads IRR and ISR through OCW3 `0x0A`/`0x0B`.

use crate::pic::Pic;

/// Master command and data ports.
pub const MASTER_COMMAND: u16 = 0x20;
/// Master data port.
pub const MASTER_DATA: u16 = 0x21;
/// Slave command port.
pub const SLAVE_COMMAND: u16 = 0xA0;
/// Slave data port.
pub const SLAVE_DATA: u16 = 0xA1;
/// ELCR for IRQ 0–7.
pub const ELCR_MASTER: u16 = 0x4D0;
/// ELCR for IRQ 8–15.
pub const ELCR_SLAVE: u16 = 0x4D1;

/// The master input the slave's output drives.
pub const CASCADE_IRQ: u8 = 2;
/// ELCR bits that can be set: not IRQ 0, 1, 2 (master) nor 8, 13 (slave).
const ELCR_WRITABLE: [u8; 2] = [0xF8, 0xDE];

/// The pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PicPair {
    master: Pic,
    slave: Pic,
    elcr: [u8; 2],
}

impl PicPair {
    /// Both PICs at power-on, every IRQ edge-triggered.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            master: Pic::new(),
            slave: Pic::new(),
            elcr: [0; 2],
        }
    }

    /// The master.
    #[must_use]
    pub const fn master(&self) -> &Pic {
        &self.master
    }

    /// The slave.
    #[must_use]
    pub const fn slave(&self) -> &Pic {
        &self.slave
    }

    /// Whether `port` is one of the pair's six.
    #[must_use]
    pub const fn claims(port: u16) -> bool {
        matches!(
            port,
            MASTER_COMMAND | MASTER_DATA | SLAVE_COMMAND | SLAVE_DATA | ELCR_MASTER | ELCR_SLAVE
        )
    }

    /// Carries the slave's INT output to the master's IR2. **Choice:** the
    /// cascade input is level-sensitive whatever the ELCR says (its bit
    /// is fixed at edge), so a slave that keeps requesting across an INTA
    /// is never lost; the master's in-service bit 2 still holds further
    /// slave requests back until its EOI, as on the PC.
    fn cascade(&mut self) {
        let level = self.slave.pending(None).is_some();
        self.master
            .set_level_triggered((self.elcr[0] & ELCR_WRITABLE[0]) | 1 << CASCADE_IRQ);
        self.master.set_line(CASCADE_IRQ, level);
    }

    /// The INT output to the CPU (LINT0 in ExtINT mode, or I/O APIC pin 0
    /// in ExtINT mode): whether the master has a request.
    #[must_use]
    pub fn output(&self) -> bool {
        self.master.pending(Some(CASCADE_IRQ)).is_some()
    }

    /// Drives IRQ `irq` (0–15; 2 is the cascade and is ignored) to
    /// `level`.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        match irq {
            0 | 1 | 3..=7 => self.master.set_line(irq, level),
            8..=15 => self.slave.set_line(irq - 8, level),
            _ => return,
        }
        self.cascade();
    }

    /// The interrupt acknowledge cycle of the CPU that takes the INT
    /// output: the vector. A request from the slave is acknowledged on both
    /// PICs (master IR2, then the slave's IR); with nothing pending the
    /// answer is the spurious IR7 of the PIC asked (no ISR bit set).
    pub fn acknowledge(&mut self) -> u8 {
        let vector = match self.master.acknowledge(Some(CASCADE_IRQ)) {
            Some(CASCADE_IRQ) => {
                let irq = self.slave.acknowledge(None).unwrap_or(7);
                self.slave.vector_base() | irq
            }
            Some(irq) => self.master.vector_base() | irq,
            None => self.master.vector_base() | 7,
        };
        self.cascade();
        vector
    }

    /// An 8-bit read of `port`; `None` if it is not the pair's.
    pub fn read(&mut self, port: u16) -> Option<u8> {
        let value = match port {
            MASTER_COMMAND => self.master.read_command(Some(CASCADE_IRQ)),
            MASTER_DATA => self.master.read_data(Some(CASCADE_IRQ)),
            SLAVE_COMMAND => self.slave.read_command(None),
            SLAVE_DATA => self.slave.read_data(None),
            ELCR_MASTER => self.elcr[0],
            ELCR_SLAVE => self.elcr[1],
            _ => return None,
        };
        // A poll acknowledges, which may change the slave's output.
        self.cascade();
        Some(value)
    }

    /// An 8-bit write of `value` to `port`; `false` if it is not the
    /// pair's.
    pub fn write(&mut self, port: u16, value: u8) -> bool {
        match port {
            MASTER_COMMAND => self.master.write_command(value),
            MASTER_DATA => self.master.write_data(value),
            SLAVE_COMMAND => self.slave.write_command(value),
            SLAVE_DATA => self.slave.write_data(value),
            ELCR_MASTER | ELCR_SLAVE => {
                let index = (port - ELCR_MASTER) as usize;
                self.elcr[index] = value & ELCR_WRITABLE[index];
                self.slave.set_level_triggered(self.elcr[1]);
            }
            _ => return false,
        }
        self.cascade();
        true
    }
}
