//! `exits`: the system test of guest exits (issue 4). Each numbered check
//! makes the guest leave to the hypervisor one way and looks at what comes
//! back: exits the kernel answers itself (CPUID, the pass-through and
//! validated MSRs, ports nobody handles), exits routed to the probe
//! component (its CPUID leaves, MSRs, ports, MMIO page and HLT), and
//! exceptions the hypervisor must leave to the guest's own IDT (`ud2`,
//! `int3`).
//!
//! Needs the probe device routed for its ports, CPUID leaves, MSRs, MMIO
//! page and HLT (see `test-guests/README.md`).
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

mod cpuid_checks;
mod mmio_checks;
mod msr_checks;
mod plain_x86_checks;
mod port_checks;

use tessera_guest_framework::exception::vector;
use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Suite, cpu, ensure_eq, expect_exception, failure, port};

tessera_guest_framework::entry!(main);

fn main(suite: &mut Suite) {
    cpuid_checks::run(suite);
    msr_checks::run(suite);
    port_checks::run(suite);

    suite.check("ud2 raises #UD in the guest's own IDT", || {
        expect_exception(vector::INVALID_OPCODE, cpu::ud2())
    });
    suite.check("int3 raises #BP in the guest's own IDT", || {
        expect_exception(vector::BREAKPOINT, cpu::int3())
    });
    mmio_checks::run(suite);
    plain_x86_checks::run(suite);
    suite.check(
        "NB_CFG (0xC001001F) reads 0 and takes a write of EnableCf8ExtCfg, as Linux on AMD expects",
        || {
            const NB_CFG: u32 = 0xC001_001F;
            let before = cpu::rdmsr(NB_CFG).map_err(|c| failure!("RDMSR NB_CFG raised {c}"))?;
            ensure_eq!(before, 0, "NB_CFG");
            cpu::wrmsr(NB_CFG, 1 << 46).map_err(|c| failure!("WRMSR NB_CFG raised {c}"))?;
            Ok(())
        },
    );
    // Last: where nothing handles HLT (plain QEMU), it never returns, and
    // every other result is out by then.
    suite.check(
        "HLT returns and the probe's HALTS counter goes up by one",
        || {
            let before = port::inl(probe::HALTS_PORT);
            cpu::hlt();
            let after = port::inl(probe::HALTS_PORT);
            ensure_eq!(after, before.wrapping_add(1), "HALTS after one HLT");
            Ok(())
        },
    );
}

/// The partition number the probe reports, if a probe answers.
fn partition_number() -> Option<u32> {
    Some(port::inl(probe::ID_PORT)).filter(|number| PARTITION_NUMBERS.contains(number))
}

/// Partition numbers start at 1; more than 255 partitions would be news.
const PARTITION_NUMBERS: core::ops::RangeInclusive<u32> = 1..=255;
