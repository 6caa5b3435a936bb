//! `hv-conformance`: checks the Hv#1 interface from inside a partition.
//!
//! Every item of "Requirements for Implementing the Microsoft Hypervisor
//! Interface" a guest can observe, and every TLFS feature Tessera offers
//! (issue 5): the hypervisor CPUID leaves, the synthetic MSRs, the
//! hypercall page and the hypercall ABI. The guest reads CPUID first and
//! derives what to expect: what is advertised must work, what is not must
//! be absent (#GP(0) for an MSR, HV_STATUS_ACCESS_DENIED or
//! HV_STATUS_INVALID_HYPERCALL_CODE for a call). So one image serves every
//! partition configuration. See README.md for the list of checks.
//!
//! Order matters: the hypercall page cannot be used before the guest OS
//! identity is set, locking the hypercall MSR is final, and the few checks
//! that a nonconforming host answers by stopping or idling the partition
//! come last, each announced by a note.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod apic;
mod call_checks;
mod config;
mod cpuid_checks;
mod expect;
mod flush_checks;
mod hypercall;
mod lazy_eoi_checks;
mod memory;
mod msr_checks;
mod page_checks;
mod pages;
mod requirements;
mod ring3;
mod time_checks;
mod trap;

use tessera_guest_framework::{Suite, fail, layout};
use tlfs::HvStatus;
use tlfs::HypercallCode;
use tlfs::msr::HV_X64_MSR_GUEST_IDLE;

use config::Config;
use pages::Pages;

tessera_guest_framework::entry!(main);

/// The input GPA of the last check: an address no test partition has RAM
/// or devices at.
const FAR_GPA: u64 = 0xFFFF_F000_0000;

fn main(suite: &mut Suite) {
    trap::install();
    let free = memory::init();
    let config = Config::read();
    config.note(suite);
    cpuid_checks::run(suite, &config);
    if !config.is_hv1() {
        suite.note(format_args!(
            "the partition does not offer Hv#1: nothing else to check"
        ));
        return;
    }

    // Harness: the pages the checks use, and the guest's own mappings.
    let mut pages = None;
    suite.check(
        "harness: free RAM for the test pages and a scratch mapping area",
        || {
            let Some(free) = &free else {
                return fail!("no free RAM between the image and the loader's tables");
            };
            let Some(allocated) = Pages::allocate() else {
                return fail!("free RAM {:#x}..{:#x} is too small", free.start, free.end);
            };
            memory::scratch_init().map_err(|why| tessera_guest_framework::failure!("{why}"))?;
            pages = Some(allocated);
            Ok(())
        },
    );
    let Some(pages) = pages else {
        return;
    };
    suite.note(format_args!(
        "RAM top {:#x}; hypercall page at {:#x}, moved to {:#x}; parameters at {:#x}",
        layout::ram_top().unwrap_or(0),
        pages.hypercall,
        pages.hypercall_moved,
        pages.input
    ));

    msr_checks::run(suite, &config, &pages);
    time_checks::run(suite, &config, &pages);
    let page = page_checks::establish(suite, &pages);
    match page {
        Some(fingerprint) => {
            call_checks::run(suite, &config, &pages);
            flush_checks::run(suite, &config, &pages);
            requirements::self_ipi(suite, &config);
            lazy_eoi_checks::run(suite, &config, &pages);
            page_checks::transitions(suite, &config, &pages, fingerprint);
            page_checks::lock(suite, &config, &pages);
        }
        None => suite.note(format_args!(
            "skipped: every hypercall check (the hypercall page does not work)"
        )),
    }
    requirements::notes(suite, &config);
    cpuid_checks::privileges_unchanged(suite, &config);
    risky_tail(suite, &config, &pages, page.is_some());
}

/// Checks a nonconforming host may answer by stopping or idling the
/// partition: each is announced, so a log that ends with the note shows
/// which one.
fn risky_tail(suite: &mut Suite, config: &Config, pages: &Pages, page_works: bool) {
    if !config.privileges.access_guest_idle_reg() {
        suite.note(format_args!(
            "next: RDMSR HV_X64_MSR_GUEST_IDLE, not advertised; if the log ends here the host idled the VP"
        ));
        suite.check(
            "HV_X64_MSR_GUEST_IDLE without AccessGuestIdleReg: RDMSR raises GP(0)",
            || expect::expect_absent(HV_X64_MSR_GUEST_IDLE, None),
        );
    }
    if !page_works {
        return;
    }
    // TLFS md `hypercall-interface.md` § Common Hypercall Status Codes:
    // HV_STATUS_INVALID_ALIGNMENT when "The input or output GPA pointer is
    // not within the bounds of the GPA space". Inside the space, an
    // unmapped GPA is a memory intercept instead (§ Alignment
    // Requirements), which a test deployment without a memory route
    // answers by stopping the partition: not a status to check.
    if FAR_GPA >= config.beyond_gpa_space() {
        suite.check(
            format_args!(
                "a hypercall input GPA outside the partition ({FAR_GPA:#x}, beyond the {}-bit GPA space) returns HV_STATUS_INVALID_ALIGNMENT",
                config.physical_address_bits
            ),
            || {
                let call =
                    hypercall::control(HypercallCode::NOTIFY_LONG_SPIN_WAIT, false).into_bits();
                expect::status(
                    hypercall::via_page(call, FAR_GPA, 0),
                    HvStatus::INVALID_ALIGNMENT,
                )
                .map(drop)
            },
        );
    } else {
        suite.note(format_args!(
            "skipped: input GPA {FAR_GPA:#x} lies inside the {}-bit GPA space, where the TLFS answers an unmapped GPA with a memory intercept, not a status",
            config.physical_address_bits
        ));
    }
    suite.note(format_args!(
        "next: a store to the hypercall page; if the log ends here the host stopped the partition on the write"
    ));
    page_checks::write_faults(suite, pages);
}
