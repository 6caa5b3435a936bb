//! Synthetic MSRs other than the hypercall pair: the VP index, the
//! optional MSRs each privilege or feature bit grants, and the absence of
//! the ones not granted (TLFS 6.0b §4.2 Partition Privilege Flags, e.g.
//! AccessResetReg: "If this flag is cleared, accesses to this MSR results
//! in a #GP fault"; Appendix C lists each MSR's privilege and access).

use core::hint::spin_loop;

use tessera_guest_framework::{Outcome, Suite, cpu, ensure, ensure_eq, fail, failure};
use tlfs::msr::{self as m, HvCrashCtlRegContents, HvReferenceTscMsr, HvVpAssistPageMsr};

use crate::config::Config;
use crate::expect::{Msr, expect_absent, expect_gp, read, write};
use crate::memory::{self, PAGE};
use crate::pages::Pages;

/// The reference counter counts in 100 ns units: 10^7 per second (TLFS md
/// `timers.md` § Reference Counter; Appendix C "100ns units" for
/// VP_RUNTIME).
const TICKS_PER_SECOND: u64 = 10_000_000;

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    vp_index(suite);
    vp_runtime(suite, config);
    reference_counter(suite, config);
    frequencies(suite, config);
    reset(suite, config);
    crash(suite, config);
    vp_assist(suite, pages);
    reference_tsc(suite, config, pages);
    synic_timers_apic(suite, config);
    never_defined(suite, config);
}

fn vp_index(suite: &mut Suite) {
    // Requirements § Virtual Processor Index ("A conforming hypervisor must
    // supply VP indices, and all VP indices must be unique"); TLFS md
    // `vp-properties.md` § Virtual Processor Indices. The boot VP is the
    // first one created.
    suite.check("HV_X64_MSR_VP_INDEX reads 0 on the boot VP", || {
        ensure_eq!(read(m::HV_X64_MSR_VP_INDEX)?, 0, "VP index");
        Ok(())
    });
    // TLFS 6.0b Appendix C: access R; Requirements table: required MSR.
    suite.check(
        "WRMSR HV_X64_MSR_VP_INDEX (read-only) raises GP(0) and the index stays",
        || {
            expect_gp(cpu::wrmsr(m::HV_X64_MSR_VP_INDEX, 5))?;
            ensure_eq!(read(m::HV_X64_MSR_VP_INDEX)?, 0, "VP index afterwards");
            Ok(())
        },
    );
}

/// Busy-waits a little: long enough for a counter in 100 ns units to move.
fn spin(iterations: u32) {
    for _ in 0..iterations {
        spin_loop();
    }
}

fn vp_runtime(suite: &mut Suite, config: &Config) {
    let msr = m::HV_X64_MSR_VP_RUNTIME;
    if !config.privileges.access_vp_run_time_reg() {
        suite.check(
            "HV_X64_MSR_VP_RUNTIME without AccessVpRunTimeReg: RDMSR and WRMSR raise GP(0)",
            || expect_absent(msr, Some(0)),
        );
        return;
    }
    // TLFS md `vp-properties.md` § Virtual Processor Run Time Register: a
    // read-only register counting the VP's run time in 100 ns units.
    suite.check("HV_X64_MSR_VP_RUNTIME increases while the VP runs", || {
        let first = read(msr)?;
        for _ in 0..1000 {
            spin(20_000);
            let now = read(msr)?;
            ensure!(now >= first, "went back from {first:#x} to {now:#x}");
            if now > first {
                return Ok(());
            }
        }
        fail!("stayed at {first:#x} over a long busy loop")
    });
    suite.check(
        "WRMSR HV_X64_MSR_VP_RUNTIME (read-only) raises GP(0)",
        || expect_gp(cpu::wrmsr(msr, 0)),
    );
}

