//! The host's oracles: the kernel audit (at the start, on request, and
//! after tearing both partitions down, when the kernel must be back where
//! it started), the canary's memory as the host sees it, and the hot-plug
//! region it replaces on request.
use tessera_fuzz::guest::{HOTPLUG_GPA, HOTPLUG_PAGES, hotplug_word};
use tessera_rt::abi::REGION_WINDOW;
use tessera_rt::abi::audit::{self as a};
use tessera_rt::abi::page;
use tessera_rt::abi::vm::guest_ports::EXIT_PASS;
use tessera_rt::abi::vm::map;
use tessera_rt::{cap, memory, slot, vm};

use super::Host;
use super::setup::into_free_slot;

pub type Report = [u64; a::WORDS];

/// The audit now; `None` if the kernel refuses it (logged).
pub fn audit() -> Option<Report> {
    match tessera_rt::testing::kernel_audit(slot::VERDICT) {
        Ok(report) => Some(report),
        Err(e) => {
            log::error!("fuzz-host: KernelAudit failed: {e}");
            None
        }
    }
}

/// The hot-plug region: its capability and generation.
#[derive(Debug, Default)]
pub struct Hotplug {
    region: Option<u32>,
    generation: u64,
}

/// Where the host maps the hot-plug region to fill it (after the
/// partitions' memory, far into the window).
const HOTPLUG_VIEW: u64 = REGION_WINDOW.start + (1 << 40);

/// Replaces the hot-plug region: the old one's capability deleted (which
/// unmaps it everywhere and frees it), a new one made, filled, mapped at
/// the same GPA; then the audit. Returns the generation and the audit's
/// problem bits << 32.
pub fn hotplug(host: &mut Host) -> u64 {
    if let Some(old) = host.hotplug.region.take() {
        if let Err(e) = cap::delete(old) {
            host.finding(format_args!("deleting the hot-plug region failed: {e}"));
        }
        host.slots.free(old);
    }
    let created = into_free_slot(&mut host.slots, |slot| memory::create(slot, HOTPLUG_PAGES));
    let region = match created {
        Ok(region) => region,
        Err(e) => {
            host.finding(format_args!("making a hot-plug region failed: {e}"));
            return 0;
        }
    };
    host.hotplug.region = Some(region);
    host.hotplug.generation += 1;
    let generation = host.hotplug.generation;
    if memory::map(region, slot::DOMAIN, HOTPLUG_VIEW, page::WRITE).is_ok() {
        // A page at a time: the component's heap is small.
        for page in 0..HOTPLUG_PAGES {
            let words: [u64; 512] =
                core::array::from_fn(|i| hotplug_word(generation, page * 512 + i as u64));
            memory::write(HOTPLUG_VIEW + page * 4096, &words);
        }
    }
    let flags = map::READABLE | map::WRITABLE;
    if let Err(e) = vm::map_gpa(host.fuzz.cap, region, HOTPLUG_GPA, flags) {
        host.finding(format_args!("mapping the hot-plug region failed: {e}"));
    }
    let problems = audit().map_or(u64::MAX, |report| report[a::PROBLEMS]);
    generation | problems << 32
}

/// What must be back as it was at the start once the partitions are
/// gone.
const RESTORED: [(usize, &str); 5] = [
    (a::REGIONS_LIVE, "live memory regions"),
    (a::FRAMES_REGIONS, "frames of memory regions"),
    (a::PARTITIONS_LIVE, "live partitions"),
    (a::VPS_LIVE, "live VPs"),
    (a::FRAMES_PARTITIONS, "frames of partitions"),
];

fn restored(start: &Report, now: &Report) -> bool {
    RESTORED.iter().all(|&(i, _)| start[i] == now[i])
}

/// Checks the canary, audits, tears both partitions down, compares the
/// audit with the start, and gives the verdict.
pub fn finish(host: &mut Host, start: &Report) -> ! {
    host.print_all = true;
    let memory = host.canary.spec.memory_bytes;
    match host.canary_device.range(memory) {
        Some(range) => {
            let words = (range.end - range.start) / 8;
            let canary = &host.canary;
            if let Some((gpa, found)) = fuzz_host::first_change(range, |gpa| canary.read(gpa)) {
                host.finding(format_args!(
                    "the canary's word at GPA {gpa:#x} is {found:#x}, not its own"
                ));
            } else {
                log::info!("fuzz-host: the canary's {words} words are intact");
            }
        }
        None => host.finding(format_args!("the canary never said where its pattern lies")),
    }
    if let Some(report) = audit()
        && report[a::PROBLEMS] != 0
    {
        host.finding(format_args!(
            "the kernel audit with both partitions running finds problems {:#x}",
            report[a::PROBLEMS]
        ));
    }
    let caps = [
        Some(host.fuzz.vp),
        Some(host.canary.vp),
        Some(host.fuzz.cap),
        Some(host.canary.cap),
        Some(host.fuzz.region),
        Some(host.canary.region),
        host.hotplug.region.take(),
    ];
    for slot in caps.into_iter().flatten() {
        if let Err(e) = cap::delete(slot) {
            host.finding(format_args!("deleting slot {slot} failed: {e}"));
        }
    }
    let now =
        tessera_rt::testing::kernel_audit_settled(slot::VERDICT, 200, |now| restored(start, now));
    if let Ok(now) = now {
        if now[a::PROBLEMS] != 0 {
            host.finding(format_args!(
                "the kernel audit after the teardown finds problems {:#x}",
                now[a::PROBLEMS]
            ));
        }
        for (index, what) in RESTORED {
            if start[index] != now[index] {
                host.finding(format_args!(
                    "after both partitions are gone, {what}: {} at the start, {} now",
                    start[index], now[index]
                ));
            }
        }
    }
    let guest_passed = host.fuzz_end == Some(EXIT_PASS) && host.guest_findings == Some(0);
    let canary_passed = host.canary_end == Some(EXIT_PASS);
    let pass = guest_passed && canary_passed && host.findings == 0;
    log::info!(
        "fuzz-host: fuzz guest {}, canary {}, {} host findings, {} stops resumed: {}",
        if guest_passed { "passed" } else { "FAILED" },
        if canary_passed { "passed" } else { "FAILED" },
        host.findings,
        host.stops,
        if pass { "pass" } else { "FAIL" }
    );
    tessera_rt::verdict(pass)
}
