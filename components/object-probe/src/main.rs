//! `object-probe`: kernel objects come and go without the kernel growing,
//! and a component that runs its quota out gets a status, never a kernel
//! panic (issue 9 finding 2; `boot/deployments/kernel-objects.toml`).
//!
//! At 6a784cc the kernel appended every region, partition and VP to a
//! table whose slots were never reused: creating and deleting one region
//! about 120 000 times exhausted the kernel heap and the kernel panicked.
//! Nor did it charge a component for the page tables and nested page
//! tables it made on its behalf, so a component could take memory beyond
//! its quota.
//!
//! Each check logs `ok N - WHAT` or `not ok N - WHAT: got ...`; the verdict
//! is pass if every check is ok.
//!
//! ```toml
//! [component.object-probe]
//! image = "object-probe"
//! memory = "1 MiB"        # small, so the tables run it out (QUOTA_FRAMES)
//! priority = 5            # PRIORITY below
//! console = true
//! verdict = true
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use tessera_rt::abi::TIMERS_PER_COMPONENT;
use tessera_rt::abi::vm::map;
use tessera_rt::abi::{REGION_WINDOW, page};
use tessera_rt::ipc::Notification;
use tessera_rt::testing::Tap;
use tessera_rt::{Error, Status, build, cap, memory, rights, slot, testing, vm};

tessera_rt::entry!(main);

/// object-probe's priority (the manifest's): VPs may not be above it.
const PRIORITY: u8 = 5;
const REGION: u32 = 10;
const PARTITION: u32 = 11;
const VP: u32 = 12;
const FIRST: u32 = 13;
const SECOND: u32 = 14;
const FIRST_THREAD: u32 = 15;
/// Notifications for the deadline checks: one per deadline a component
/// may have armed, and one more.
const NOTIFICATIONS: core::ops::Range<u32> = 16..16 + TIMERS_PER_COMPONENT as u32 + 1;
/// The quota each domain of the unreachable-domain checks is given.
const CHILD_QUOTA: u64 = 64 << 10;
/// Where the spinning domain's code is, and the code: `jmp $`.
const CODE_AT: u64 = 0x1_0000;
const JMP_SELF: [u8; 2] = [0xEB, 0xFE];
/// The CPU the spinning thread runs on (object-probe runs on CPU 0).
const OTHER_CPU: u32 = 1;
/// How long the spinner runs before it is ended: about a millisecond.
const SPIN_CYCLES: u64 = 3_000_000;

/// Well past the ~120 000 regions that exhausted the heap at 6a784cc.
const REGION_CYCLES: u32 = 150_000;
/// Partitions (each with a region mapped and a VP) made and destroyed.
const PARTITION_CYCLES: u32 = 2_000;
/// How many GiB apart the quota checks map pages: each page then needs
/// page tables of its own.
const GIB: u64 = 1 << 30;
/// More mappings than the quota can pay the tables of (its 1 MiB is 256
/// frames, and each mapping needs two tables).
const MAPPINGS: u64 = 1000;
const READ_WRITE: u64 = map::READABLE | map::WRITABLE;