fn reference_counter(suite: &mut Suite, config: &Config) {
    let msr = m::HV_X64_MSR_TIME_REF_COUNT;
    if !config.privileges.access_partition_reference_counter() {
        suite.check(
            "HV_X64_MSR_TIME_REF_COUNT without AccessPartitionReferenceCounter: RDMSR and WRMSR raise GP(0)",
            || expect_absent(msr, Some(0)),
        );
        return;
    }
    // TLFS md `timers.md` § Reference Counter: "successive accesses to it
    // return strictly monotonically increasing (time) values".
    suite.check(
        "HV_X64_MSR_TIME_REF_COUNT: 64 successive reads strictly increase",
        || {
            let mut last = read(msr)?;
            for i in 0..64 {
                let now = read(msr)?;
                ensure!(now > last, "read {i}: {now:#x} after {last:#x}");
                last = now;
            }
            Ok(())
        },
    );
    // § Register Behavior: "set to 0x0000000000000000" when the partition
    // is created; a test partition is younger than ten minutes.
    suite.check(
        "HV_X64_MSR_TIME_REF_COUNT counts from partition creation (below 10 minutes)",
        || {
            let now = read(msr)?;
            ensure!(
                now < 600 * TICKS_PER_SECOND,
                "{now:#x} = {} s",
                now / TICKS_PER_SECOND
            );
            Ok(())
        },
    );
    // § Register Behavior: "any attempt to write to the MSR results in a
    // #GP fault".
    suite.check("WRMSR HV_X64_MSR_TIME_REF_COUNT raises GP(0)", || {
        expect_gp(cpu::wrmsr(msr, 0))
    });
    if config.privileges.access_frequency_regs() {
        suite.check(
            "HV_X64_MSR_TIME_REF_COUNT runs at 10 MHz against the TSC and HV_X64_MSR_TSC_FREQUENCY (within 25%)",
            reference_counter_rate,
        );
    } else {
        suite.note(format_args!(
            "skipped: the 100 ns unit of the reference counter is checked only against HV_X64_MSR_TSC_FREQUENCY, which is not advertised"
        ));
    }
}

fn reference_counter_rate() -> Outcome {
    let frequency = read(m::HV_X64_MSR_TSC_FREQUENCY)?;
    ensure!(frequency != 0, "TSC frequency 0");
    let (start, start_tsc) = (read(m::HV_X64_MSR_TIME_REF_COUNT)?, cpu::rdtsc());
    // 20 ms of reference time.
    let mut now = start;
    for _ in 0..10_000_000 {
        now = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
        if now - start >= TICKS_PER_SECOND / 50 {
            break;
        }
    }
    let tsc = cpu::rdtsc() - start_tsc;
    let elapsed = now - start;
    ensure!(elapsed > 0, "the reference counter did not move");
    let measured = u128::from(tsc) * u128::from(TICKS_PER_SECOND) / u128::from(elapsed);
    let expected = u128::from(frequency);
    ensure!(
        measured * 4 >= expected * 3 && measured * 4 <= expected * 5,
        "{tsc} TSC ticks in {elapsed} reference ticks: {measured} Hz, TSC frequency {frequency} Hz"
    );
    Ok(())
}

fn frequencies(suite: &mut Suite, config: &Config) {
    let msrs = [m::HV_X64_MSR_TSC_FREQUENCY, m::HV_X64_MSR_APIC_FREQUENCY];
    if !config.privileges.access_frequency_regs() {
        suite.check(
            "HV_X64_MSR_TSC_FREQUENCY and APIC_FREQUENCY without AccessFrequencyRegs: GP(0)",
            || {
                for msr in msrs {
                    expect_absent(msr, Some(0))?;
                }
                Ok(())
            },
        );
        return;
    }
    // TLFS 6.0b Appendix C: read-only frequencies in Hz.
    suite.check(
        "HV_X64_MSR_TSC_FREQUENCY and APIC_FREQUENCY read non-zero Hz, and writes raise GP(0)",
        || {
            for msr in msrs {
                let hz = read(msr)?;
                ensure!(hz != 0, "{} reads 0", Msr(msr));
                expect_gp(cpu::wrmsr(msr, hz))?;
            }
            Ok(())
        },
    );
}

fn reset(suite: &mut Suite, config: &Config) {
    let msr = m::HV_X64_MSR_RESET;
    if !config.privileges.access_reset_reg() {
        // TLFS 6.0b §4.2 AccessResetReg: "If this flag is cleared, accesses
        // to this MSR results in a #GP fault".
        suite.check(
            "HV_X64_MSR_RESET without AccessResetReg: RDMSR and WRMSR 0 raise GP(0)",
            || expect_absent(msr, Some(0)),
        );
        return;
    }
    suite.check("HV_X64_MSR_RESET reads 0", || {
        ensure_eq!(read(msr)?, 0, "HV_X64_MSR_RESET");
        Ok(())
    });
    suite.note(format_args!(
        "skipped: writing 1 to HV_X64_MSR_RESET (it would reset the partition)"
    ));
}

