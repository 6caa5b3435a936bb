//! The register file through both interfaces: reset values, read-only and
//! write-only registers, reserved bits, access widths, ESR, SVR, LDR/DFR.

mod common;

use common::{config, mmio, set_mmio, x2apic, xapic};
use tessera_lapic::{
    ApicMode, ESR_ILLEGAL_REGISTER, ESR_RECEIVE_ILLEGAL_VECTOR, Effect, GeneralProtection,
    LocalApic, Lvt, base,
};

const GP: Result<u64, GeneralProtection> = Err(GeneralProtection);

#[test]
fn reset_values() {
    // SDM §10.4.7.1 / §10.12.5.1.
    let mut apic = LocalApic::new(config(3));
    assert_eq!(apic.mode(), ApicMode::Xapic);
    assert_eq!(apic.apic_base(), 0xFEE0_0800);
    assert_eq!(LocalApic::new(config(0)).apic_base(), 0xFEE0_0900);
    assert_eq!(apic.mmio_base(), Some(0xFEE0_0000));
    assert_eq!(mmio(&mut apic, 0x20), 3 << 24, "ID in bits 31:24");
    assert_eq!(
        mmio(&mut apic, 0x30),
        0x0105_0014,
        "version, 6 LVTs, EOI suppression"
    );
    assert_eq!(mmio(&mut apic, 0x80), 0);
    assert_eq!(mmio(&mut apic, 0xD0), 0);
    assert_eq!(mmio(&mut apic, 0xE0), 0xFFFF_FFFF);
    assert_eq!(mmio(&mut apic, 0xF0), 0xFF);
    for lvt in [0x320, 0x330, 0x340, 0x350, 0x360, 0x370] {
        assert_eq!(mmio(&mut apic, lvt), 0x1_0000, "LVT {lvt:#x} masked");
    }
    for offset in (0x100..0x280).step_by(16) {
        assert_eq!(mmio(&mut apic, offset), 0);
    }
    assert_eq!(mmio(&mut apic, 0x380), 0);
    assert_eq!(mmio(&mut apic, 0x390), 0);
    assert_eq!(mmio(&mut apic, 0x3E0), 0);
    assert!(!apic.software_enabled());
    // Without EOI-broadcast suppression, version bit 24 is clear.
    let mut plain = LocalApic::new(tessera_lapic::ApicConfig {
        eoi_broadcast_suppression: false,
        ..config(1)
    });
    assert_eq!(mmio(&mut plain, 0x30), 0x0005_0014);
}

#[test]
fn xapic_read_only_registers_ignore_writes() {
    let mut apic = xapic(2);
    for offset in [0x20, 0x30, 0x90, 0xA0, 0x100, 0x180, 0x200, 0x390] {
        let before = mmio(&mut apic, offset);
        assert_eq!(set_mmio(&mut apic, offset, 0xFFFF_FFFF), Effect::None);
        assert_eq!(mmio(&mut apic, offset), before, "{offset:#x}");
    }
    // EOI reads 0.
    assert_eq!(mmio(&mut apic, 0xB0), 0);
}

#[test]
fn xapic_writable_bits() {
    // (offset, value written, value read back, what is kept).
    let table: &[(u64, u32, u32, &str)] = &[
        (0x80, 0xFFFF_FFFF, 0xFF, "TPR 7:0"),
        (0xD0, 0xFFFF_FFFF, 0xFF00_0000, "LDR 31:24"),
        (0xE0, 0, 0x0FFF_FFFF, "DFR: 27:0 read as ones"),
        (
            0xF0,
            0xFFFF_FFFF,
            0x13FF,
            "SVR: vector, enable, focus, bit 12",
        ),
        (
            0x300,
            0xFFFF_FFFF,
            0x000C_CFFF,
            "ICR low: no delivery status",
        ),
        (0x310, 0xFFFF_FFFF, 0xFF00_0000, "ICR high 31:24"),
        (
            0x320,
            0xFFFF_FFFF,
            0x0007_00FF,
            "timer: vector, mask, mode 18:17",
        ),
        (
            0x350,
            0xFFFF_FFFF,
            0x0001_A7FF,
            "LINT0: no status, no remote IRR",
        ),
        (0x370, 0xFFFF_FFFF, 0x0001_00FF, "error: vector and mask"),
        (0x330, 0xFFFF_FFFF, 0x0001_07FF, "thermal"),
        (0x3E0, 0xFFFF_FFFF, 0xB, "divide: bits 0, 1, 3"),
        // The ID is fixed.
        (0x20, 0x0700_0000, 2 << 24, "ID"),
    ];
    let mut apic = xapic(2);
    for &(offset, written, read, what) in table {
        set_mmio(&mut apic, offset, written);
        assert_eq!(mmio(&mut apic, offset), read, "{what}");
    }
}

