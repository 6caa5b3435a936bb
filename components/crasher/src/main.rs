//! `crasher`: serves an endpoint, and faults on the first call by writing
//! to address 0x10, which no component maps. The kernel must stop it, and
//! wake its caller with `ServerDied`; later calls must fail the same way
//! at once. See `boot/deployments/fault-containment.toml`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_rt::testing::crash_with_page_fault;
use tessera_rt::{Endpoint, serve};

tessera_rt::entry!(main);

/// The receive capability of its one endpoint (first of `provides`).
const ENDPOINT: Endpoint = Endpoint(4);

fn main() {
    log::info!("crasher: serving; the first call will fault");
    serve(ENDPOINT, |badge, _call, _cap| {
        log::info!("crasher: called (badge {badge}); writing to address 0x10");
        crash_with_page_fault()
    })
}
