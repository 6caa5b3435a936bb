//! `devices`: serves the guest devices (see the crate's library,
//! `devices`) to the port-I/O exits of every partition whose routes name
//! its endpoint, one device state per badge.
//!
//! ```toml
//! [component.devices]
//! image = "devices"
//! console = true          # slot 2: guest output is logged here
//! provides = ["io"]       # the receive capability, in slot 4
//! ```
//!
//! Each partition's port-I/O route (COM1, `0x3F8..=0x3FF`) calls `io`
//! through a capability with the partition's own badge.
//!
//! On the host this binary is an empty stub (the library is what the host
//! tests); the component is built for `x86_64-unknown-none`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use devices::Devices;
    use tessera_rt::Endpoint;
    use tessera_rt::vm_exit::serve_exits;

    tessera_rt::entry!(main);

    /// The receive capability of the `io` endpoint (first of `provides`).
    const IO_ENDPOINT: Endpoint = Endpoint(4);

    fn main() {
        log::info!("serving COM1 (16550A at 0x3f8) to partitions");
        let mut devices = Devices::new();
        serve_exits(IO_ENDPOINT, |badge, message| devices.handle(badge, message))
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "devices is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