const CRASH_PARAMETERS: [u32; 5] = [
    m::HV_X64_MSR_CRASH_P0,
    m::HV_X64_MSR_CRASH_P1,
    m::HV_X64_MSR_CRASH_P2,
    m::HV_X64_MSR_CRASH_P3,
    m::HV_X64_MSR_CRASH_P4,
];

fn crash(suite: &mut Suite, config: &Config) {
    if !config.features.guest_crash_msrs_available() {
        suite.check(
            "crash MSRs P0-P4 and CRASH_CTL without GuestCrashMsrsAvailable: GP(0)",
            || {
                for msr in CRASH_PARAMETERS {
                    expect_absent(msr, Some(0))?;
                }
                expect_absent(m::HV_X64_MSR_CRASH_CTL, Some(0))
            },
        );
        return;
    }
    // TLFS md `partition-properties.md` § Guest Crash Enlightenment
    // Interface: P0-P4 are the crash parameter registers the guest fills
    // before it notifies.
    suite.check("HV_X64_MSR_CRASH_P0 to P4 keep the values written", || {
        for (i, msr) in CRASH_PARAMETERS.into_iter().enumerate() {
            write(msr, 0xC4A5_0000_0000_0000 | i as u64)?;
        }
        for (i, msr) in CRASH_PARAMETERS.into_iter().enumerate() {
            ensure_eq!(read(msr)?, 0xC4A5_0000_0000_0000 | i as u64, Msr(msr));
        }
        for msr in CRASH_PARAMETERS {
            write(msr, 0)?;
        }
        Ok(())
    });
    // § Determining Guest Crash Capabilities: reading CRASH_CTL reports the
    // supported actions; CrashNotify is the one every crash uses.
    suite.check(
        "HV_X64_MSR_CRASH_CTL reports CrashNotify and no reserved bits",
        || {
            let ctl = HvCrashCtlRegContents::from_bits(read(m::HV_X64_MSR_CRASH_CTL)?);
            ensure!(ctl.crash_notify(), "CRASH_CTL {:#x}", ctl.into_bits());
            ensure!(
                ctl.into_bits() & ((1 << 58) - 1) == 0,
                "reserved bits in CRASH_CTL {:#x}",
                ctl.into_bits()
            );
            Ok(())
        },
    );
    suite.note(format_args!(
        "skipped: writing CRASH_CTL (it would report a guest crash)"
    ));
}

fn vp_assist(suite: &mut Suite, pages: &Pages) {
    // TLFS md `vp-properties.md` § Virtual Processor Assist Page: enable bit
    // 0, page number 63:12; "The guest OS has read/write access". Linux
    // writes this MSR on every Hyper-V it finds, so it is checked whatever
    // the privileges say (TLFS 6.0b Appendix C names AccessApicMsrs).
    let msr = m::HV_X64_MSR_VP_ASSIST_PAGE;
    suite.check(
        "HV_X64_MSR_VP_ASSIST_PAGE accepts a page, reads it back, and the page is read/write",
        || {
            let value = HvVpAssistPageMsr::new()
                .with_enable(true)
                .with_gpn(pages.vp_assist / PAGE);
            write(msr, value.into_bits())?;
            let back = HvVpAssistPageMsr::from_bits(read(msr)?);
            ensure!(
                back.enable() && back.gpn() == value.gpn(),
                "wrote {:#x}, read {:#x}",
                value.into_bits(),
                back.into_bits()
            );
            // The last quadword lies in the page's reserved tail.
            let last = pages.vp_assist + PAGE - 8;
            memory::write_u64(last, 0xA551_57A5_51D7_0000);
            ensure_eq!(
                memory::read_u64(last),
                0xA551_57A5_51D7_0000,
                "last quadword of the assist page"
            );
            write(msr, 0)?;
            let off = HvVpAssistPageMsr::from_bits(read(msr)?);
            ensure!(
                !off.enable(),
                "still enabled after writing 0: {:#x}",
                off.into_bits()
            );
            Ok(())
        },
    );
}

