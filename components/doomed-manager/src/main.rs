//! `doomed-manager`: a partition manager that dies holding everything
//! (`boot/deployments/vm-teardown.toml`, with `teardown-probe`). When the
//! probe calls its `control` endpoint it makes as many partitions as the
//! machine has ASIDs for (up to [`PARTITIONS`]), each with a VP on its own
//! CPU that starts (while it yields) and at once makes an exit routed to
//! an endpoint of the manager's that nobody ever waits on, so every VP
//! stays blocked on it;
//! and one region of [`REGION_MIB`] MiB mapped into the first partition.
//! It answers the probe with how many partitions it made, then faults.
//!
//! At 6a784cc a dead component's capabilities were never deleted, so its
//! partitions, their ASIDs and its regions' frames leaked for good (issue
//! 9 finding 4); the probe checks they come back.
//!
//! ```toml
//! [component.doomed-manager]
//! image = "doomed-manager"
//! memory = "168 MiB"       # the region, and spare
//! priority = 5
//! cpus = [0]
//! console = true
//! provides = ["control"]   # slot 4: CONTROL
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use tessera_rt::abi::REGION_WINDOW;
use tessera_rt::abi::vm::map;
use tessera_rt::syscall::invoke;
use tessera_rt::testing::{PORT_WRITER, PortWriter, crash_with_page_fault, reset_vector_code};
use tessera_rt::{CapTransfer, Error, memory, slot, vm};

tessera_rt::entry!(main);

/// The receive capability of its `control` endpoint (manifest).
const CONTROL: u32 = 4;
/// The endpoint its VPs' exits go to, which it never waits on.
const EXITS: u32 = 10;
const CODE: u32 = 11;
const REGION: u32 = 12;
/// Partition `i` is in slot `FIRST_PARTITION + i`, its VP in
/// `FIRST_VP + i`.
const FIRST_PARTITION: u32 = 20;
const FIRST_VP: u32 = 40;
/// At most this many partitions (QEMU's SVM has 16 ASIDs, one the host's).
pub const PARTITIONS: u32 = 15;
/// The region it holds when it dies.
pub const REGION_MIB: u64 = 150;
const PRIORITY: u8 = 5;
/// The CPU its VPs run on: its own, so each VP it starts has made its
/// exit (and blocked on it) by the time its yield returns.
const VP_CPU: u32 = 0;

fn main() -> Result<(), Error> {
    invoke(
        tessera_rt::abi::Syscall::Wait,
        CONTROL,
        [0; 6],
        CapTransfer::NONE,
    )?;
    tessera_rt::build::endpoint_create(slot::DOMAIN, EXITS, false, PRIORITY)?;
    reset_vector_code(CODE, REGION_WINDOW.start, PORT_WRITER)?;
    let mut made = 0u32;
    for i in 0..PARTITIONS {
        let writer = PortWriter {
            partition: FIRST_PARTITION + i,
            vp: FIRST_VP + i,
        };
        // Until the ASIDs run out.
        if writer
            .build("doomed", CODE, EXITS, VP_CPU, PRIORITY)
            .is_err()
        {
            break;
        }
        tessera_rt::yield_now();
        made += 1;
    }
    memory::create(REGION, REGION_MIB << 8)?;
    vm::map_gpa(FIRST_PARTITION, REGION, 0, map::READABLE | map::WRITABLE)?;
    log::info!(
        "doomed-manager: {made} partitions with a VP blocked on it, {REGION_MIB} MiB of region; faulting"
    );
    invoke(
        tessera_rt::abi::Syscall::Reply,
        CONTROL,
        [u64::from(made), REGION_MIB, 0, 0, 0, 0],
        CapTransfer::NONE,
    )?;
    crash_with_page_fault()
}
