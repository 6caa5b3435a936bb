//! `platform`: serves the PC platform (`platform`'s library: the I/O
//! APIC, the 8259 pair with ELCR, the RTC, `fw_cfg`) to every partition whose
//! routes name its endpoint, and the interrupt lines devices drive, all on
//! one endpoint: a call's badge says which partition (a route) or which
//! partition's pin (a line) it is.
//!
//! ```toml
//! [component.platform]
//! image = "platform"
//! console = true
//! provides = ["exits"]    # the receive capability, in slot 4
//! ```
//!
//! The partition's interrupt capability (WRITE on the partition) comes
//! with the partition manager's attach through the `eoi` route; the
//! component keeps it in one of `boards::INTERRUPT_SLOTS` and hands each
//! I/O APIC message to the kernel through it (`PartitionAssertInterrupt`).
//!
//! On the host this binary is an empty stub (the library is what the host
//! tests); the component is built for `x86_64-unknown-none`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use platform::Platform;
    use platform::board::{InterruptBus, Log};
    use tessera_rt::vm_exit::{self, ReplyMessage};
    use tessera_rt::{Endpoint, Message, Reply, Server, cap, vm};

    tessera_rt::entry!(main);

    /// The receive capability of the `exits` endpoint (first of `provides`).
    const EXITS: Endpoint = Endpoint(4);

    /// The kernel's `PartitionAssertInterrupt`.
    struct Kernel;

    impl InterruptBus for Kernel {
        fn assert(
            &mut self,
            slot: u32,
            vector: u8,
            destination: u8,
            flags: u64,
        ) -> Result<u64, u64> {
            vm::partition_assert_interrupt(slot, vector, destination, flags).map_err(|e| e.code())
        }
    }

    fn print(log: &Log) {
        for (level, line) in log {
            log::log!(*level, "{line}");
        }
    }

    fn main() {
        log::info!(
            "serving the I/O APIC (0xfec00000), the 8259 pair and ELCR, the RTC (0x70), fw_cfg (0x510) and interrupt lines"
        );
        let mut platform = Platform::with_clock(|| tessera_rt::time::wall_clock_ns().ok());
        let first = platform.free_slot();
        Server::new(EXITS).serve_receiving(first, |badge, call, received| {
            let reply = if tessera_rt::abi::vm::interrupt::line_of(badge).is_some() {
                let mut log = Log::new();
                let answer = platform.line(badge, &call.words, &mut Kernel, &mut log);
                print(&log);
                if let Some(slot) = received {
                    let _ = cap::delete(slot);
                }
                Reply::new(Message::new([answer.word(), 0, 0, 0, 0, 0]))
            } else {
                let message = vm_exit::receive_with_posted(&call, |write| {
                    let (handled, _) = platform.exit(badge, write, 0, None, &mut Kernel);
                    print(&handled.log);
                });
                let (handled, unused) = if matches!(message.exit, Ok(vm_exit::Exit::PostedWrites)) {
                    (vm_exit::ExitReply::new().into(), received)
                } else {
                    platform.exit(badge, &message, call.words[5], received, &mut Kernel)
                };
                if let Some(slot) = unused {
                    let _ = cap::delete(slot);
                }
                print(&handled.log);
                handled.reply.into_reply()
            };
            (reply, platform.free_slot())
        })
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "platform is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
