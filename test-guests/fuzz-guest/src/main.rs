//! `fuzz-guest`: seeded random operations against its own partition
//! (`cargo xtask fuzz guest`).
//!
//! Each operation draws from its own stream (`tessera_fuzz::Draw`: the
//! seed, the operation's index): a hypercall (any code, random input
//! values, rep counts and start indices, fast, XMM and memory forms with
//! parameters in RAM, in overlay pages, in a device window and beyond
//! RAM), a synthetic or architectural MSR access (the hypercall and VP
//! assist pages among them, enabled and disabled at colliding GPAs), a
//! CPUID leaf, an instruction with prefixes, an exception, port and MMIO
//! accesses, or a request to the host (replace its hot-plug memory, audit
//! the kernel).
//!
//! Oracles, each a `FINDING at operation N` line: every hypercall status
//! is one the TLFS allows for the call (`tessera_fuzz::hypercall`); every
//! exception is the one the architecture raises; a prefixed instruction
//! leaves every register as its unprefixed form does and execution goes
//! on after it; the overlay pool shows an overlay or its RAM exactly as
//! the synthetic MSRs say; the probe's registers keep their values; the
//! kernel audit holds. The host (`fuzz-host`) resumes the guest when an
//! operation stops its VP, checks the canary partition next to it, and
//! compares the kernel's frames at the end with the start.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod host;
mod machine;
mod model;
mod ops;

use core::fmt;

use tessera_fuzz::guest::{HOTPLUG_GPA, HOTPLUG_PAGES, command};
use tessera_fuzz::params::{self, ParamBlock};
use tessera_fuzz::seed::Seed;
use tessera_fuzz::{Draw, hypercall};
use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, cpu, layout, println};
use tlfs::privilege::HvPartitionPrivilegeMask;

use crate::model::{Layout, Overlays, ProbeMmio};

tessera_guest_framework::entry!(main);

/// Written by xtask: the seed, the operation count, the flags.
static PARAMS: ParamBlock = ParamBlock::new(params::DEFAULTS);

/// A GPA beyond RAM that nothing maps and no route serves: an access
/// there stops the VP.
pub const BEYOND_RAM: u64 = 0x1000_0000;
/// How many findings are printed (the count is always reported).
const PRINTED_FINDINGS: u64 = 40;

/// The run's state and what the guest expects of its partition.
#[derive(Debug)]
pub struct Fuzz {
    pub seed: u64,
    pub operation: u64,
    pub trace: bool,
    pub findings: u64,
    pub layout: Layout,
    pub overlays: Overlays,
    pub partition: hypercall::Partition,
    pub probe: ProbeMmio,
    /// Whether the devices windows are in the guest's page tables.
    pub mmio_mapped: bool,
    pub beyond_mapped: bool,
    pub hotplug_mapped: bool,
    /// The hot-plug region's generation (0: not there yet).
    pub hotplug_generation: u64,
    /// The last reference time read.
    pub time_ref: u64,
    /// Operations that stopped the VP and were resumed by the host.
    pub stops: u64,
    /// Hypercalls made, and how many succeeded.
    pub hypercalls: u64,
    pub successes: u64,
}

impl Fuzz {
    pub fn finding(&mut self, what: fmt::Arguments<'_>) {
        self.findings += 1;
        if self.findings <= PRINTED_FINDINGS {
            println!(
                "fuzz-guest: FINDING at operation {} of seed {}: {what}",
                self.operation,
                Seed(self.seed)
            );
        }
    }

    /// Re-reads the overlay MSRs and checks the pool against them.
    pub fn check_overlays(&mut self, after: &str) {
        self.overlays = Overlays::read();
        if let Err((gpa, what)) = self.layout.check_pool(&self.overlays) {
            let seen = self.overlays;
            self.finding(format_args!(
                "after {after}: pool page {gpa:#x} {what} (guest OS ID {:#x}, hypercall MSR {:#x}, VP assist MSR {:#x})",
                seen.guest_os_id, seen.hypercall, seen.assist
            ));
            // Say it once: put the pool back as the MSRs say it is.
            self.layout.fill_pool(&self.overlays);
        }
    }
}

