//! The APIC's registers through both interfaces: CPUID, `IA32_APIC_BASE`,
//! the xAPIC page, the move to x2APIC mode (the registers keep their
//! values, SDM §10.12.5), and x2APIC MSR misuse (#GP, SDM §10.12.1.2-3).

use tessera_guest_framework::exception::vector::GENERAL_PROTECTION;
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, expect_exception};

pub const IA32_APIC_BASE: u32 = 0x1B;
pub const APIC_PAGE: u64 = 0xFEE0_0000;
pub const BASE_BSP: u64 = 1 << 8;
pub const BASE_EXTD: u64 = 1 << 10;
pub const BASE_EN: u64 = 1 << 11;

/// xAPIC page offsets; the x2APIC MSR is `0x800 + offset / 16`.
pub mod offset {
    pub const ID: u64 = 0x20;
    pub const VERSION: u64 = 0x30;
    pub const TPR: u64 = 0x80;
    pub const PPR: u64 = 0xA0;
    pub const EOI: u64 = 0xB0;
    pub const LDR: u64 = 0xD0;
    pub const SVR: u64 = 0xF0;
    pub const ISR: u64 = 0x100;
    pub const IRR: u64 = 0x200;
    pub const ESR: u64 = 0x280;
    pub const ICR_LOW: u64 = 0x300;
    pub const LVT_TIMER: u64 = 0x320;
    pub const LVT_LINT0: u64 = 0x350;
    pub const LVT_ERROR: u64 = 0x370;
    pub const TIMER_INITIAL: u64 = 0x380;
    pub const TIMER_CURRENT: u64 = 0x390;
    pub const TIMER_DIVIDE: u64 = 0x3E0;
}

/// The x2APIC MSR of xAPIC offset `offset`.
pub const fn msr(offset: u64) -> u32 {
    0x800 + (offset / 16) as u32
}

/// SELF IPI (x2APIC only).
pub const SELF_IPI: u32 = 0x83F;

/// What the guest writes through the page before the move to x2APIC mode,
/// and reads back through the MSRs after it.
const KEPT: [(u64, u32); 6] = [
    (offset::TPR, 0x35),
    // Software enabled, spurious vector 0xFF.
    (offset::SVR, 0x1FF),
    // Masked, vector 0x31.
    (offset::LVT_LINT0, 0x1_0031),
    (offset::LVT_ERROR, 0x1_00FE),
    // Masked one-shot timer, vector 0x70.
    (offset::LVT_TIMER, 0x1_0070),
    // Divide by 1.
    (offset::TIMER_DIVIDE, 0xB),
];

pub fn cpuid(suite: &mut Suite) {
    suite.check(
        "CPUID 1 shows the APIC, x2APIC and TSC-deadline; leaf 6 ARAT; APIC ID 0",
        || {
            let leaf1 = cpu::cpuid(1, 0);
            ensure!(
                leaf1.edx & 1 << 9 != 0,
                "leaf 1 EDX {:#x}: no APIC",
                leaf1.edx
            );
            ensure!(
                leaf1.ecx & 1 << 21 != 0,
                "leaf 1 ECX {:#x}: no x2APIC",
                leaf1.ecx
            );
            ensure!(
                leaf1.ecx & 1 << 24 != 0,
                "leaf 1 ECX {:#x}: no TSC-deadline",
                leaf1.ecx
            );
            ensure_eq!(leaf1.ebx >> 24, 0, "initial APIC ID");
            ensure!(cpu::cpuid(6, 0).eax & 1 << 2 != 0, "leaf 6 EAX: no ARAT");
            Ok(())
        },
    );
    suite.check(
        "IA32_APIC_BASE reads 0xFEE00000, enabled, BSP, xAPIC mode",
        || {
            let base = cpu::rdmsr(IA32_APIC_BASE)?;
            ensure_eq!(base, APIC_PAGE | BASE_EN | BASE_BSP, "IA32_APIC_BASE");
            Ok(())
        },
    );
    suite.check("x2APIC MSRs are #GP in xAPIC mode", || {
        expect_exception(GENERAL_PROTECTION, cpu::rdmsr(msr(offset::VERSION)))
    });
}

/// The xAPIC page checks; the page, mapped, for the rest.
pub fn xapic(suite: &mut Suite) -> Option<DeviceWindow> {
    let mut page = None;
    suite.check("map the xAPIC page 0xFEE00000 (uncached)", || {
        page = Some(DeviceWindow::map(APIC_PAGE, 0x1000)?);
        Ok(())
    });
    let page = page?;
    suite.check(
        "the xAPIC page: ID 0, version 0x14 with 6 LVT entries, registers read back",
        || {
            ensure_eq!(page.read32(offset::ID), 0, "ID");
            let version = page.read32(offset::VERSION);
            ensure_eq!(version & 0xFF, 0x14, "version");
            ensure_eq!((version >> 16) & 0xFF, 5, "max LVT entry (6 entries)");
            for (at, value) in KEPT {
                page.write32(at, value);
                ensure_eq!(
                    page.read32(at),
                    value,
                    format_args!("register {at:#x} after writing {value:#x}")
                );
            }
            // The logical destination in flat model: bits 31:24 only.
            page.write32(offset::LDR, 0x0300_00FF);
            ensure_eq!(page.read32(offset::LDR), 0x0300_0000, "LDR");
            ensure_eq!(
                page.read32(offset::PPR),
                0x35,
                "PPR is the TPR with nothing in service"
            );
            Ok(())
        },
    );
    suite.check(
        "a reserved xAPIC offset reads 0 and sets ESR bit 7 (illegal register address)",
        || {
            page.write32(offset::ESR, 0);
            ensure_eq!(page.read32(0x40), 0, "offset 0x40");
            page.write32(offset::ESR, 0);
            ensure_eq!(page.read32(offset::ESR), 1 << 7, "ESR");
            page.write32(offset::ESR, 0);
            ensure_eq!(page.read32(offset::ESR), 0, "ESR after clearing");
            Ok(())
        },
    );
    Some(page)
}

