//! `PartitionInstallIntercept` word 4, the posted ports of an `io` route
//! (`tessera_abi::vm::posted`): only port routes post, only ports of the
//! route's first 32, and a partition has at most four posting routes
//! (`MAX_POSTED_ROUTES`).
use tessera_rt::abi::vm::intercept;
use tessera_rt::testing::Tap;
use tessera_rt::vm;
use tessera_rt::{Status, slot};

use crate::PRIORITY;

const PARTITION: u32 = 46;
const ENDPOINT: u32 = 47;

fn ports(first: u64, last: u64) -> u64 {
    first | last << 16
}

pub fn run(tap: &mut Tap) {
    let made = vm::partition_create(PARTITION, "posting")
        .and_then(|()| tessera_rt::build::endpoint_create(slot::DOMAIN, ENDPOINT, false, PRIORITY));
    tap.expect_ok(
        "a partition and an endpoint for posting routes are made",
        made,
    );
    let install = |kind, parameter, posted| {
        vm::install_posting_intercept(PARTITION, kind, parameter, ENDPOINT, (0, posted))
    };
    tap.expect(
        "a posting MSR route fails with InvalidArgument: only port writes are posted",
        install(intercept::MSR, 0x4c00_0000 | 0x4c00_0000 << 32, 1),
        Status::InvalidArgument,
    );
    tap.expect(
        "posting port 0x602 on a route of 0x600-0x601 fails with InvalidArgument",
        install(intercept::IO_PORT, ports(0x600, 0x601), 0b100),
        Status::InvalidArgument,
    );
    tap.expect(
        "posting the 33rd port of a route fails with InvalidArgument",
        install(intercept::IO_PORT, ports(0x700, 0x7ff), 1 << 32),
        Status::InvalidArgument,
    );
    let four = (0..4u64).try_for_each(|n| {
        install(
            intercept::IO_PORT,
            ports(0x800 + 8 * n, 0x807 + 8 * n),
            0xFF,
        )
    });
    tap.expect_ok("four posting port routes are installed", four);
    tap.expect(
        "a fifth posting route fails with CapabilityOutOfMemory, as a route past the limit does",
        install(intercept::IO_PORT, ports(0x900, 0x907), 1),
        Status::CapabilityOutOfMemory,
    );
    tap.expect_ok(
        "a fifth port route that posts nothing is installed",
        install(intercept::IO_PORT, ports(0x900, 0x907), 0),
    );
}
