//! `fuzz-canary`: the guest fuzzer's canary partition.
//!
//! It fills its free RAM with `tessera_fuzz::guest::canary_word(gpa)`,
//! tells its host the range, and checks it again and again while the fuzz
//! guest runs next to it, until the host says the run is over; then it
//! checks one last time and passes if every word is still its own. The
//! host checks the same range through its own mapping after the canary
//! has ended: a guest that reached memory it does not own, or a frame
//! handed out twice, shows up as a changed word on one side or the other.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod ram;

use tessera_fuzz::guest;
use tessera_guest_framework::{Suite, ensure, layout, port};

tessera_guest_framework::entry!(main);

fn main(suite: &mut Suite) {
    let Some(free) = layout::free_ram() else {
        suite.check("free RAM between the image and the loader's tables", || {
            ensure!(false, "none");
            Ok(())
        });
        return;
    };
    // Stay clear of the stack's page at the top of the framework's area.
    let area = free.start.next_multiple_of(4096)..free.end & !0xFFF;
    ram::fill(&area);
    for (low, high, value) in [
        (
            guest::CANARY_START_LOW,
            guest::CANARY_START_HIGH,
            area.start,
        ),
        (guest::CANARY_END_LOW, guest::CANARY_END_HIGH, area.end),
    ] {
        port::outl(low, value as u32);
        port::outl(high, (value >> 32) as u32);
    }
    suite.note(format_args!(
        "fuzz-canary: {:#x}..{:#x} filled ({} KiB)",
        area.start,
        area.end,
        (area.end - area.start) / 1024
    ));
    let mut rounds = 0u64;
    loop {
        let last = port::inl(guest::CANARY_POLL) == 1;
        if let Some((address, found)) = ram::first_change(&area) {
            suite.check("the canary's memory is unchanged", || {
                ensure!(
                    false,
                    "FINDING: word at {address:#x} is {found:#x}, expected {:#x} (round {rounds})",
                    guest::canary_word(address)
                );
                Ok(())
            });
            return;
        }
        rounds += 1;
        if last {
            break;
        }
    }
    suite.check(
        format_args!("the canary's memory is unchanged after {rounds} rounds"),
        || Ok(()),
    );
}
