//! `hyperv-testdev`: QEMU's SynIC test device on I/O port `0x3000` and an
//! echo service on the component-owned SynIC ports a manifest gives it
//! (issue 14 items 4 and 8; the logic is the crate's library).
//!
//! ```toml
//! [component.testdev]
//! image = "hyperv-testdev"
//! provides = ["io"]     # the receive capability, in slot 4
//! # a partition: { exit = "io", ports = "0x3000", to = "testdev.io" }
//! ```
//!
//! The partition's capability (WRITE) comes with the manager's attach
//! through the route; the device makes its ports with it, and derives from
//! its own endpoint a capability badged for the partition for them to ring.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use hyperv_testdev::{Device, PortKernel};
    use tessera_rt::vm::ports::{self, OwnedKind, Taken};
    use tessera_rt::vm_exit::{self, ReplyMessage};
    use tessera_rt::{Endpoint, Server, cap, rights};
    use tlfs::port::{HvInputConnectPort, HvInputCreatePort};
    use tlfs::{HvMessageType, HvStatus};

    tessera_rt::entry!(main);

    /// The receive capability of the `io` endpoint (first of `provides`).
    const IO: Endpoint = Endpoint(4);
    /// Doorbells are made here, then moved to the slot the device picks.
    const FIRST_DOORBELL: u32 = 40;

    struct Kernel {
        next_doorbell: u32,
    }

    fn code(e: tessera_rt::Error) -> u64 {
        e.code()
    }

    impl PortKernel for Kernel {
        fn create_port(&mut self, slot: u32, input: &HvInputCreatePort) -> Result<HvStatus, u64> {
            ports::create_port(slot, input).map_err(code)
        }
        fn create_owned_port(
            &mut self,
            slot: u32,
            id: u32,
            kind: OwnedKind,
            doorbell: u32,
        ) -> Result<HvStatus, u64> {
            ports::create_owned_port(slot, id, kind, doorbell).map_err(code)
        }
        fn delete_port(&mut self, slot: u32, id: u32) -> Result<HvStatus, u64> {
            ports::delete_port(slot, id).map_err(code)
        }
        fn connect(&mut self, slot: u32, input: &HvInputConnectPort) -> Result<HvStatus, u64> {
            ports::connect_port(slot, slot, input).map_err(code)
        }
        fn disconnect(&mut self, slot: u32, id: u32) -> Result<HvStatus, u64> {
            ports::disconnect_port(slot, id).map_err(code)
        }
        fn receive(&mut self, slot: u32, id: u32) -> Result<Result<Taken, HvStatus>, u64> {
            ports::receive(slot, id).map_err(code)
        }
        fn post(
            &mut self,
            slot: u32,
            port: u32,
            message_type: HvMessageType,
            payload: &[u8],
        ) -> Result<HvStatus, u64> {
            ports::post_message(slot, port, message_type, payload).map_err(code)
        }
        fn signal(&mut self, slot: u32, port: u32, flag: u16) -> Result<HvStatus, u64> {
            ports::signal_event(slot, port, flag).map_err(code)
        }
        fn sint_route(
            &mut self,
            slot: u32,
            vp: u32,
            sint: u32,
            action: u64,
        ) -> Result<HvStatus, u64> {
            ports::sint_route(slot, vp, sint, action).map_err(code)
        }
        fn doorbell(&mut self, badge: u64) -> Result<u32, u64> {
            let slot = self.next_doorbell;
            if slot >= tessera_rt::abi::CSPACE_SLOTS {
                return Err(tessera_rt::abi::Status::OutOfMemory.code());
            }
            cap::derive(IO.0, slot, rights::CALL, badge).map_err(code)?;
            self.next_doorbell += 1;
            Ok(slot)
        }
    }

    fn main() {
        log::info!("hyperv-testdev on I/O port 0x3000, and echo ports");
        let mut device = Device::new();
        let mut kernel = Kernel {
            next_doorbell: FIRST_DOORBELL,
        };
        let first = device.free_slot();
        Server::new(IO).serve_receiving(first, |badge, call, received| {
            let message = vm_exit::receive(&call);
            let (handled, unused) = device.exit(badge, &message, received, &mut kernel);
            if let Some(slot) = unused {
                let _ = cap::delete(slot);
            }
            for (level, line) in &handled.log {
                log::log!(*level, "{line}");
            }
            (handled.reply.into_reply(), device.free_slot())
        })
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "hyperv-testdev is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
