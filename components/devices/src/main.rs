//! `devices`: serves the guest devices (see the crate's library,
//! `devices`) to the port-I/O exits of every partition whose routes name
//! its endpoint, one device state per badge.
//!
//! ```toml
//! [component.devices]
//! image = "devices"
//! console = true          # slot 2: guest output is logged here
//! console-input = true    # optional: what is typed goes to its partition's COM1
//! provides = ["io"]       # the receive capability, in slot 4
//! ```
//!
//! Each partition's port-I/O route (COM1, `0x3F8..=0x3FF`) calls `io`
//! through a capability with the partition's own badge. COM1's IRQ 4 of
//! the partition with badge `B` is driven through the line capability in
//! slot `tessera_abi::vm::interrupt::line_slot(B)`, which the manifest's
//! `lines` put there; without one, the UART's interrupts go nowhere.
//!
//! On the host this binary is an empty stub (the library is what the host
//! tests); the component is built for `x86_64-unknown-none`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use devices::{Devices, InterruptLines, TypedInput};
    use tessera_rt::abi::vm::interrupt as wire;
    use tessera_rt::vm_exit::serve_exits;
    use tessera_rt::{Console, Endpoint, Message};

    tessera_rt::entry!(main);

    /// The receive capability of the `io` endpoint (first of `provides`).
    const IO_ENDPOINT: Endpoint = Endpoint(4);

    /// The kernel's console input, through the console capability's READ
    /// right.
    struct KernelInput;

    impl TypedInput for KernelInput {
        fn read(&mut self, buffer: &mut [u8]) -> usize {
            // A failed read is no input (the right was taken away).
            Console::OWN.read(buffer).unwrap_or(0)
        }
    }

    /// The partitions' line capabilities to `platform`.
    struct Lines;

    impl InterruptLines for Lines {
        fn drive(&mut self, badge: u64, pin: u8, level: bool) {
            let Some(slot) = wire::line_slot(badge) else {
                return;
            };
            let message = Message::new([wire::LINE_MESSAGE, u64::from(level), 0, 0, 0, 0]);
            match Endpoint(slot).call(message) {
                Ok(reply) if reply.words[0] == 0 => {}
                Ok(reply) => log::warn!(
                    "partition {badge}: IRQ {pin} refused ({:#x})",
                    reply.words[0]
                ),
                // No line: the partition has no interrupt controller.
                Err(e) => log::debug!("partition {badge}: IRQ {pin}: {e}"),
            }
        }
    }

    fn main() {
        // Reading nothing tells whether the console capability has READ.
        let input = Console::OWN.read(&mut []).is_ok();
        log::info!(
            "serving COM1 (16550A at 0x3f8) to partitions{}",
            if input {
                "; the console's input goes to the first"
            } else {
                ""
            }
        );
        let mut devices = if input {
            Devices::with_console_input()
        } else {
            Devices::new()
        };
        serve_exits(IO_ENDPOINT, |badge, message| {
            devices.handle_with_lines(badge, message, &mut KernelInput, &mut Lines)
        })
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "devices is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
