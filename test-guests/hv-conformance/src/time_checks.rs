//! Time, beyond the reference counter's own checks (`msr_checks.rs`): the
//! reference TSC page against HV_X64_MSR_TIME_REF_COUNT, its enable,
//! disable and bad GPAs, the frequency MSRs, and the invariant-TSC control
//! with the CPUID bit it unlocks.
//!
//! TLFS md `timers.md` § Partition Reference Time Enlightenment, § Reference
//! TSC Page Register, § Partition Reference TSC Mechanism; TLFS 6.0b
//! Appendix C (frequency MSRs); Linux's `hyperv-tlfs.h` for
//! HV_X64_MSR_TSC_INVARIANT_CONTROL (no TLFS edition documents it).
//!
//! Only VP 0 runs in these partitions (the kernel starts no other VP yet),
//! so "monotonic across VPs" is checked as monotonic across the page and
//! the MSR on one VP; a note says so.

use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, fail};
use tlfs::msr::{self as m, HvReferenceTscMsr};

use crate::config::Config;
use crate::expect::{expect_absent, expect_gp, read, write};
use crate::memory::{self, PAGE};
use crate::pages::{Pages, pattern};

/// HV_X64_MSR_TSC_INVARIANT_CONTROL (Linux `hyperv-tlfs.h`).
const TSC_INVARIANT_CONTROL: u32 = 0x4000_0118;
/// CPUID 0x80000007 EDX bit 8: invariant TSC.
const INVARIANT_TSC: u32 = 1 << 8;
/// The RAM under the page is marked with this.
const TAG: u8 = 0x71;
/// How far the page and the MSR may be apart, in 100 ns units ("a few").
const AGREEMENT: u64 = 3;

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    frequencies(suite, config);
    if config.privileges.access_partition_reference_tsc() {
        reference_tsc_page(suite, config, pages);
    }
    tsc_invariant(suite, config);
    // ARAT promises an APIC timer that runs in every C-state: it is
    // honest only where a local APIC is offered.
    suite.check(
        "CPUID 6 EAX[2] (ARAT) only with CPUID 1 EDX[9] (a local APIC)",
        || {
            let arat = cpu::cpuid(6, 0).eax & 1 << 2 != 0;
            let apic = cpu::cpuid(1, 0).edx & 1 << 9 != 0;
            ensure!(!arat || apic, "ARAT without a local APIC");
            Ok(())
        },
    );
}

/// The page's time at the current TSC, read under TscSequence; `None`
/// for sequence 0 ("fall back to a different source").
pub fn page_time(page: u64) -> Result<Option<u64>, tessera_guest_framework::Failure> {
    for _ in 0..1000 {
        let sequence = memory::read_u32(page);
        if sequence == 0 {
            return Ok(None);
        }
        let scale = memory::read_u64(page + 8);
        let offset = memory::read_u64(page + 16);
        let tsc = cpu::rdtsc();
        if memory::read_u32(page) == sequence {
            let scaled = ((u128::from(tsc) * u128::from(scale)) >> 64) as u64;
            return Ok(Some(scaled.wrapping_add(offset)));
        }
    }
    fail!("TscSequence never held still over 1000 reads")
}

fn enable_at(gpa: u64) -> u64 {
    HvReferenceTscMsr::new()
        .with_enable(true)
        .with_gpn(gpa / PAGE)
        .into_bits()
}

