//! Host NMIs and machine checks: they may land anywhere — in the kernel,
//! in a component, or while a guest runs — and must not end the kernel
//! where the architecture lets it go on (issue 9, finding 7).
//!
//! - An NMI while a guest runs ends the guest (the NMI intercept) and is
//!   held while GIF is clear; it is taken at STGI, in the kernel. One in
//!   ring 3 or in the kernel is taken where it lands. The handler counts
//!   it and returns: it runs before the entry code reads GS (an NMI can
//!   come between SYSCALL and SWAPGS) and takes no lock (the code it
//!   interrupted may hold any). The count is logged later, from code that
//!   may log (`report`).
//! - A machine check: `tessera_mca` decides from MCG_STATUS and the banks.
//!   In a guest it is intercepted (`vm/exits.rs`), so no guest sees the
//!   host's. CR4.MCE is set on every CPU that has the feature: without it
//!   a machine check shuts the processor down.
use super::msr;
use core::sync::atomic::{AtomicU64, Ordering};
use tessera_mca::{Action, Interrupted};
use x86_64::registers::control::{Cr4, Cr4Flags};

static NMIS: AtomicU64 = AtomicU64::new(0);
/// `inject-nmis=on` (a system test): each timer tick sends NMIs.
static INJECT_NMIS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
static NMIS_REPORTED: AtomicU64 = AtomicU64::new(0);
static MACHINE_CHECKS: AtomicU64 = AtomicU64::new(0);
static MACHINE_CHECKS_REPORTED: AtomicU64 = AtomicU64::new(0);

/// TSC_AUX: 0 in the host; a VP's own while it runs (`vm/guest_state.rs`).
const TSC_AUX: u32 = 0xC000_0103;

/// Per CPU, before it takes interrupts.
pub fn init_cpu() {
    let leaf1 = raw_cpuid::native_cpuid::cpuid_count(1, 0);
    if leaf1.edx & (1 << 7) != 0 {
        // SAFETY: CR4.MCE only makes machine checks exceptions (vector 18,
        // which the IDT handles on its own stack) rather than shutdowns.
        unsafe { Cr4::update(|cr4| cr4.insert(Cr4Flags::MACHINE_CHECK_EXCEPTION)) };
    }
    let extended = raw_cpuid::native_cpuid::cpuid_count(0x8000_0001, 0);
    let leaf7 = raw_cpuid::native_cpuid::cpuid_count(7, 0);
    if extended.edx & (1 << 27) != 0 || leaf7.ecx & (1 << 22) != 0 {
        // SAFETY: TSC_AUX exists (RDTSCP or RDPID) and nothing in the host
        // reads it.
        unsafe { msr::write(TSC_AUX, 0) };
    }
}

/// From the command line: NMIs on every timer tick.
pub fn inject_nmis() {
    INJECT_NMIS.store(true, Ordering::Relaxed);
    log::warn!("inject-nmis: every timer tick sends an NMI to the other CPUs");
}

/// On each timer tick.
pub fn timer_tick() {
    if INJECT_NMIS.load(Ordering::Relaxed) {
        super::apic::send_nmi_to_others();
    }
}

/// The NMI handler's whole work.
pub fn nmi() {
    NMIS.fetch_add(1, Ordering::Relaxed);
}

/// A machine check that `interrupted` was running: what to do with it.
/// MCG_STATUS is cleared (MCIP with it) unless the run ends.
pub fn machine_check(interrupted: Interrupted) -> Action {
    MACHINE_CHECKS.fetch_add(1, Ordering::Relaxed);
    // Without the machine-check architecture (CPUID 1 EDX bit 14) there are
    // no registers to read, and nothing says the program can restart.
    let architecture = raw_cpuid::native_cpuid::cpuid_count(1, 0).edx & (1 << 14) != 0;
    if !architecture {
        return tessera_mca::decide(0, [], interrupted);
    }
    let status = msr::read(tessera_mca::MCG_STATUS);
    let banks = tessera_mca::bank_count(msr::read(tessera_mca::MCG_CAP));
    let action = tessera_mca::decide(
        status,
        (0..banks).map(|bank| msr::read(tessera_mca::bank_status(bank))),
        interrupted,
    );
    if action != Action::Fatal {
        // SAFETY: clearing MCG_STATUS ends the machine check in progress
        // (MCIP), which is what lets a later one be delivered.
        unsafe { msr::write(tessera_mca::MCG_STATUS, 0) };
    }
    action
}

/// Logs the NMIs and machine checks handled so far, when their count has
/// reached the next power of two since the last line (a flood of them
/// must not become a flood of lines), or, with `all`, whenever it grew.
pub fn report(all: bool) {
    for (count, reported, what) in [
        (&NMIS, &NMIS_REPORTED, "host NMIs"),
        (
            &MACHINE_CHECKS,
            &MACHINE_CHECKS_REPORTED,
            "host machine checks",
        ),
    ] {
        let now = count.load(Ordering::Relaxed);
        let before = reported.load(Ordering::Relaxed);
        if now == before {
            continue;
        }
        // `now` is at least 1 here.
        let next_power = before == 0 || now.ilog2() > before.ilog2();
        if all || next_power {
            reported.store(now, Ordering::Relaxed);
            log::warn!("{now} {what} handled so far; the kernel goes on");
        }
    }
}
