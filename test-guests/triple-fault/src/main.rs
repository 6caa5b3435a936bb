//! `triple-fault`: shuts its virtual CPU down on purpose. It loads an IDT
//! with limit 0 and executes `ud2`: the #UD cannot be delivered, nor the #GP
//! and the #DF that follow, so the CPU shuts down. The host must stop the
//! partition and report it (an unrecoverable-exception exit on the
//! lifecycle route, with RIP and RSP). If the guest runs on, it fails.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_guest_framework::{Suite, cpu, exception, fail};

tessera_guest_framework::entry!(main);

fn main(suite: &mut Suite) {
    suite.note(format_args!(
        "triple-fault: loading an empty IDT and executing ud2; the host should report a triple fault now"
    ));
    exception::make_every_exception_fatal();
    let result = cpu::ud2();
    suite.check(
        "the CPU shuts down on an exception it cannot deliver",
        || fail!("ud2 with an empty IDT returned {result:?}"),
    );
}
