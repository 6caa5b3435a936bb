//! The SynIC and timer registers (TLFS md `inter-partition-communication.md`
//! § SynIC Registers, `timers.md` § Synthetic Timers; the choices in
//! `kernel/synic/src/registers.rs` and `timer.rs`): reset values, reserved
//! bits and #GP, and SIMP/SIEFP as overlay pages.

use tessera_guest_framework::{Failure, Suite, cpu, ensure, ensure_eq, fail};

use crate::memory::{self, PAGE};

pub const SCONTROL: u32 = 0x4000_0080;
pub const SVERSION: u32 = 0x4000_0081;
pub const SIEFP: u32 = 0x4000_0082;
pub const SIMP: u32 = 0x4000_0083;
pub const EOM: u32 = 0x4000_0084;
pub const SINT0: u32 = 0x4000_0090;
pub const STIMER0_CONFIG: u32 = 0x4000_00B0;
pub const TIME_REF_COUNT: u32 = 0x4000_0020;

/// SINT: masked (bit 16).
pub const MASKED: u64 = 1 << 16;
/// SINT: AutoEOI (bit 17).
pub const AUTO_EOI: u64 = 1 << 17;
/// SINT: Polling (bit 18).
const POLLING: u64 = 1 << 18;

pub fn stimer_config(n: u32) -> u32 {
    STIMER0_CONFIG + 2 * n
}

pub fn stimer_count(n: u32) -> u32 {
    STIMER0_CONFIG + 2 * n + 1
}

/// Whether the access raised #GP (and only #GP).
fn gp(result: Result<impl Sized, tessera_guest_framework::Caught>) -> bool {
    matches!(result, Err(caught) if caught.vector == 13)
}

fn expect_gp(what: &str, msr: u32, value: u64) -> Result<(), Failure> {
    if gp(cpu::wrmsr(msr, value)) {
        Ok(())
    } else {
        fail!("{what}: WRMSR {msr:#x} <- {value:#x} did not raise #GP")
    }
}

