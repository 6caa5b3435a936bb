//! `vm-probe`: tries the partition and VP system calls as a careless or
//! hostile partition manager would, and the kernel's exit handling as a
//! hostile guest and handler would (`boot/deployments/vm-errors.toml`).
//!
//! - `misuse`: each misuse of `PartitionCreate` .. `VpAssertInterrupt`
//!   (`tessera_abi::vm`) fails with the right status, and the calls misused
//!   around do what they promise. Issue 4: "A partition manager request to
//!   map memory it does not hold, or to overlap an existing mapping, is
//!   refused with an error." No VP runs there.
//! - `device_interrupts`: `PartitionAssertInterrupt` needs WRITE on the
//!   partition and checks every word; the WRITE-only capability an
//!   interrupt controller holds does nothing else.
//! - `synic_ports`: the SynIC port system calls (48-53) with every
//!   refusal, and a component's posts and signals to a partition's ports.
//! - `lab`: small real-mode guests vm-probe builds and serves itself, for
//!   the scenarios of issue 9: `overlays` (finding 1) and `replies`
//!   (finding 3).
//!
//! It makes its own partitions, regions, endpoints and VPs at run time.
//! Each check logs a TAP-like line, `ok N - WHAT` or
//! `not ok N - WHAT: got STATUS`; the verdict is pass if every check is ok.
//!
//! ```toml
//! [component.vm-probe]
//! image = "vm-probe"
//! memory = "1 MiB"        # its partitions, VPs and regions
//! priority = 5            # PRIORITY below
//! console = true          # slot 2 (also the non-memory, non-endpoint capability)
//! verdict = true          # slot 3
//! ```
//!
//! A component of its own rather than more checks in `cap-probe`: those
//! checks' quota arithmetic (three 200 KiB domains must not fit its
//! 512 KiB) needs cap-probe's quota to stay as it is, and partition objects
//! need more.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

mod device_interrupts;
mod instructions;
mod lab;
mod misuse;
mod overlays;
mod posted_routes;
mod replies;
mod states;
mod synic_ports;

tessera_rt::entry!(main);

/// vm-probe's priority (the manifest's): VPs may not be above it.
const PRIORITY: u8 = 5;

fn main() {
    let mut tap = tessera_rt::testing::Tap::new("vm-probe");
    misuse::run(&mut tap);
    match lab::Lab::new() {
        Ok(mut lab) => {
            overlays::run(&mut lab, &mut tap);
            replies::run(&mut lab, &mut tap);
            states::run(&mut lab, &mut tap);
            instructions::run(&mut lab, &mut tap);
            instructions::run_cr4(&mut lab, &mut tap);
        }
        Err(e) => {
            tap.check(
                "the endpoint for running guests is made",
                false,
                format_args!("{e:?}"),
            );
        }
    }
    device_interrupts::run(&mut tap);
    synic_ports::run(&mut tap);
    posted_routes::run(&mut tap);
    tap.finish()
}
