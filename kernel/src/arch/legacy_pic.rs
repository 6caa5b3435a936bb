//! The legacy 8259 interrupt controllers: Tessera uses the local APIC, so the
//! PICs are moved off the exception vectors and masked. Firmware leaves
//! them delivering the PIT's IRQ 0 at vector 8, where it would look like a
//! double fault the moment interrupts are enabled.
use super::port;

const MASTER_COMMAND: u16 = 0x20;
const MASTER_DATA: u16 = 0x21;
const SLAVE_COMMAND: u16 = 0xA0;
const SLAVE_DATA: u16 = 0xA1;
/// ICW1: initialise, ICW4 follows.
const ICW1_INIT: u8 = 0x11;
/// Vectors 0xF0-0xFF: out of the way of exceptions and the kernel's vectors
/// (a spurious IRQ 7 or 15 would land on 0xF7 or 0xFF, both harmless).
const MASTER_BASE: u8 = 0xF0;
const SLAVE_BASE: u8 = 0xF8;
const ICW4_8086: u8 = 0x01;

pub fn disable() {
    port::write_u8(MASTER_COMMAND, ICW1_INIT);
    port::write_u8(SLAVE_COMMAND, ICW1_INIT);
    port::write_u8(MASTER_DATA, MASTER_BASE);
    port::write_u8(SLAVE_DATA, SLAVE_BASE);
    port::write_u8(MASTER_DATA, 1 << 2); // the slave hangs off IRQ 2
    port::write_u8(SLAVE_DATA, 2);
    port::write_u8(MASTER_DATA, ICW4_8086);
    port::write_u8(SLAVE_DATA, ICW4_8086);
    port::write_u8(MASTER_DATA, 0xFF);
    port::write_u8(SLAVE_DATA, 0xFF);
}