pub fn run(suite: &mut Suite) {
    suite.check(
        "reset values: SCONTROL, SIEFP, SIMP 0, SVERSION 1, EOM reads 0, SINT0-15 0x10000 (masked), STIMER0-3 0",
        || {
            ensure_eq!(cpu::rdmsr(SCONTROL)?, 0, "SCONTROL");
            ensure_eq!(cpu::rdmsr(SVERSION)?, 1, "SVERSION");
            ensure_eq!(cpu::rdmsr(SIEFP)?, 0, "SIEFP");
            ensure_eq!(cpu::rdmsr(SIMP)?, 0, "SIMP");
            ensure_eq!(cpu::rdmsr(EOM)?, 0, "EOM");
            for n in 0..16 {
                ensure_eq!(cpu::rdmsr(SINT0 + n)?, MASKED, format_args!("SINT{n}"));
            }
            for n in 0..4 {
                ensure_eq!(cpu::rdmsr(stimer_config(n))?, 0, format_args!("STIMER{n}_CONFIG"));
                ensure_eq!(cpu::rdmsr(stimer_count(n))?, 0, format_args!("STIMER{n}_COUNT"));
            }
            Ok(())
        },
    );
    suite.check(
        "#GP: SVERSION written, EOM non-zero, reserved bits of SCONTROL, SIMP, SIEFP and SINTs, an unmasked SINT vector below 16, Polling not offered",
        || {
            expect_gp("SVERSION", SVERSION, 1)?;
            expect_gp("EOM", EOM, 1)?;
            expect_gp("SCONTROL bit 1", SCONTROL, 0b10)?;
            expect_gp("SIMP bit 1", SIMP, 0x2)?;
            expect_gp("SIEFP bit 11", SIEFP, 0x800)?;
            expect_gp("SINT bit 8", SINT0, MASKED | 1 << 8)?;
            expect_gp("SINT bit 19", SINT0, MASKED | 1 << 19)?;
            expect_gp("SINT vector 15 unmasked", SINT0 + 3, 15)?;
            expect_gp("SINT Polling", SINT0 + 4, POLLING | 0x40)?;
            // Nothing changed.
            ensure_eq!(cpu::rdmsr(SINT0)?, MASKED, "SINT0");
            ensure_eq!(cpu::rdmsr(SINT0 + 3)?, MASKED, "SINT3");
            ensure_eq!(cpu::rdmsr(SCONTROL)?, 0, "SCONTROL");
            Ok(())
        },
    );
    suite.check(
        "SINTs take vector, mask and AutoEOI; a masked vector below 16 is kept; EOM takes 0",
        || {
            cpu::wrmsr(SINT0 + 7, 0x4F | AUTO_EOI)?;
            ensure_eq!(cpu::rdmsr(SINT0 + 7)?, 0x4F | AUTO_EOI, "SINT7");
            cpu::wrmsr(SINT0 + 8, MASKED | 5)?;
            ensure_eq!(cpu::rdmsr(SINT0 + 8)?, MASKED | 5, "SINT8");
            for n in [7, 8] {
                cpu::wrmsr(SINT0 + n, MASKED)?;
            }
            cpu::wrmsr(EOM, 0)?;
            cpu::wrmsr(SCONTROL, 1)?;
            ensure_eq!(cpu::rdmsr(SCONTROL)?, 1, "SCONTROL");
            Ok(())
        },
    );
    suite.check(
        "#GP: STIMER reserved bits, direct mode with a vector below 16",
        || {
            expect_gp("STIMER0_CONFIG bit 13", stimer_config(0), 1 << 13)?;
            expect_gp("STIMER0_CONFIG bit 20", stimer_config(0), 1 << 20)?;
            expect_gp(
                "STIMER1 direct vector 15",
                stimer_config(1),
                1 << 12 | 15 << 4 | 1,
            )?;
            ensure_eq!(cpu::rdmsr(stimer_config(0))?, 0, "STIMER0_CONFIG");
            ensure_eq!(cpu::rdmsr(stimer_config(1))?, 0, "STIMER1_CONFIG");
            Ok(())
        },
    );
    overlay(suite, "SIMP", SIMP);
    overlay(suite, "SIEFP", SIEFP);
}

/// SIMP or SIEFP laid over a RAM page: the RAM hidden while enabled, a
/// page that starts cleared and keeps what the guest writes into it, the
/// RAM back (untouched) when disabled, and the same page back when enabled
/// again.
fn overlay(suite: &mut Suite, name: &str, msr: u32) {
    suite.check(
        format_args!("{name}: the page hides the RAM under it while enabled, the RAM comes back when disabled, the page keeps its contents"),
        || {
            let Some(ram) = memory::alloc_page() else {
                return fail!("no free page");
            };
            let tag = u64::from(msr & 0xFF);
            memory::fill(ram, memory::pattern(tag));
            cpu::wrmsr(msr, ram | 1)?;
            ensure_eq!(cpu::rdmsr(msr)?, ram | 1, "the register");
            ensure!(
                memory::first_difference(ram, |_| 0).is_none(),
                "the page is not clear where it was laid"
            );
            memory::write_u64(ram + PAGE - 8, 0xC0FF_EE00 | tag);
            cpu::wrmsr(msr, ram)?;
            if let Some(i) = memory::first_difference(ram, memory::pattern(tag)) {
                return fail!("the RAM differs at word {i} once the page is disabled");
            }
            cpu::wrmsr(msr, ram | 1)?;
            ensure_eq!(memory::read_u64(ram + PAGE - 8), 0xC0FF_EE00 | tag, "the page's word");
            // Disabled again for the timer checks; the RAM is the guest's.
            cpu::wrmsr(msr, ram)?;
            ensure_eq!(memory::read_u64(ram), memory::pattern(tag)(0), "the RAM");
            Ok(())
        },
    );
}
