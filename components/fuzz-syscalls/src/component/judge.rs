//! The kernel audit as the fuzzer's oracle: sound at every check, and back
//! where it started once everything the fuzzer made is deleted.
use fuzz_syscalls::model::{PARTNER, Slots, VERDICT};
use fuzz_syscalls::partner::ASK_FINDINGS;
use tessera_rt::abi::audit::{self as a, problem};
use tessera_rt::abi::{CSPACE_SLOTS, CapTransfer, Syscall};
use tessera_rt::syscall::Registers;

use super::Fuzzer;

pub type Report = [u64; a::WORDS];

/// The audit now, or `None` (and a finding) if the kernel refuses it.
pub fn audit(fuzzer: &mut Fuzzer) -> Option<Report> {
    match tessera_rt::testing::kernel_audit(VERDICT) {
        Ok(report) => Some(report),
        Err(e) => {
            fuzzer.finding(format_args!("KernelAudit failed: {e}"));
            None
        }
    }
}

/// Names the broken invariants of `report`, if any.
pub fn sound(fuzzer: &mut Fuzzer, report: &Report, when: &str) {
    let problems = report[a::PROBLEMS];
    if problems == 0 {
        return;
    }
    let names = [
        (problem::CAPABILITIES, "capabilities"),
        (problem::IPC, "ipc"),
        (problem::NESTED_TABLES, "nested tables"),
        (problem::FRAMES, "frames"),
    ];
    for (bit, name) in names {
        if problems & bit != 0 {
            fuzzer.finding(format_args!(
                "the kernel audit {when} finds its {name} broken (see the kernel's audit line at the end)"
            ));
        }
    }
}

fn delete(fuzzer: &mut Fuzzer, slot: u32) {
    fuzzer.sys(Registers {
        rax: Syscall::CapDelete as u64,
        rdi: u64::from(slot),
        r13: CapTransfer::NONE.to_word(),
        ..Registers::default()
    });
}

/// What must be as it was at the start, once the fuzzer holds nothing.
const RESTORED: [(usize, &str); 6] = [
    (a::REGIONS_LIVE, "live memory regions"),
    (a::FRAMES_REGIONS, "frames of memory regions"),
    (a::PARTITIONS_LIVE, "live partitions"),
    (a::VPS_LIVE, "live VPs"),
    (a::FRAMES_PARTITIONS, "frames of partitions"),
    (a::DOMAINS_LIVE, "live domains"),
];

/// Tables whose slots must not grow by more than the fuzzer can hold.
const TABLES: [(usize, &str); 5] = [
    (a::REGION_SLOTS, "memory regions"),
    (a::PARTITION_SLOTS, "partitions"),
    (a::VP_SLOTS, "VPs"),
    (a::DOMAIN_SLOTS, "domains"),
    (a::THREAD_SLOTS, "threads"),
];

fn restored(start: &Report, now: &Report) -> bool {
    let others = |r: &Report| r[a::FRAMES_DOMAINS].wrapping_sub(r[a::FRAMES_CALLER]);
    RESTORED.iter().all(|&(i, _)| start[i] == now[i]) && others(start) == others(now)
}

/// Deletes every capability the fuzzer may have made, lets the other CPUs
/// settle, and compares the audit with the one from the start.
pub fn clean_up(fuzzer: &mut Fuzzer, start: &Report) {
    fuzzer.print_all = true;
    for slot in Slots::fuzz_slots() {
        delete(fuzzer, slot);
    }
    let now = tessera_rt::testing::kernel_audit_settled(VERDICT, 200, |now| restored(start, now));
    let now = match now {
        Ok(now) => now,
        Err(e) => return fuzzer.finding(format_args!("KernelAudit failed: {e}")),
    };
    sound(fuzzer, &now, "after the clean-up");
    let asked = fuzzer.sys(Registers {
        rax: Syscall::Call as u64,
        rdi: u64::from(PARTNER),
        words: [ASK_FINDINGS, 0, 0, 0, 0, 0],
        r13: CapTransfer::NONE.to_word(),
        r14: 0,
    });
    if asked.rax == 0 {
        log::info!(
            "fuzz-syscalls: the partner answered {} VP exits and saw {} statuses outside the ABI",
            asked.words[2],
            asked.words[1]
        );
        for _ in 0..asked.words[1] {
            fuzzer.finding(format_args!(
                "the partner saw a status outside the ABI (its log says which)"
            ));
        }
    }
    for (index, what) in RESTORED {
        if start[index] != now[index] {
            fuzzer.finding(format_args!(
                "after deleting every capability it made, {what}: {} at the start, {} now",
                start[index], now[index]
            ));
        }
    }
    let others = |r: &Report| r[a::FRAMES_DOMAINS].wrapping_sub(r[a::FRAMES_CALLER]);
    if others(start) != others(&now) {
        fuzzer.finding(format_args!(
            "after deleting every capability it made, frames of other domains: {} at the start, {} now",
            others(start),
            others(&now)
        ));
    }
    for (index, what) in TABLES {
        let grown = now[index].saturating_sub(start[index]);
        if grown > u64::from(CSPACE_SLOTS) {
            fuzzer.finding(format_args!(
                "the kernel's table of {what} grew from {} to {} slots ({} live), more than the \
                 fuzzer's {CSPACE_SLOTS} capability slots can hold: its indices are not reused",
                start[index],
                now[index],
                now[index + 1]
            ));
        }
    }
    log::info!(
        "fuzz-syscalls: frames {} = {} free + {} kernel + {} domains ({} its own) + {} regions + {} partitions; heap {} KiB (was {} KiB)",
        now[a::FRAMES_TOTAL],
        now[a::FRAMES_FREE],
        now[a::FRAMES_KERNEL],
        now[a::FRAMES_DOMAINS],
        now[a::FRAMES_CALLER],
        now[a::FRAMES_REGIONS],
        now[a::FRAMES_PARTITIONS],
        now[a::HEAP_USED] / 1024,
        start[a::HEAP_USED] / 1024
    );
}