fn reference_tsc(suite: &mut Suite, config: &Config, pages: &Pages) {
    let msr = m::HV_X64_MSR_REFERENCE_TSC;
    let privileges = config.privileges;
    if !privileges.access_partition_reference_tsc() {
        suite.check(
            "HV_X64_MSR_REFERENCE_TSC without AccessPartitionReferenceTsc: RDMSR and WRMSR raise GP(0)",
            || expect_absent(msr, Some(0)),
        );
        return;
    }
    // Requirements § Partition Reference Time Enlightenment: "A conforming
    // hypervisor must provide the HV_X64_MSR_REFERENCE_TSC and
    // HV_X64_MSR_TIME_REF_COUNT MSRs".
    suite.check(
        "AccessPartitionReferenceTsc comes with AccessPartitionReferenceCounter",
        || {
            ensure!(
                privileges.access_partition_reference_counter(),
                "privileges {:#x}",
                privileges.into_bits()
            );
            Ok(())
        },
    );
    // TLFS md `timers.md` § Reference Time Stamp Counter (TSC) Page
    // Register: "At the guest partition creation time, the value of the
    // reference TSC MSR is 0x0000000000000000".
    suite.check(
        "HV_X64_MSR_REFERENCE_TSC reads 0 at partition start",
        || {
            ensure_eq!(read(msr)?, 0, "HV_X64_MSR_REFERENCE_TSC");
            Ok(())
        },
    );
    let mut fallback = false;
    suite.check(
        "the reference TSC page, once enabled, gives the reference counter's time",
        || {
            let value = HvReferenceTscMsr::new()
                .with_enable(true)
                .with_gpn(pages.reference_tsc / PAGE);
            write(msr, value.into_bits())?;
            let back = HvReferenceTscMsr::from_bits(read(msr)?);
            ensure!(
                back.enable() && back.gpn() == value.gpn(),
                "wrote {:#x}, read {:#x}",
                value.into_bits(),
                back.into_bits()
            );
            let outcome = compare_reference_time(pages.reference_tsc, &mut fallback);
            write(msr, 0)?;
            outcome
        },
    );
    if fallback {
        suite.note(format_args!(
            "the reference TSC page has TscSequence 0 (fall back to the MSR): allowed by the TLFS"
        ));
    }
}

/// TLFS md `timers.md` § Partition Reference TSC Mechanism: ReferenceTime
/// = ((VirtualTsc * TscScale) >> 64) + TscOffset, read under TscSequence;
/// sequence 0 means "use the MSR".
fn compare_reference_time(page: u64, fallback: &mut bool) -> Outcome {
    let before = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
    let time = crate::time_checks::page_time(page)?;
    let after = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
    let Some(time) = time else {
        *fallback = true;
        return Ok(());
    };
    // 1 ms plus 1% of the partition's age: the page and the MSR come from
    // the same clock, but the scale need not be exact.
    let slack = TICKS_PER_SECOND / 1000 + after / 100;
    ensure!(
        time + slack >= before && time <= after + slack,
        "page time {time:#x}, MSR {before:#x} before and {after:#x} after"
    );
    Ok(())
}

