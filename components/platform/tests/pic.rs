//! The 8259 pair as Linux and firmware drive it, against the 8259A
//! datasheet.

use platform::pic_pair::{ELCR_MASTER, ELCR_SLAVE, PicPair};
use proptest::prelude::*;

/// Linux's `init_8259A(auto_eoi)`: ICW1 0x11, ICW2 0x30/0x38, ICW3
/// 0x04/0x02, ICW4 0x01 (0x03 with automatic EOI), then the masks.
fn linux_init(pics: &mut PicPair, auto_eoi: bool) {
    pics.write(0x21, 0xFF);
    pics.write(0xA1, 0xFF);
    pics.write(0x20, 0x11);
    pics.write(0x21, 0x30);
    pics.write(0x21, 1 << 2);
    pics.write(0x21, if auto_eoi { 3 } else { 1 });
    pics.write(0xA0, 0x11);
    pics.write(0xA1, 0x38);
    pics.write(0xA1, 2);
    pics.write(0xA1, 1);
    pics.write(0x21, 0xFB);
    pics.write(0xA1, 0xFF);
}

#[test]
fn linux_probe_reads_back_the_mask() {
    // probe_8259A: mask the slave, write 0xFB to the master's mask and
    // read it back; a missing PIC would read 0xFF.
    let mut pics = PicPair::new();
    assert!(pics.write(0xA1, 0xFF));
    assert!(pics.write(0x21, 0xFB));
    assert_eq!(pics.read(0x21), Some(0xFB));
    assert_eq!(pics.read(0xA1), Some(0xFF));
    assert_eq!(pics.read(0x60), None);
    assert!(!pics.write(0x60, 0));
    assert!(PicPair::claims(0x4D1) && !PicPair::claims(0x22));
}

#[test]
fn initialisation_and_vectors() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    assert_eq!(pics.master().vector_base(), 0x30);
    assert_eq!(pics.slave().vector_base(), 0x38);
    // Unmask IRQ 0 and 4 on the master.
    pics.write(0x21, 0xEA);
    pics.set_irq(4, true);
    assert!(pics.output());
    assert_eq!(pics.acknowledge(), 0x34);
    assert!(!pics.output(), "in service, edge request consumed");
    // IRQ 0 has higher priority: it nests.
    pics.set_irq(0, true);
    assert!(pics.output());
    assert_eq!(pics.acknowledge(), 0x30);
    // OCW3 0x0B: read ISR.
    pics.write(0x20, 0x0B);
    assert_eq!(pics.read(0x20), Some(0b0001_0001));
    // Non-specific EOI ends the highest in service: IRQ 0.
    pics.write(0x20, 0x20);
    assert_eq!(pics.read(0x20), Some(0b0001_0000));
    // Specific EOI for IRQ 4.
    pics.write(0x20, 0x64);
    assert_eq!(pics.read(0x20), Some(0));
    // OCW3 0x0A: read IRR.
    pics.set_irq(4, false);
    pics.set_irq(4, true);
    pics.write(0x20, 0x0A);
    assert_eq!(pics.read(0x20), Some(0b0001_0000));
}

#[test]
fn icw1_resets_state() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    pics.write(0x21, 0);
    pics.set_irq(3, true);
    pics.acknowledge();
    // ICW1: IMR cleared, ISR cleared, read register back to IRR, edge
    // requests forgotten.
    pics.write(0x20, 0x11);
    pics.write(0x21, 0x08);
    pics.write(0x21, 0x04);
    pics.write(0x21, 0x01);
    assert_eq!(pics.read(0x21), Some(0));
    assert_eq!(pics.read(0x20), Some(0), "IRR");
    assert_eq!(pics.master().isr(), 0);
    assert_eq!(pics.master().vector_base(), 0x08);
    // A line already high needs a new rising edge.
    pics.set_irq(3, true);
    assert!(!pics.output());
    pics.set_irq(3, false);
    pics.set_irq(3, true);
    assert_eq!(pics.acknowledge(), 0x0B);
}

#[test]
fn single_mode_skips_icw3() {
    let mut pics = PicPair::new();
    pics.write(0x20, 0x13); // ICW1: single, ICW4 needed
    pics.write(0x21, 0x40); // ICW2
    pics.write(0x21, 0x01); // ICW4 (no ICW3)
    pics.write(0x21, 0xFE); // now OCW1
    assert_eq!(pics.read(0x21), Some(0xFE));
    assert_eq!(pics.master().vector_base(), 0x40);
}

#[test]
fn cascade_through_irq2() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    pics.write(0xA1, 0xEF); // unmask IRQ 12
    pics.set_irq(12, true);
    assert!(pics.output());
    assert_eq!(pics.acknowledge(), 0x3C);
    assert_eq!(pics.master().isr(), 1 << 2);
    assert_eq!(pics.slave().isr(), 1 << 4);
    // Another slave IRQ waits for the master's EOI as well.
    pics.write(0xA1, 0xE7);
    pics.set_irq(11, true);
    assert!(!pics.output());
    pics.write(0xA0, 0x20);
    assert!(!pics.output(), "master IR2 still in service");
    pics.write(0x20, 0x20);
    assert!(pics.output());
    assert_eq!(pics.acknowledge(), 0x3B);
    // IRQ 2 itself is the cascade: driving it does nothing.
    pics.write(0x20, 0x20);
    pics.write(0xA0, 0x20);
    pics.set_irq(2, true);
    assert!(!pics.output());
}