#[test]
fn xapic_widths_and_alignment() {
    let mut apic = xapic(0x5A);
    // Bytes of the ID register.
    assert_eq!(apic.read_mmio(0x23, 1, 0), Some(0x5A));
    assert_eq!(apic.read_mmio(0x22, 2, 0), Some(0x5A00));
    assert_eq!(apic.read_mmio(0x20, 1, 0), Some(0));
    // Beyond a register's four bytes, or 8 bytes wide: 0.
    assert_eq!(apic.read_mmio(0x24, 4, 0), Some(0));
    assert_eq!(apic.read_mmio(0x22, 4, 0), Some(0));
    assert_eq!(apic.read_mmio(0x20, 8, 0), Some(0));
    assert_eq!(apic.read_mmio(0x1000, 4, 0), Some(0));
    // Writes other than aligned 4-byte ones are ignored.
    for (offset, size) in [(0x80, 1), (0x80, 2), (0x80, 8), (0x81, 4), (0x84, 4)] {
        assert_eq!(apic.write_mmio(offset, size, 0xFF, 0), Some(Effect::None));
        assert_eq!(mmio(&mut apic, 0x80), 0, "{offset:#x}/{size}");
    }
    assert_eq!(apic.esr_latched_for_test(), 0);
}

/// Reads ESR the way Linux does: write, then read.
trait EsrProbe {
    fn esr_latched_for_test(&mut self) -> u32;
}

impl EsrProbe for LocalApic {
    fn esr_latched_for_test(&mut self) -> u32 {
        match self.mode() {
            ApicMode::X2apic => {
                self.write_msr(0x828, 0, 0).unwrap();
                self.read_msr(0x828, 0).unwrap() as u32
            }
            _ => {
                set_mmio(self, 0x280, 0);
                mmio(self, 0x280)
            }
        }
    }
}

#[test]
fn esr_is_written_before_it_is_read() {
    let mut apic = xapic(0);
    // A reserved offset: reads 0, sets "illegal register address".
    assert_eq!(mmio(&mut apic, 0x40), 0);
    assert_eq!(mmio(&mut apic, 0x280), 0, "not yet latched");
    set_mmio(&mut apic, 0x280, 0);
    assert_eq!(mmio(&mut apic, 0x280), ESR_ILLEGAL_REGISTER as u32);
    // The next write latches what happened since: nothing.
    set_mmio(&mut apic, 0x280, 0);
    assert_eq!(mmio(&mut apic, 0x280), 0);
    // A write to a reserved offset, and CMCI (not offered), count too.
    set_mmio(&mut apic, 0x2F0, 1);
    assert_eq!(apic.esr_latched_for_test(), ESR_ILLEGAL_REGISTER as u32);
}

#[test]
fn error_interrupt_through_the_error_lvt() {
    let mut apic = xapic(0);
    set_mmio(&mut apic, 0x370, 0xFE);
    // A self IPI with an illegal vector, through the ICR: "send illegal
    // vector", and the error interrupt.
    set_mmio(&mut apic, 0x300, 0x0004_0005);
    assert_eq!(apic.pending_vector(), Some(0xFE));
    assert_eq!(apic.esr_latched_for_test(), 1 << 5);
    // Only the first occurrence of a bit raises it.
    apic.acknowledge();
    apic.eoi();
    assert_eq!(
        apic.accept(3, tessera_lapic::Trigger::Edge),
        tessera_lapic::Received::Dropped
    );
    assert_eq!(apic.pending_vector(), Some(0xFE));
    apic.acknowledge();
    apic.eoi();
    assert_eq!(
        apic.accept(4, tessera_lapic::Trigger::Edge),
        tessera_lapic::Received::Dropped
    );
    assert_eq!(apic.pending_vector(), None);
    assert_eq!(
        apic.esr_latched_for_test(),
        ESR_RECEIVE_ILLEGAL_VECTOR as u32
    );
}

