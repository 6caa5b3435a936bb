//! RDMSR/WRMSR: what the kernel validates, passes through or refuses, and
//! the probe's scratch MSRs.

use tessera_guest_framework::cpu::{efer, msr, rdmsr, wrmsr};
use tessera_guest_framework::exception::{Caught, vector};
use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Outcome, Suite, ensure, ensure_eq, expect_caught, failure};

/// An MSR no CPU implements and the kernel does not pass through.
const UNIMPLEMENTED_MSR: u32 = 0x0000_0DEA;
/// Bit 63 of EFER is reserved.
const EFER_RESERVED_BIT: u64 = 1 << 63;
/// A PAT with memory type 2 (reserved) in entry 1; the other entries are
/// the reset value's.
const PAT_WITH_RESERVED_TYPE: u64 = 0x0007_0406_0007_0206;

pub fn run(suite: &mut Suite) {
    suite.check("EFER reads with LME and LMA set and SVME clear", || {
        let value = read(msr::EFER)?;
        ensure!(
            value & (efer::LME | efer::LMA) == efer::LME | efer::LMA,
            "EFER {value:#x} lacks LME or LMA"
        );
        ensure!(value & efer::SVME == 0, "EFER {value:#x} shows SVME");
        Ok(())
    });
    suite.check(
        "WRMSR EFER with reserved bit 63 raises #GP(0), EFER unchanged",
        || {
            let before = read(msr::EFER)?;
            expect_gp(wrmsr(msr::EFER, before | EFER_RESERVED_BIT))?;
            ensure_eq!(read(msr::EFER)?, before, "EFER afterwards");
            Ok(())
        },
    );
    suite.check(
        "WRMSR PAT with reserved memory type 2 raises #GP(0), PAT unchanged",
        || {
            let before = read(msr::PAT)?;
            expect_gp(wrmsr(msr::PAT, PAT_WITH_RESERVED_TYPE))?;
            ensure_eq!(read(msr::PAT)?, before, "PAT afterwards");
            Ok(())
        },
    );
    suite.check("RDMSR 0xDEA (implemented nowhere) raises #GP(0)", || {
        expect_gp(rdmsr(UNIMPLEMENTED_MSR))
    });
    suite.check("WRMSR 0xDEA (implemented nowhere) raises #GP(0)", || {
        expect_gp(wrmsr(UNIMPLEMENTED_MSR, 1))
    });
    suite.check("RDMSR TSC (0x10) reads a counter that advances", || {
        let first = read(msr::TSC)?;
        let second = read(msr::TSC)?;
        ensure!(second > first, "read {first:#x}, then {second:#x}");
        Ok(())
    });
    suite.check("RDMSR APIC_BASE (0x1B) reads", || {
        read(msr::APIC_BASE).map(drop)
    });
    suite.check(
        "LSTAR keeps the value the guest wrote (guest-private)",
        || {
            const VALUE: u64 = 0xFFFF_FFFF_8123_4000;
            write(msr::LSTAR, VALUE)?;
            ensure_eq!(read(msr::LSTAR)?, VALUE, "LSTAR");
            Ok(())
        },
    );

    let first = *probe::MSRS.start();
    let last_writable = probe::MSR_READ_ONLY - 1;
    suite.check(
        "probe MSRs 0x4C000000 and 0x4C00000E keep separate 64-bit values",
        || {
            const FIRST_VALUE: u64 = 0x0123_4567_89AB_CDEF;
            const LAST_VALUE: u64 = 0xFEDC_BA98_7654_3210;
            write(first, FIRST_VALUE)?;
            write(last_writable, LAST_VALUE)?;
            ensure_eq!(read(first)?, FIRST_VALUE, "MSR 0x4C000000");
            ensure_eq!(read(last_writable)?, LAST_VALUE, "MSR 0x4C00000E");
            Ok(())
        },
    );
    suite.check(
        "WRMSR of read-only probe MSR 0x4C00000F raises #GP(0), value unchanged",
        || {
            let before = read(probe::MSR_READ_ONLY)?;
            expect_gp(wrmsr(probe::MSR_READ_ONLY, !before))?;
            ensure_eq!(
                read(probe::MSR_READ_ONLY)?,
                before,
                "MSR 0x4C00000F afterwards"
            );
            Ok(())
        },
    );
    suite.check(
        "RDMSR 0x4C000010, past the probe's MSRs, raises #GP(0)",
        || expect_gp(rdmsr(probe::MSRS.end() + 1)),
    );
}

fn read(msr: u32) -> Result<u64, tessera_guest_framework::Failure> {
    rdmsr(msr).map_err(|caught| failure!("RDMSR {msr:#x} raised {caught}"))
}

fn write(msr: u32, value: u64) -> Outcome {
    wrmsr(msr, value).map_err(|caught| failure!("WRMSR {msr:#x} <- {value:#x} raised {caught}"))
}

/// #GP with error code 0, which is how RDMSR and WRMSR refuse.
fn expect_gp<T: core::fmt::Debug>(result: Result<T, Caught>) -> Outcome {
    let refused = Caught {
        vector: vector::GENERAL_PROTECTION,
        error_code: Some(0),
    };
    expect_caught(refused, result)
}
