//! `teardown-probe`: partitions whose VPs wait for a handler can be torn
//! down, and a manager that dies holding partitions leaks nothing (issue
//! 9 finding 4; `boot/deployments/vm-teardown.toml`).
//!
//! At 6a784cc deleting a VP (or its partition) while the VP waited for a
//! reply left the VP unstoppable and its partition, ASID and tables
//! unreaped, in either teardown order (no reply, or reply STOP then
//! delete); after 15 such partitions no partition could be made (QEMU
//! offers 16 ASIDs). And a dead component's capabilities were never
//! deleted, so a dead manager leaked all its partitions and regions. Nor
//! was a VP answered STOP stopped when the handler's `Reply` returned, but
//! only once its own CPU took the reply up (issue 12).
//!
//! Each check logs `ok N - WHAT` or `not ok N - WHAT: got ...`; the verdict
//! is pass if every check is ok.
//!
//! ```toml
//! [component.teardown-probe]
//! image = "teardown-probe"
//! memory = "168 MiB"       # the dead manager's region again, and spare
//! priority = 5
//! cpus = [0]
//! console = true
//! verdict = true
//! connects = [{ endpoint = "doomed-manager.control", slot = 4 }]
//! ```
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use tessera_rt::abi::vm::TESSERA_HANDLER_DIED;
use tessera_rt::abi::{REGION_WINDOW, Syscall};
use tessera_rt::syscall::invoke;
use tessera_rt::testing::{PORT_WRITER, PortWriter, SPINNER, Tap, reset_vector_code};
use tessera_rt::vm_exit::ExitReply;
use tessera_rt::{CapTransfer, Endpoint, Error, Message, Status, cap, memory, slot, vm};
use tlfs::message::HvMessageType;
use tlfs::register::HvRegisterName;

tessera_rt::entry!(main);

/// A call capability to doomed-manager's `control` endpoint (manifest).
const MANAGER: Endpoint = Endpoint(4);
/// Its own endpoint, which its partitions' exits go to.
const EXITS: u32 = 10;
const CODE: u32 = 11;
const REGION: u32 = 12;
/// A guest that spins without exits.
const SPIN_CODE: u32 = 15;
const WRITER: PortWriter = PortWriter {
    partition: 13,
    vp: 14,
};
/// Partition `i` made after the manager died is in slot `AFTER + i`.
const AFTER: u32 = 30;
/// More rounds than QEMU has ASIDs.
const ROUNDS: u32 = 20;
const PRIORITY: u8 = 5;
const VP_CPU: u32 = 1;
/// The dead manager's region (doomed-manager's `REGION_MIB`).
const REGION_MIB: u64 = 150;