/// What the partition was told about its Hv#1 interface (CPUID
/// 0x40000003 and 0x40000004).
fn partition() -> hypercall::Partition {
    let features = cpu::cpuid(0x4000_0003, 0);
    let privileges = HvPartitionPrivilegeMask::from_cpuid(features.eax, features.ebx);
    let recommendations = cpu::cpuid(0x4000_0004, 0).eax;
    hypercall::Partition {
        post_messages: privileges.post_messages(),
        signal_events: privileges.signal_events(),
        extended_hypercalls: privileges.enable_extended_hypercalls(),
        // UseExProcessorMasks, CPUID 0x40000004 EAX bit 11.
        ex_processor_masks: recommendations & (1 << 11) != 0,
        connections: false,
    }
}

fn main(suite: &mut Suite) {
    let params = PARAMS.read();
    let (Some(free), Some(ram_top)) = (layout::free_ram(), layout::ram_top()) else {
        suite.check("the ELF64 loader's layout", || Ok(()));
        return;
    };
    let layout = Layout::at(free.start, ram_top);
    if layout.end() > free.end {
        suite.check("free RAM for the pool, scratch and code pages", || {
            tessera_guest_framework::fail!("only {:#x}..{:#x}", free.start, free.end)
        });
        return;
    }
    layout.fill_pool(&Overlays::default());
    // XMM fast hypercalls load XMM0-5.
    let sse = cpu::enable_sse();
    host::register_recovery();
    let mut fuzz = Fuzz {
        seed: params.seed,
        operation: 0,
        trace: params.trace(),
        findings: 0,
        layout,
        overlays: Overlays::read(),
        partition: partition(),
        probe: ProbeMmio::default(),
        mmio_mapped: DeviceWindow::map(probe::MMIO_BASE, probe::MMIO_SIZE).is_ok(),
        beyond_mapped: DeviceWindow::map(BEYOND_RAM, 4096).is_ok(),
        hotplug_mapped: DeviceWindow::map(HOTPLUG_GPA, HOTPLUG_PAGES * 4096).is_ok(),
        hotplug_generation: 0,
        time_ref: 0,
        stops: 0,
        hypercalls: 0,
        successes: 0,
    };
    if let Err(why) = sse {
        fuzz.finding(format_args!("SSE cannot be enabled: {why}"));
    }
    if !host::wait_for_canary() {
        fuzz.finding(format_args!("the canary never filled its memory"));
    }
    println!(
        "fuzz-guest: seed {}, {} operations{}; RAM {:#x}, pool {:#x}, scratch {:#x}, code {:#x}",
        Seed(params.seed),
        params.operations,
        if fuzz.trace { ", tracing" } else { "" },
        ram_top,
        layout.pool,
        layout.scratch,
        layout.code
    );
    for operation in 0..params.operations {
        fuzz.operation = operation;
        if operation % 64 == 0 {
            host::command(command::PROGRESS, operation);
        }
        let mut draw = Draw::for_operation(params.seed, operation);
        ops::one(&mut fuzz, &mut draw);
        if operation % 256 == 255 {
            fuzz.check_overlays("256 more operations");
        }
        if (operation + 1) % 1000 == 0 {
            println!(
                "fuzz-guest: {} of {} operations, {} hypercalls ({} succeeded), {} stops resumed, {} findings",
                operation + 1,
                params.operations,
                fuzz.hypercalls,
                fuzz.successes,
                fuzz.stops,
                fuzz.findings
            );
        }
    }
    fuzz.operation = params.operations;
    fuzz.check_overlays("the last operation");
    let problems = host::command(command::AUDIT, 0);
    if problems != 0 {
        fuzz.finding(format_args!(
            "the kernel audit at the end finds problems {problems:#x}"
        ));
    }
    println!(
        "fuzz-guest: seed {}: {} operations, {} hypercalls ({} succeeded), {} stops resumed, {} findings",
        Seed(params.seed),
        params.operations,
        fuzz.hypercalls,
        fuzz.successes,
        fuzz.stops,
        fuzz.findings
    );
    host::command(command::DONE, fuzz.findings);
    let findings = fuzz.findings;
    suite.check(
        format_args!("{} operations without a finding", params.operations),
        || {
            tessera_guest_framework::ensure!(findings == 0, "{findings} findings");
            Ok(())
        },
    );
}