fn reference_tsc_page(suite: &mut Suite, config: &Config, pages: &Pages) {
    let msr = m::HV_X64_MSR_REFERENCE_TSC;
    let page = pages.reference_tsc;
    memory::fill(page, pattern(TAG));
    suite.note(format_args!(
        "only VP 0 runs in this partition: the page and the MSR are compared on one VP"
    ));
    // The page and the MSR interleaved: every value at least the one
    // before, and each page value within a few units of the MSR reads
    // around it.
    suite.check(
        "the reference TSC page and HV_X64_MSR_TIME_REF_COUNT agree within 3 units and never step back, 200 reads interleaved",
        || {
            write(msr, enable_at(page))?;
            let mut last = 0;
            for i in 0..100 {
                let before = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
                let Some(time) = page_time(page)? else {
                    return fail!("TscSequence 0 on a freshly enabled page");
                };
                let after = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
                ensure!(
                    before >= last && time + AGREEMENT >= before && time <= after + AGREEMENT,
                    "read {i}: MSR {before}, page {time}, MSR {after} (last {last})"
                );
                ensure!(after >= time.max(before), "read {i}: MSR {after} after page {time}");
                last = after;
            }
            Ok(())
        },
    );
    if config.privileges.access_frequency_regs() {
        // timers.md: ReferenceTime = ((VirtualTsc * TscScale) >> 64) +
        // TscOffset in 100 ns units: the scale is 10^7 · 2^64 / TSC Hz.
        suite.check(
            "TscScale is 10^7 * 2^64 / HV_X64_MSR_TSC_FREQUENCY (within 1 ppm)",
            || {
                let hz = read(m::HV_X64_MSR_TSC_FREQUENCY)?;
                let scale = u128::from(memory::read_u64(page + 8));
                let expected = (10_000_000_u128 << 64) / u128::from(hz.max(1));
                ensure!(
                    scale.abs_diff(expected) <= expected / 1_000_000,
                    "TscScale {scale:#x}, expected {expected:#x} for {hz} Hz"
                );
                Ok(())
            },
        );
    }
    // Reserved fields read 0 (TLFS md § Reference TSC Page: Reserved1,
    // Reserved2).
    suite.check("the reference TSC page's reserved fields read 0", || {
        ensure_eq!(memory::read_u32(page + 4), 0, "Reserved1");
        for offset in (24..PAGE).step_by(8) {
            ensure_eq!(memory::read_u64(page + offset), 0, "Reserved2 at {offset}");
        }
        Ok(())
    });
    suite.check(
        "a store to the reference TSC page raises GP, and the page is unchanged",
        || {
            let sequence = memory::read_u32(page);
            expect_gp(memory::guarded_store_u8(page, 0xAB))?;
            ensure_eq!(memory::read_u32(page), sequence, "TscSequence");
            Ok(())
        },
    );
    suite.check(
        "RsvdP bits 11:1 of HV_X64_MSR_REFERENCE_TSC read back; the page stays",
        || {
            let value = enable_at(page) | 0xFFE;
            write(msr, value)?;
            ensure_eq!(read(msr)?, value, "HV_X64_MSR_REFERENCE_TSC");
            ensure!(page_time(page)?.is_some(), "the page went away");
            Ok(())
        },
    );
    suite.check(
        "disabling the reference TSC page uncovers the RAM underneath",
        || {
            write(msr, 0)?;
            ensure_eq!(read(msr)?, 0, "HV_X64_MSR_REFERENCE_TSC");
            if let Some((offset, found)) = memory::first_difference(page, pattern(TAG)) {
                return fail!("RAM byte at {offset:#x} is {found:#x}");
            }
            Ok(())
        },
    );
    // timers.md: "If the specified base address is beyond the end of the
    // partition's GPA space, the reference TSC page will not be
    // accessible to the guest" — no fault is named.
    suite.check(
        "HV_X64_MSR_REFERENCE_TSC enabled beyond the GPA space: no fault, the value reads back, nothing appears in RAM",
        || {
            let far = enable_at(config.beyond_gpa_space());
            write(msr, far)?;
            ensure_eq!(read(msr)?, far, "HV_X64_MSR_REFERENCE_TSC");
            if let Some((offset, found)) = memory::first_difference(page, pattern(TAG)) {
                return fail!("RAM byte at {offset:#x} is {found:#x}");
            }
            write(msr, 0)
        },
    );
    suite.check(
        "re-enabled, the reference TSC page covers the RAM again with a valid sequence and agrees with the MSR",
        || {
            write(msr, enable_at(page))?;
            let before = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
            let Some(time) = page_time(page)? else {
                return fail!("TscSequence 0");
            };
            let after = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
            ensure!(
                time + AGREEMENT >= before && time <= after + AGREEMENT,
                "MSR {before}, page {time}, MSR {after}"
            );
            write(msr, 0)?;
            ensure!(
                memory::first_difference(page, pattern(TAG)).is_none(),
                "the RAM under the page changed"
            );
            Ok(())
        },
    );
    // timers.md § Partition Reference TSC Mechanism: sequence 0 means "no
    // longer a reliable source of reference time and the VM must fall
    // back". Once the guest moves its own TSC, the page's offset is wrong
    // for it; the MSR keeps counting.
    suite.check(
        "after a WRMSR IA32_TSC the reference TSC page says TscSequence 0 (use the MSR), and TIME_REF_COUNT still increases",
        || {
            write(msr, enable_at(page))?;
            ensure!(page_time(page)?.is_some(), "TscSequence 0 before the TSC write");
            let before = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
            write(IA32_TSC, cpu::rdtsc())?;
            ensure_eq!(memory::read_u32(page), 0, "TscSequence after the TSC write");
            let after = read(m::HV_X64_MSR_TIME_REF_COUNT)?;
            ensure!(after > before, "TIME_REF_COUNT {before} then {after}");
            write(msr, 0)
        },
    );
}