#[test]
fn software_disable_masks_every_lvt() {
    let mut apic = xapic(0);
    for offset in [0x320, 0x330, 0x340, 0x350, 0x360, 0x370] {
        set_mmio(&mut apic, offset, 0x40);
        assert_eq!(mmio(&mut apic, offset), 0x40);
    }
    set_mmio(&mut apic, 0xF0, 0xFF);
    for lvt in Lvt::ALL {
        assert_eq!(apic.lvt(lvt), 0x1_0040, "{lvt:?}");
    }
    // While disabled, the mask cannot be cleared (SDM §10.4.7.2).
    set_mmio(&mut apic, 0x350, 0x0700);
    assert_eq!(mmio(&mut apic, 0x350), 0x1_0700);
    // Fixed interrupts are dropped; NMI still lands.
    assert_eq!(
        apic.accept(0x40, tessera_lapic::Trigger::Edge),
        tessera_lapic::Received::Dropped
    );
}

#[test]
fn x2apic_registers() {
    let mut apic = x2apic(0x1_2345);
    assert_eq!(apic.read_msr(0x802, 0), Ok(0x1_2345), "32-bit ID");
    assert_eq!(apic.read_msr(0x803, 0), Ok(0x0105_0014));
    // LDR derived: cluster 0x1234 in 31:16, 1 << 5 in 15:0.
    assert_eq!(apic.read_msr(0x80D, 0), Ok(0x1234_0020));
    // Read-only registers: #GP on write.
    for msr in [0x802, 0x803, 0x80A, 0x80D, 0x810, 0x818, 0x820, 0x839] {
        assert_eq!(
            apic.write_msr(msr, 0, 0),
            Err(GeneralProtection),
            "{msr:#x}"
        );
    }
    // Write-only registers: #GP on read.
    assert_eq!(apic.read_msr(0x80B, 0), GP);
    assert_eq!(apic.read_msr(0x83F, 0), GP);
    // xAPIC-only and reserved numbers.
    for msr in [
        0x800, 0x801, 0x804, 0x809, 0x80C, 0x80E, 0x82F, 0x831, 0x83A, 0x840, 0xBFF,
    ] {
        assert_eq!(apic.read_msr(msr, 0), GP, "{msr:#x}");
        assert_eq!(
            apic.write_msr(msr, 0, 0),
            Err(GeneralProtection),
            "{msr:#x}"
        );
    }
}

#[test]
fn x2apic_reserved_bits_are_gp() {
    let mut apic = x2apic(1);
    let gp = Err(GeneralProtection);
    assert_eq!(apic.write_msr(0x808, 0x100, 0), gp, "TPR 31:8");
    assert_eq!(apic.write_msr(0x808, 1 << 32, 0), gp, "63:32");
    assert_eq!(apic.write_msr(0x80B, 1, 0), gp, "EOI must be 0");
    assert_eq!(apic.write_msr(0x828, 1, 0), gp, "ESR must be 0");
    assert_eq!(apic.write_msr(0x80F, 0x400, 0), gp, "SVR 10");
    assert_eq!(apic.write_msr(0x832, 1 << 12, 0), gp, "LVT delivery status");
    assert_eq!(apic.write_msr(0x835, 1 << 14, 0), gp, "LVT remote IRR");
    assert_eq!(
        apic.write_msr(0x837, 0x400, 0),
        gp,
        "LVT error has no delivery mode"
    );
    assert_eq!(apic.write_msr(0x83E, 4, 0), gp, "divide bit 2");
    assert_eq!(apic.write_msr(0x83F, 0x100, 0), gp, "SELF IPI 31:8");
    for bit in [12, 13, 16, 17, 20, 31] {
        assert_eq!(
            apic.write_msr(0x830, 0x40 | 1 << bit, 0),
            gp,
            "ICR bit {bit}"
        );
    }
    // The same values without the reserved bits are fine.
    assert!(apic.write_msr(0x808, 0xFF, 0).is_ok());
    assert!(apic.write_msr(0x80B, 0, 0).is_ok());
    assert!(apic.write_msr(0x830, 0xFFFF_FFFF_0000_0040, 0).is_ok());
    // Nothing changed by the refused writes.
    assert_eq!(apic.read_msr(0x808, 0), Ok(0xFF));
    assert_eq!(apic.read_msr(0x830, 0), Ok(0xFFFF_FFFF_0000_0040));
}