#[test]
fn spurious_and_masking() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    // Nothing pending: IR7 of the master, no ISR bit.
    assert_eq!(pics.acknowledge(), 0x37);
    assert_eq!(pics.master().isr(), 0);
    // A masked request raises nothing; unmasking releases it.
    pics.set_irq(5, true);
    assert!(!pics.output());
    pics.write(0x21, 0xDB);
    assert_eq!(pics.acknowledge(), 0x35);
}

#[test]
fn automatic_eoi_and_rotation() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, true);
    pics.write(0x21, 0);
    pics.set_irq(1, true);
    assert_eq!(pics.acknowledge(), 0x31);
    assert_eq!(pics.master().isr(), 0, "AEOI sets no ISR bit");
    // Set priority: IRQ 3 lowest, so IRQ 4 is highest.
    pics.write(0x20, 0xC3);
    pics.set_irq(3, true);
    pics.set_irq(5, true);
    assert_eq!(pics.acknowledge(), 0x35, "5 before 3 after rotation");
    assert_eq!(pics.acknowledge(), 0x33);
    // Rotate on non-specific EOI (non-AEOI PIC).
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    pics.write(0x21, 0);
    pics.set_irq(0, true);
    assert_eq!(pics.acknowledge(), 0x30);
    pics.write(0x20, 0xA0); // rotate on non-specific EOI: IRQ 0 lowest
    pics.set_irq(0, false);
    pics.set_irq(0, true);
    pics.set_irq(6, true);
    assert_eq!(pics.acknowledge(), 0x36);
}

#[test]
fn poll_command() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    pics.write(0x21, 0);
    pics.write(0x20, 0x0C); // OCW3: poll
    assert_eq!(pics.read(0x20), Some(0), "no request");
    pics.set_irq(6, true);
    pics.write(0x20, 0x0C);
    assert_eq!(pics.read(0x20), Some(0x86), "I=1, level 6, acknowledged");
    assert_eq!(pics.master().isr(), 1 << 6);
    // The poll is one-shot: the next read is IRR again.
    assert_eq!(pics.read(0x20), Some(0));
}

#[test]
fn special_mask_mode() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    pics.write(0x21, 0);
    pics.set_irq(1, true);
    assert_eq!(pics.acknowledge(), 0x31);
    // A lower-priority request is blocked by IRQ 1 in service...
    pics.set_irq(5, true);
    assert!(!pics.output());
    // ...until the handler masks its own level and sets special mask.
    pics.write(0x21, 0x02);
    pics.write(0x20, 0x68);
    assert!(pics.output());
    assert_eq!(pics.acknowledge(), 0x35);
    // Reset special mask mode.
    pics.write(0x20, 0x48);
    pics.set_irq(7, true);
    assert!(!pics.output());
}

#[test]
fn elcr_level_triggered_irqs() {
    let mut pics = PicPair::new();
    linux_init(&mut pics, false);
    // IRQ 0, 1, 2, 8 and 13 cannot be level-triggered.
    pics.write(ELCR_MASTER, 0xFF);
    pics.write(ELCR_SLAVE, 0xFF);
    assert_eq!(pics.read(ELCR_MASTER), Some(0xF8));
    assert_eq!(pics.read(ELCR_SLAVE), Some(0xDE));
    // IRQ 9 level: the request follows the line, and stays after INTA.
    pics.write(0xA1, 0xFD);
    pics.set_irq(9, true);
    assert_eq!(pics.acknowledge(), 0x39);
    pics.write(0xA0, 0x20);
    pics.write(0x20, 0x20);
    assert!(pics.output(), "still asserted");
    pics.set_irq(9, false);
    assert!(!pics.output());
}

proptest! {
    /// Any sequence of port writes, line changes and acknowledges: no
    /// panic, and an acknowledged vector is the base of one of the PICs
    /// plus an IR, and the master's ISR bit 2 is set whenever the slave's
    /// ISR is non-empty in normal (fully nested, non-AEOI) operation.
    #[test]
    fn anything_goes(ops in proptest::collection::vec((0..4_u8, any::<u8>(), any::<u8>()), 1..300)) {
        let mut pics = PicPair::new();
        linux_init(&mut pics, false);
        for (kind, a, b) in ops {
            match kind {
                0 => { pics.set_irq(a % 16, b & 1 != 0); }
                1 => {
                    let port = [0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1][a as usize % 6];
                    // Keep to OCW1-3 and masks: re-initialisation is
                    // another test.
                    let value = if port & 1 == 0 && port < 0x4D0 { b & !0x10 } else { b };
                    pics.write(port, value);
                }
                2 => {
                    let vector = pics.acknowledge();
                    prop_assert!(vector & 0xF8 == 0x30 || vector & 0xF8 == 0x38);
                }
                _ => { pics.read([0x20, 0x21, 0xA0, 0xA1][a as usize % 4]); }
            }
        }
    }
}