/// The architectural time-stamp counter MSR.
const IA32_TSC: u32 = 0x10;

fn frequencies(suite: &mut Suite, config: &Config) {
    if !config.privileges.access_frequency_regs() {
        return;
    }
    // 6.0b Appendix C: TSC and APIC timer frequencies in Hz, read-only.
    // The kernel's boot log says what it measured; the system test
    // compares that number with this note.
    suite.check(
        "HV_X64_MSR_TSC_FREQUENCY and APIC_FREQUENCY: plausible Hz, writes of any value raise GP(0) and change nothing",
        || {
            let tsc = read(m::HV_X64_MSR_TSC_FREQUENCY)?;
            let apic = read(m::HV_X64_MSR_APIC_FREQUENCY)?;
            ensure!(
                (10_000_000..=100_000_000_000).contains(&tsc),
                "TSC frequency {tsc} Hz"
            );
            ensure!(
                (1_000_000..=10_000_000_000).contains(&apic),
                "APIC frequency {apic} Hz"
            );
            for msr in [m::HV_X64_MSR_TSC_FREQUENCY, m::HV_X64_MSR_APIC_FREQUENCY] {
                for value in [0, 1, u64::MAX] {
                    expect_gp(cpu::wrmsr(msr, value))?;
                }
            }
            ensure_eq!(read(m::HV_X64_MSR_TSC_FREQUENCY)?, tsc, "TSC frequency");
            ensure_eq!(read(m::HV_X64_MSR_APIC_FREQUENCY)?, apic, "APIC frequency");
            Ok(())
        },
    );
    if let Ok(hz) = read(m::HV_X64_MSR_TSC_FREQUENCY) {
        suite.note(format_args!("HV_X64_MSR_TSC_FREQUENCY: {hz} Hz"));
    }
    if let Ok(hz) = read(m::HV_X64_MSR_APIC_FREQUENCY) {
        suite.note(format_args!("HV_X64_MSR_APIC_FREQUENCY: {hz} Hz"));
    }
}

fn invariant_tsc_bit() -> bool {
    cpu::cpuid(0x8000_0007, 0).edx & INVARIANT_TSC != 0
}

fn tsc_invariant(suite: &mut Suite, config: &Config) {
    let msr = TSC_INVARIANT_CONTROL;
    if !config.privileges.access_tsc_invariant_controls() {
        suite.check(
            "HV_X64_MSR_TSC_INVARIANT_CONTROL without AccessTscInvariantControls: RDMSR and WRMSR raise GP(0)",
            || expect_absent(msr, Some(1)),
        );
        return;
    }
    suite.check(
        "HV_X64_MSR_TSC_INVARIANT_CONTROL: reads 0 and hides CPUID 0x80000007 EDX[8]; reserved bits raise GP(0); bit 0 sticks and cannot be cleared",
        || {
            ensure_eq!(read(msr)?, 0, "the control at start");
            ensure!(!invariant_tsc_bit(), "invariant TSC shown before the control is set");
            for bad in [2, 1 << 63, 3] {
                expect_gp(cpu::wrmsr(msr, bad))?;
            }
            ensure_eq!(read(msr)?, 0, "the control after refused writes");
            write(msr, 0)?;
            write(msr, 1)?;
            ensure_eq!(read(msr)?, 1, "the control");
            write(msr, 1)?;
            expect_gp(cpu::wrmsr(msr, 0))?;
            ensure_eq!(read(msr)?, 1, "the control after a refused clear");
            Ok(())
        },
    );
    // The bit then says what the host's TSC is: the guest's runs at the
    // host's rate. QEMU's TCG never reports an invariant TSC.
    suite.note(format_args!(
        "CPUID 0x80000007 EDX[8] (invariant TSC) after the control is set: {}",
        u8::from(invariant_tsc_bit())
    ));
}
