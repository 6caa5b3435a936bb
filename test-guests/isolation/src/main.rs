//! `isolation`: two partitions, two CPUs, one question — does either see
//! the other's memory?
//!
//! Each instance reads its partition number `n` from the probe's ID port,
//! fills 4 MiB of its free RAM with a pattern that only partition `n`
//! writes, and then, round after round with busy loops in between (so the
//! two run at the same time), checks that
//!
//! - the area still holds exactly its own pattern (nobody wrote into it),
//! - no word anywhere in its RAM carries another partition's pattern
//!   (nobody else's memory is mapped into it, and it got no stale frames).
//!
//! The pattern word for area word `i` of partition `n` is
//! `PATTERN_BASE ^ n << 40 ^ i`. It is computed at run time from the
//! number read from the port, so no image contains another partition's
//! words, and the scan recognises a foreign word by decoding it rather
//! than by comparing with one, so the scanning code never holds one either.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod pattern;
mod ram;

use core::ops::Range;

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Outcome, Suite, ensure, fail, layout, port};

use crate::pattern::{Pattern, foreign_partition};

tessera_guest_framework::entry!(main);

/// Size of the area each partition fills.
const AREA_SIZE: u64 = 4 << 20;
/// How many times the area and RAM are checked.
const ROUNDS: u32 = 8;
/// Busy-loop iterations before each round (no HLT: the guest should stay
/// on its CPU while the other partition runs on the other).
const SPIN_ITERATIONS: u64 = 2_000_000;

fn main(suite: &mut Suite) {
    let mut number = 0;
    let known = suite.check(
        "the probe's ID port gives a partition number in 1..=255",
        || {
            number = port::inl(probe::ID_PORT);
            ensure!((1..=255).contains(&number), "read {number:#x}");
            Ok(())
        },
    );
    let mut area = 0..0;
    let placed = suite.check(
        "4 MiB of free RAM lie between the image and the loader's tables",
        || {
            area = choose_area()?;
            Ok(())
        },
    );
    if !known || !placed {
        return;
    }
    let pattern = Pattern::of_partition(number as u8);
    let ram = 0..layout::ram_top().unwrap_or(0);
    suite.note(format_args!(
        "isolation: partition {number}, area {:#x}..{:#x}, RAM {:#x}..{:#x}",
        area.start, area.end, ram.start, ram.end
    ));
    ram::fill(&area, &pattern);
    suite.check(
        format_args!("fill the area with partition {number}'s pattern"),
        || expect_own_pattern(&area, &pattern),
    );
    for round in 1..=ROUNDS {
        spin(SPIN_ITERATIONS);
        suite.check(
            format_args!(
                "round {round}: the area is intact and RAM holds no other partition's words"
            ),
            || {
                expect_own_pattern(&area, &pattern)?;
                expect_no_foreign_words(&ram, &pattern)
            },
        );
    }
}

fn choose_area() -> Result<Range<u64>, tessera_guest_framework::Failure> {
    let Some(free) = layout::free_ram() else {
        return fail!("no free RAM between the image and the loader's GDT");
    };
    let area = free.start..free.start + AREA_SIZE;
    ensure!(
        area.end <= free.end,
        "free RAM {:#x}..{:#x} is smaller than 4 MiB: give the partition at least 8 MiB",
        free.start,
        free.end
    );
    Ok(area)
}

fn expect_own_pattern(area: &Range<u64>, pattern: &Pattern) -> Outcome {
    match ram::first_mismatch(area, pattern) {
        None => Ok(()),
        Some((address, found)) => fail!(
            "word at {address:#x} is {found:#x}, expected {:#x}",
            pattern.word(pattern.index_of(area.start, address))
        ),
    }
}

fn expect_no_foreign_words(ram: &Range<u64>, pattern: &Pattern) -> Outcome {
    match ram::first_foreign(ram, pattern) {
        None => Ok(()),
        Some((address, found)) => fail!(
            "word at {address:#x} is {found:#x}, a word of partition {}",
            foreign_partition(found, pattern.partition()).unwrap_or(0)
        ),
    }
}

fn spin(iterations: u64) {
    for i in 0..iterations {
        core::hint::black_box(i);
    }
}