/// Moves to x2APIC mode; `true` if it did.
pub fn to_x2apic(suite: &mut Suite, page: &DeviceWindow) -> bool {
    // The page's values, before the move.
    let before: [u32; 6] = KEPT.map(|(at, _)| page.read32(at));
    let moved = suite.check("IA32_APIC_BASE: xAPIC to x2APIC", || {
        cpu::wrmsr(IA32_APIC_BASE, APIC_PAGE | BASE_EN | BASE_EXTD | BASE_BSP)?;
        let base = cpu::rdmsr(IA32_APIC_BASE)?;
        ensure_eq!(
            base,
            APIC_PAGE | BASE_EN | BASE_EXTD | BASE_BSP,
            "IA32_APIC_BASE"
        );
        Ok(())
    });
    if !moved {
        return false;
    }
    suite.check(
        "the x2APIC MSRs show what the xAPIC page held (TPR, SVR, LVTs, divider)",
        || {
            for ((at, _), value) in KEPT.iter().zip(before) {
                let read = cpu::rdmsr(msr(*at))?;
                ensure_eq!(read, u64::from(value), format_args!("MSR {:#x}", msr(*at)));
            }
            Ok(())
        },
    );
    suite.check(
        "x2APIC ID 0, LDR cluster 0 bit 0, version as through the page",
        || {
            ensure_eq!(cpu::rdmsr(msr(offset::ID))?, 0, "ID");
            ensure_eq!(cpu::rdmsr(msr(offset::LDR))?, 1, "LDR");
            ensure_eq!(
                cpu::rdmsr(msr(offset::VERSION))? & 0xFF_00FF,
                0x05_0014,
                "version"
            );
            Ok(())
        },
    );
    suite.check(
        "IA32_APIC_BASE: x2APIC straight back to xAPIC is #GP, EXTD without EN is #GP",
        || {
            let base = APIC_PAGE | BASE_BSP;
            expect_exception(
                GENERAL_PROTECTION,
                cpu::wrmsr(IA32_APIC_BASE, base | BASE_EN),
            )?;
            expect_exception(
                GENERAL_PROTECTION,
                cpu::wrmsr(IA32_APIC_BASE, base | BASE_EXTD),
            )?;
            let now = cpu::rdmsr(IA32_APIC_BASE)?;
            ensure_eq!(
                now,
                base | BASE_EN | BASE_EXTD,
                "IA32_APIC_BASE after the refusals"
            );
            Ok(())
        },
    );
    true
}

/// x2APIC MSR misuse: #GP, never a change.
pub fn x2apic_misuse(suite: &mut Suite) {
    suite.check(
        "x2APIC misuse is #GP: write ID/version/PPR, read EOI/SELF IPI, reserved MSR, \
         reserved TPR bits, non-zero EOI and ESR writes, bits 63:32",
        || {
            let gp = |result| expect_exception(GENERAL_PROTECTION, result);
            gp(cpu::wrmsr(msr(offset::ID), 1))?;
            gp(cpu::wrmsr(msr(offset::VERSION), 0))?;
            gp(cpu::wrmsr(msr(offset::PPR), 0))?;
            gp(cpu::rdmsr(msr(offset::EOI)).map(drop))?;
            gp(cpu::rdmsr(SELF_IPI).map(drop))?;
            // 0x809 (APR) and 0x80C (remote read) do not exist in x2APIC mode.
            gp(cpu::rdmsr(0x809).map(drop))?;
            gp(cpu::rdmsr(0x80C).map(drop))?;
            gp(cpu::wrmsr(msr(offset::TPR), 0x100))?;
            gp(cpu::wrmsr(msr(offset::EOI), 1))?;
            gp(cpu::wrmsr(msr(offset::ESR), 1))?;
            gp(cpu::wrmsr(msr(offset::LVT_TIMER), 1 << 32))?;
            ensure_eq!(
                cpu::rdmsr(msr(offset::TPR))?,
                0x35,
                "TPR after the refused write"
            );
            Ok(())
        },
    );
    suite.check(
        "an illegal vector through SELF IPI sets ESR bit 6 and delivers nothing",
        || {
            cpu::wrmsr(msr(offset::ESR), 0)?;
            cpu::wrmsr(SELF_IPI, 5)?;
            cpu::wrmsr(msr(offset::ESR), 0)?;
            ensure_eq!(cpu::rdmsr(msr(offset::ESR))?, 1 << 6, "ESR");
            ensure_eq!(cpu::rdmsr(msr(offset::IRR))?, 0, "IRR of vectors 0-31");
            Ok(())
        },
    );
}