fn main() {
    let mut tap = Tap::new("object-probe");
    tap.expect_ok(
        "150000 one-page regions are made and deleted in turn",
        (0..REGION_CYCLES).try_for_each(|_| {
            memory::create(REGION, 1)?;
            cap::delete(REGION)
        }),
    );
    tap.expect_ok(
        "2000 partitions, each with a region mapped and a VP, are made and destroyed in turn",
        (0..PARTITION_CYCLES).try_for_each(|_| cycle_partition()),
    );

    // The nested tables a partition needs are charged to its creator, and
    // refunded when it goes: mapping one page at every GiB of a partition
    // runs the quota out long before MAPPINGS, and a second partition
    // then maps as many.
    let first = nested_tables_until_refused();
    tap.check(
        "mapping a page at every GiB of a partition stops with QuotaExhausted: its nested tables are charged to it",
        matches!(first, Ok((n, Some(e))) if n > 0 && e == Status::QuotaExhausted),
        format_args!("{first:?} (mappings made, the refusal)"),
    );
    log::info!("object-probe: a partition mapped {first:?} before its quota ran out");
    let second = nested_tables_until_refused();
    tap.check(
        "a second partition maps as many pages as the first: the first one's nested tables came back",
        first.is_ok() && second == first,
        format_args!("{second:?}, the first {first:?}"),
    );
    // A domain that holds the only capabilities to itself and to its
    // thread, never started, can never run: it goes when the probe deletes
    // its own capabilities, and so does a pair that name only each other
    // (the 10^6-operation syscall fuzz, seed 0x2026120600000009, left one).
    let alone = unreachable_domains_go(|[first, _]| {
        build::cap_install(first, first, slot::DOMAIN, rights::CONTROL, 0)?;
        build::thread_create(first, FIRST_THREAD, 0x1_0000, 0x2_0000, PRIORITY, (0, 0))?;
        build::cap_install(first, FIRST_THREAD, slot::THREAD, rights::CONTROL, 0)
    });
    tap.check(
        "a domain named only by its own capabilities, its thread never started, is reaped and its quota returned",
        alone == Ok(true),
        format_args!("{alone:?} (whether domains and frames came back)"),
    );
    let pair = unreachable_domains_go(|[first, second]| {
        build::cap_install(first, second, slot::FIRST_GRANTED, rights::CONTROL, 0)?;
        build::cap_install(second, first, slot::FIRST_GRANTED, rights::CONTROL, 0)
    });
    tap.check(
        "two domains that name only each other, neither started, are reaped and their quota returned",
        pair == Ok(true),
        format_args!("{pair:?} (whether domains and frames came back)"),
    );

    // A domain whose thread spins on the other CPU ends when its last
    // capability is deleted: the kernel takes its pages back from under
    // the running thread (that CPU drops its translations first) and
    // reaps it. Before, nobody could ever stop or reclaim such a domain
    // (the syscall fuzz, seed 0x2026120700000003, ended with 1009 of them
    // starving behind one).
    let spinner = unreachable_domains_go(|[first, _]| {
        build::domain_map(first, CODE_AT, 1, page::EXECUTE)?;
        build::domain_write(first, CODE_AT, &JMP_SELF)?;
        build::thread_create(first, FIRST_THREAD, CODE_AT, 0, PRIORITY, (OTHER_CPU, 0))?;
        build::thread_start(FIRST_THREAD)?;
        // Let it run a while on the other CPU before it is ended.
        let start = tessera_rt::time::cycles();
        while tessera_rt::time::cycles().wrapping_sub(start) < SPIN_CYCLES {
            tessera_rt::yield_now();
        }
        Ok(())
    });
    tap.check(
        "a domain whose thread spins on the other CPU ends when its last capability is deleted, and is reaped",
        spinner == Ok(true),
        format_args!("{spinner:?} (whether domains and frames came back)"),
    );

    // So are the page tables a mapping needs, to the domain it maps into
    // (they stay with the domain: last, as its quota stays used up).
    let mapped = memory::create(REGION, 1).map(|()| {
        count_until_refused(|i| memory::map(REGION, slot::DOMAIN, REGION_WINDOW.start + i * GIB, 0))
    });
    log::info!("object-probe: its region window mapped {mapped:?} before its quota ran out");
    tap.check(
        "mapping a page at every GiB of its region window stops with QuotaExhausted: its page tables are charged to it",
        matches!(mapped, Ok((n, Some(e))) if n > 0 && e == Status::QuotaExhausted),
        format_args!("{mapped:?} (mappings made, the refusal)"),
    );
    let _ = cap::delete(REGION);

    deadlines(&mut tap);
    tap.finish()
}