fn synic_timers_apic(suite: &mut Suite, config: &Config) {
    let p = config.privileges;
    let synic = [
        m::HV_X64_MSR_SCONTROL,
        m::HV_X64_MSR_SVERSION,
        m::HV_X64_MSR_SIEFP,
        m::HV_X64_MSR_SIMP,
        m::HV_X64_MSR_SINT0,
        m::HV_X64_MSR_SINT15,
    ];
    if p.access_synic_regs() {
        // TLFS md `inter-partition-communication.md` § SVERSION Register.
        suite.check(
            "SynIC MSRs are present: SVERSION reads 1, SCONTROL SIEFP SIMP SINT0 SINT15 read",
            || {
                ensure_eq!(read(m::HV_X64_MSR_SVERSION)? & 0xFFFF_FFFF, 1, "SVERSION");
                for msr in synic {
                    read(msr)?;
                }
                Ok(())
            },
        );
    } else {
        suite.check(
            "SynIC MSRs (SCONTROL 0x40000080 and others) without AccessSynicRegs: GP(0)",
            || {
                for msr in synic {
                    expect_absent(msr, None)?;
                }
                expect_absent(m::HV_X64_MSR_SCONTROL, Some(0))
            },
        );
    }
    let timers = [
        m::HV_X64_MSR_STIMER0_CONFIG,
        m::HV_X64_MSR_STIMER0_COUNT,
        m::HV_X64_MSR_STIMER3_CONFIG,
        m::HV_X64_MSR_STIMER3_COUNT,
    ];
    if p.access_synthetic_timer_regs() {
        suite.check("synthetic timer MSRs STIMER0 and STIMER3 read", || {
            for msr in timers {
                read(msr)?;
            }
            Ok(())
        });
    } else {
        suite.check(
            "synthetic timer MSRs (STIMER0_CONFIG 0x400000B0 and others) without AccessSyntheticTimerRegs: GP(0)",
            || {
                for msr in timers {
                    expect_absent(msr, Some(0))?;
                }
                Ok(())
            },
        );
    }
    if p.access_intr_ctrl_regs() {
        // TLFS md `virtual-interrupts.md` § Local APIC MSR Accesses.
        suite.check("HV_X64_MSR_TPR keeps the priority written", || {
            write(m::HV_X64_MSR_TPR, 0x20)?;
            let tpr = read(m::HV_X64_MSR_TPR)?;
            write(m::HV_X64_MSR_TPR, 0)?;
            ensure_eq!(tpr & 0xFF, 0x20, "TPR");
            Ok(())
        });
        // The TLFS gives the EOI MSR the "Write" attribute only and names
        // 63:32 of EOI and 63:8 of TPR RsvdZ; Tessera answers #GP, as the
        // x2APIC registers the MSRs stand for do.
        suite.check(
            "HV_X64_MSR_EOI reads and reserved bits of EOI and TPR: GP(0)",
            || {
                expect_gp(cpu::rdmsr(m::HV_X64_MSR_EOI)).map_err(|f| failure!("RDMSR EOI: {f}"))?;
                expect_gp(cpu::wrmsr(m::HV_X64_MSR_EOI, 1 << 32))
                    .map_err(|f| failure!("WRMSR EOI <- 1 << 32: {f}"))?;
                expect_gp(cpu::wrmsr(m::HV_X64_MSR_TPR, 0x100))
                    .map_err(|f| failure!("WRMSR TPR <- 0x100: {f}"))?;
                ensure_eq!(
                    read(m::HV_X64_MSR_TPR)? & 0xFF,
                    0,
                    "TPR after the refused write"
                );
                Ok(())
            },
        );
    } else {
        suite.check(
            "APIC MSRs EOI ICR TPR without AccessIntrCtrlRegs: GP(0)",
            || {
                expect_absent(m::HV_X64_MSR_EOI, None)?;
                expect_absent(m::HV_X64_MSR_ICR, None)?;
                expect_absent(m::HV_X64_MSR_TPR, Some(0))
            },
        );
    }
    if !p.access_reenlightenment_controls() {
        suite.check(
            "reenlightenment and TSC emulation MSRs without AccessReenlightenmentControls: GP(0)",
            || {
                for msr in [
                    m::HV_X64_MSR_REENLIGHTENMENT_CONTROL,
                    m::HV_X64_MSR_TSC_EMULATION_CONTROL,
                    m::HV_X64_MSR_TSC_EMULATION_STATUS,
                ] {
                    expect_absent(msr, Some(0))?;
                }
                Ok(())
            },
        );
    }
    if !config.features.npiep_available() {
        suite.check(
            "HV_X64_MSR_NPIEP_CONFIG without NPIEP available: GP(0)",
            || expect_absent(m::HV_X64_MSR_NPIEP_CONFIG, Some(0)),
        );
    }
    if !config.features.synthetic_time_unhalted_timer_available() {
        suite.check(
            "time-unhalted timer MSRs without the feature bit: GP(0)",
            || {
                expect_absent(m::HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG, Some(0))?;
                expect_absent(m::HV_X64_MSR_STIME_UNHALTED_TIMER_COUNT, Some(0))
            },
        );
    }
}

fn never_defined(suite: &mut Suite, config: &Config) {
    // Numbers no TLFS edition defines (Appendix C has a gap at 0x40000004
    // and ends at 0x40000115 below the nested block).
    suite.check(
        "synthetic MSRs the TLFS does not define (0x40000004, 0x400001FF): GP(0)",
        || {
            expect_absent(0x4000_0004, Some(0))?;
            expect_absent(0x4000_01FF, Some(0))
        },
    );
    if !config.recommendations.nested() {
        // TLFS 6.0b §16.14: the nested SynIC MSRs exist for a guest that is
        // itself a hypervisor running nested (leaf 0x40000004 EAX bit 12).
        suite.check(
            "nested MSRs (NESTED_VP_INDEX, NESTED_SCONTROL) of a non-nested partition: GP(0)",
            || {
                expect_absent(m::HV_X64_MSR_NESTED_VP_INDEX, None)?;
                expect_absent(m::HV_X64_MSR_NESTED_SCONTROL, Some(0))
            },
        );
    }
}
