//! `synic`: serves the SynIC registers (SCONTROL, SVERSION, SIEFP, SIMP,
//! EOM, SINT0-15: MSRs `0x40000080`-`0x4000009F`) of every partition whose
//! MSR route names its endpoint (issue 14 item 2; the design is
//! `kernel/synic/README.md`). Logic in the crate's library.
//!
//! ```toml
//! [component.synic]
//! image = "synic"
//! console = true
//! provides = ["exits"]    # the receive capability, in slot 4
//! ```
//!
//! The partition's SynIC capability (WRITE on the partition) comes with the
//! partition manager's attach through the MSR route; the component keeps it
//! in one of `synic::PARTITION_SLOTS` and stores each checked write through
//! it (`PartitionSynicWrite`), and reads the kernel's registers through it
//! to build its copy (`PartitionSynicRead`), so a restarted instance needs
//! nothing else.
//!
//! On the host this binary is an empty stub (the library is what the host
//! tests); the component is built for `x86_64-unknown-none`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use synic::{SynicKernel, SynicServer};
    use tessera_rt::vm_exit::{self, ReplyMessage};
    use tessera_rt::{Endpoint, Server, cap, vm};

    tessera_rt::entry!(main);

    /// The receive capability of the `exits` endpoint (first of `provides`).
    const EXITS: Endpoint = Endpoint(4);

    /// The kernel's SynIC calls.
    struct Kernel;

    impl SynicKernel for Kernel {
        fn read(&mut self, slot: u32, vp: u32) -> Result<[u64; synic::STATE_WORDS], u64> {
            vm::partition_synic_read(slot, vp).map_err(|e| e.code())
        }

        fn write(&mut self, slot: u32, vp: u32, msr: u32, value: u64) -> Result<(), u64> {
            vm::partition_synic_write(slot, vp, msr, value).map_err(|e| e.code())
        }
    }

    fn main() {
        log::info!("serving the SynIC registers (MSRs 0x40000080-0x4000009f)");
        let mut synic = SynicServer::new();
        let first = synic.free_slot();
        Server::new(EXITS).serve_receiving(first, |badge, call, received| {
            let message = vm_exit::receive(&call);
            let (handled, unused) = synic.exit(badge, &message, received, &mut Kernel);
            if let Some(slot) = unused {
                let _ = cap::delete(slot);
            }
            for (level, line) in &handled.log {
                log::log!(*level, "{line}");
            }
            (handled.reply.into_reply(), synic.free_slot())
        })
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!("synic is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)");
    std::process::exit(2);
}
