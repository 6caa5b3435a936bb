//! `crasher`: serves an endpoint, and faults on the first call, in the way
//! word 0 of the call asks: 0 a page fault (a write to address 0x10, which
//! no component maps), 1 an invalid opcode, 2 a divide error, 3 a general
//! protection fault (a privileged instruction). The kernel must stop it,
//! and wake its caller with `ServerDied`; later calls must fail the same way
//! at once. See `boot/deployments/fault-containment.toml`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_rt::testing::{Fault, crash_with, crash_with_page_fault};
use tessera_rt::{Endpoint, serve};

tessera_rt::entry!(main);

/// The receive capability of its one endpoint (first of `provides`).
const ENDPOINT: Endpoint = Endpoint(4);

fn main() {
    log::info!("crasher: serving; the first call will fault");
    serve(ENDPOINT, |badge, call, _cap| {
        let fault = match call.words[0] {
            1 => Some(Fault::InvalidOpcode),
            2 => Some(Fault::DivideError),
            3 => Some(Fault::GeneralProtection),
            _ => None,
        };
        log::info!(
            "crasher: called (badge {badge}); faulting with {fault:?} (None: a write to 0x10)"
        );
        match fault {
            Some(fault) => crash_with(fault),
            None => crash_with_page_fault(),
        }
    })
}