fn main() {
    let mut tap = Tap::new("teardown-probe");
    let ready = tessera_rt::build::endpoint_create(slot::DOMAIN, EXITS, false, PRIORITY)
        .and_then(|()| reset_vector_code(CODE, REGION_WINDOW.start, PORT_WRITER))
        .and_then(|()| reset_vector_code(SPIN_CODE, REGION_WINDOW.start + 0x1000, SPINNER));
    tap.expect_ok(
        "an endpoint for the exits and the guest's code are made",
        ready,
    );
    tap.expect_ok(
        "20 times: a partition whose VP waits for the probe's answer is destroyed unanswered, and the next is made",
        (0..ROUNDS).try_for_each(|_| {
            let writer = WRITER.build("unanswered", CODE, EXITS, VP_CPU, PRIORITY)?;
            port_exit()?;
            writer.delete()
        }),
    );
    tap.expect_ok(
        "20 times: a partition whose VP is answered STOP is destroyed at once, and the next is made",
        (0..ROUNDS).try_for_each(|_| {
            let writer = WRITER.build("stopped", CODE, EXITS, VP_CPU, PRIORITY)?;
            port_exit()?;
            reply(ExitReply::new().stop().words())?;
            writer.delete()
        }),
    );

    // Issue 12: a VP answered STOP is stopped once the Reply returns (its
    // VP runs on this CPU, so at 6a784cc it was still waiting to take the
    // reply up, and VpGetRegisters answered VpRunning).
    let rip = rip_once_stopped("answered", CODE, 0, |_| {
        port_exit()?;
        reply(ExitReply::new().advance_rip().stop().words())
    });
    tap.expect_value(
        "a VP answered ADVANCE_RIP and STOP is stopped when the Reply returns, past its OUT (rip 0xfff2)",
        rip,
        0xFFF2,
    );

    // Issue 12 too: VpStop of a VP spinning in its guest on the other CPU
    // returns once the VP has stopped (at 6a784cc it returned at once, and
    // VpGetRegisters answered VpRunning).
    let rip = rip_once_stopped("spinning", SPIN_CODE, VP_CPU, |writer| {
        // Its port exit shows its CPU runs it; answered, it spins in its
        // guest (given a moment to get back there).
        port_exit()?;
        reply(ExitReply::new().advance_rip().words())?;
        for _ in 0..100_000 {
            tessera_rt::null_syscall()?;
        }
        vm::vp_stop(writer.vp)
    });
    tap.expect_value(
        "VpStop of a VP spinning in its guest on the other CPU returns once it has stopped (rip 0xfff2)",
        rip,
        0xFFF2,
    );

    // doomed-manager makes partitions whose VPs wait on it, holds a
    // region, answers, and faults.
    let held = MANAGER.call(Message::new([0; 6]));
    let partitions = held.map_or(0, |m| m.words[0] as u32);
    tap.check(
        "doomed-manager made partitions with VPs blocked on it, and holds a region",
        held.is_ok_and(|m| m.words[0] > 0 && m.words[1] == REGION_MIB),
        format_args!("{held:?}"),
    );
    tap.expect(
        "a call to doomed-manager fails with ServerDied once it has faulted",
        MANAGER.call(Message::new([0; 6])),
        Status::ServerDied,
    );
    tap.expect_ok(
        "as many partitions as the dead manager held are made again: their ASIDs came back",
        (0..partitions).try_for_each(|i| vm::partition_create(AFTER + i, "after")),
    );
    tap.expect_ok(
        "a region as large as the dead manager's is made: its frames came back",
        memory::create(REGION, REGION_MIB << 8),
    );
    let _ = cap::delete(REGION);
    for i in 0..partitions {
        let _ = cap::delete(AFTER + i);
    }
    tap.finish()
}

/// A partition named `name` running `code` with its VP on `cpu`, stopped
/// by `stop`: its RIP read right after (the VP must be stopped for that),
/// and then it is destroyed.
fn rip_once_stopped(
    name: &str,
    code: u32,
    cpu: u32,
    stop: impl FnOnce(&PortWriter) -> Result<(), Error>,
) -> Result<u64, Error> {
    let writer = WRITER.build(name, code, EXITS, cpu, PRIORITY)?;
    stop(&writer)?;
    let mut rip = [vm::Register::named(HvRegisterName::X64_RIP)];
    let read = vm::vp_get_registers(writer.vp, &mut rip).map_err(|e| e.error);
    writer.delete()?;
    read.map(|()| rip[0].low)
}

/// Waits for the VP's port exit (the one call its partition makes).
fn port_exit() -> Result<(), Error> {
    let exit = invoke(Syscall::Wait, EXITS, [0; 6], CapTransfer::NONE)?;
    let kind = exit.words[0] as u32;
    if kind == HvMessageType::X64_IO_PORT_INTERCEPT.0 {
        Ok(())
    } else {
        log::error!(
            "teardown-probe: expected a port exit, got message {kind:#x} (handler died: {})",
            u64::from(kind) == TESSERA_HANDLER_DIED
        );
        Err(Status::InvalidArgument.into())
    }
}

fn reply(words: [u64; 6]) -> Result<(), Error> {
    invoke(Syscall::Reply, EXITS, words, CapTransfer::NONE).map(drop)
}