#[test]
fn mode_decides_the_interface() {
    let mut apic = xapic(1);
    // x2APIC MSRs are #GP in xAPIC mode (SDM §10.12.2).
    assert_eq!(apic.read_msr(0x802, 0), GP);
    assert_eq!(apic.write_msr(0x808, 0, 0), Err(GeneralProtection));
    set_mmio(&mut apic, 0x80, 0x20);
    apic.write_apic_base(base::DEFAULT_BASE | base::EN | base::EXTD)
        .unwrap();
    // The page is gone, the registers stayed.
    assert_eq!(apic.read_mmio(0x80, 4, 0), None);
    assert_eq!(apic.write_mmio(0x80, 4, 0, 0), None);
    assert_eq!(apic.read_msr(0x808, 0), Ok(0x20));
    assert_eq!(apic.read_msr(0x80F, 0), Ok(0x1FF));
    // Disabled: neither interface; registers back to reset.
    apic.write_apic_base(base::DEFAULT_BASE).unwrap();
    assert_eq!(apic.mode(), ApicMode::Disabled);
    assert_eq!(apic.read_msr(0x808, 0), GP);
    assert_eq!(apic.read_mmio(0x80, 4, 0), None);
    assert_eq!(apic.next_timer_deadline(), None);
    // Back to xAPIC at a relocated base: reset registers.
    apic.write_apic_base(0xFED0_0000 | base::EN).unwrap();
    assert_eq!(apic.mmio_base(), Some(0xFED0_0000));
    assert_eq!(mmio(&mut apic, 0x80), 0);
    assert_eq!(mmio(&mut apic, 0xF0), 0xFF);
    // IA32_APIC_BASE and IA32_TSC_DEADLINE are MSRs in every mode.
    assert_eq!(apic.read_msr(0x1B, 0), Ok(0xFED0_0800));
    assert_eq!(apic.read_msr(0x6E0, 0), Ok(0));
}

#[test]
fn illegal_base_writes_are_gp_and_change_nothing() {
    let mut apic = x2apic(1);
    let before = apic.apic_base();
    for value in [
        base::DEFAULT_BASE | base::EN,                  // x2APIC -> xAPIC
        base::DEFAULT_BASE | base::EXTD,                // invalid
        base::DEFAULT_BASE | base::EN | base::EXTD | 1, // reserved
        base::DEFAULT_BASE | base::EN | base::EXTD | 1 << 9,
        base::DEFAULT_BASE | base::EN | base::EXTD | 1 << 48,
    ] {
        assert_eq!(
            apic.write_msr(0x1B, value, 0),
            Err(GeneralProtection),
            "{value:#x}"
        );
        assert_eq!(apic.apic_base(), before);
    }
    // Without x2APIC in CPUID, EXTD is reserved.
    let mut plain = LocalApic::new(tessera_lapic::ApicConfig {
        x2apic: false,
        tsc_deadline: false,
        ..config(2)
    });
    assert!(
        plain
            .write_apic_base(base::DEFAULT_BASE | base::EN | base::EXTD)
            .is_err()
    );
    // Nor does IA32_TSC_DEADLINE exist.
    assert_eq!(plain.read_msr(0x6E0, 0), GP);
    assert_eq!(plain.write_msr(0x6E0, 5, 0), Err(GeneralProtection));
    // And LVT timer bit 18 is not writable.
    set_mmio(&mut plain, 0xF0, 0x1FF);
    set_mmio(&mut plain, 0x320, 2 << 17);
    assert_eq!(mmio(&mut plain, 0x320), 0);
}

#[test]
fn cpuid_bits_follow_the_apic() {
    use tessera_lapic::cpuid::apply;
    let mut apic = LocalApic::new(config(0x1_0203));
    let host = [0x00A0_0F11, 0x0800_0800, 0, 0];
    let [_, ebx, ecx, edx] = apply(&apic, 1, host);
    assert_eq!(ebx >> 24, 0x03, "initial APIC ID (low 8 bits)");
    assert_eq!(ebx & 0xFF_FFFF, 0x800);
    assert_ne!(edx & 1 << 9, 0, "APIC present");
    assert_ne!(ecx & 1 << 21, 0, "x2APIC offered");
    assert_ne!(ecx & 1 << 24, 0, "TSC-deadline offered");
    assert_eq!(apply(&apic, 6, [0; 4])[0], 1 << 2, "ARAT");
    assert_eq!(apply(&apic, 0xB, [1, 1, 0x100, 0])[3], 0x1_0203);
    assert_eq!(apply(&apic, 0xB, [0; 4]), [0; 4]);
    assert_eq!(apply(&apic, 7, [1, 2, 3, 4]), [1, 2, 3, 4]);
    // Globally disabled: the APIC bit goes.
    apic.write_apic_base(base::DEFAULT_BASE).unwrap();
    assert_eq!(apply(&apic, 1, host)[3] & 1 << 9, 0);
    // Not offered: cleared even if the host has them.
    let plain = LocalApic::new(tessera_lapic::ApicConfig {
        x2apic: false,
        tsc_deadline: false,
        ..config(1)
    });
    assert_eq!(apply(&plain, 1, [0, 0, 1 << 21 | 1 << 24, 0])[2], 0);
}