/// `TimerSignal`: a notification signalled once a delay has passed.
fn deadlines(tap: &mut Tap) {
    let made = NOTIFICATIONS
        .clone()
        .try_for_each(|at| build::endpoint_create(slot::DOMAIN, at, true, 0));
    tap.expect_ok("notifications for the deadline checks", made);
    let first = Notification(NOTIFICATIONS.start);
    let signalled = first.signal_after(1_000, 0b10).and_then(|()| first.wait());
    tap.check(
        "a deadline signals its bits once it has passed",
        signalled == Ok(0b10),
        format_args!("{signalled:?}"),
    );
    // Were the cancelled or the replaced deadline still armed, their bits
    // would come first (their delays are the shorter ones).
    let cancelled = first
        .signal_after(1_000, 0b1)
        .and_then(|()| first.cancel_timer())
        .and_then(|()| first.signal_after(3_000, 0b100))
        .and_then(|()| first.wait());
    tap.check(
        "a cancelled deadline signals nothing",
        cancelled == Ok(0b100),
        format_args!("{cancelled:?}"),
    );
    let replaced = first
        .signal_after(1_000, 0b1000)
        .and_then(|()| first.signal_after(3_000, 0b1_0000))
        .and_then(|()| first.wait());
    tap.check(
        "arming again replaces the deadline",
        replaced == Ok(0b1_0000),
        format_args!("{replaced:?}"),
    );
    let no_bits = first.signal_after(1_000, 0);
    tap.check(
        "a deadline without bits is InvalidArgument",
        no_bits == Err(Error::from(Status::InvalidArgument)),
        format_args!("{no_bits:?}"),
    );
    let mut results = NOTIFICATIONS
        .clone()
        .map(|at| Notification(at).signal_after(60_000_000, 1));
    let armed = results
        .by_ref()
        .take(TIMERS_PER_COMPONENT)
        .all(|r| r.is_ok());
    let refused = results.next();
    tap.check(
        "a component may arm TIMERS_PER_COMPONENT deadlines; one more is OutOfMemory",
        armed && refused == Some(Err(Error::from(Status::OutOfMemory))),
        format_args!("{armed} {refused:?}"),
    );
    for at in NOTIFICATIONS {
        let _ = Notification(at).cancel_timer();
        let _ = cap::delete(at);
    }
}

/// One partition with a region mapped and a VP, then every capability to
/// them deleted.
fn cycle_partition() -> Result<(), Error> {
    vm::partition_create(PARTITION, "churn")?;
    memory::create(REGION, 1)?;
    vm::map_gpa(PARTITION, REGION, 0, READ_WRITE)?;
    vm::vp_create(PARTITION, VP, 0, 0, PRIORITY)?;
    cap::delete(VP)?;
    cap::delete(PARTITION)?;
    cap::delete(REGION)
}

/// Makes two domains, lets `link` give them capabilities to themselves or
/// each other, deletes the probe's own capabilities to them, and answers
/// whether the kernel then has as many live domains and as many frames in
/// domains as before.
fn unreachable_domains_go(link: impl FnOnce([u32; 2]) -> Result<(), Error>) -> Result<bool, Error> {
    use tessera_rt::abi::audit;
    let before = testing::kernel_audit(slot::VERDICT)?;
    build::domain_create(slot::DOMAIN, FIRST, CHILD_QUOTA, "unreachable-1")?;
    build::domain_create(slot::DOMAIN, SECOND, CHILD_QUOTA, "unreachable-2")?;
    let linked = link([FIRST, SECOND]);
    for held in [FIRST, SECOND, FIRST_THREAD] {
        let _ = cap::delete(held);
    }
    linked?;
    let back = |r: &[u64; audit::WORDS]| {
        r[audit::DOMAINS_LIVE] == before[audit::DOMAINS_LIVE]
            && r[audit::FRAMES_DOMAINS] == before[audit::FRAMES_DOMAINS]
    };
    let after = testing::kernel_audit_settled(slot::VERDICT, 50, back)?;
    log::info!(
        "object-probe: live domains {} before, {} after; frames in domains {} before, {} after",
        before[audit::DOMAINS_LIVE],
        after[audit::DOMAINS_LIVE],
        before[audit::FRAMES_DOMAINS],
        after[audit::FRAMES_DOMAINS]
    );
    Ok(back(&after))
}

/// A partition and a region mapped at every GiB of it until the kernel
/// refuses; then both deleted. How many mappings were made, and the
/// refusal.
fn nested_tables_until_refused() -> Result<(u64, Option<Error>), Error> {
    vm::partition_create(PARTITION, "tables")?;
    memory::create(REGION, 1)?;
    let counted = count_until_refused(|i| vm::map_gpa(PARTITION, REGION, i * GIB, READ_WRITE));
    cap::delete(PARTITION)?;
    cap::delete(REGION)?;
    Ok(counted)
}

/// Runs `step(0)`, `step(1)`, ... up to `MAPPINGS` times or until one
/// fails: how many succeeded, and the error.
fn count_until_refused(mut step: impl FnMut(u64) -> Result<(), Error>) -> (u64, Option<Error>) {
    for i in 0..MAPPINGS {
        if let Err(e) = step(i) {
            return (i, Some(e));
        }
    }
    (MAPPINGS, None)
}
