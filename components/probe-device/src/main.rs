//! `probe-device`: answers the exits of the probe protocol
//! (`tessera_abi::vm::guest_ports::probe`; logic in the crate's library,
//! `probe_device`) for every partition whose routes name its endpoint, one
//! state per badge. For test deployments.
//!
//! ```toml
//! [component.probe-device]
//! image = "probe-device"
//! console = true          # slot 2
//! provides = ["exits"]    # the receive capability, in slot 4
//! ```
//!
//! A partition's routes (the probe ports `0x510..=0x51F`, the CPUID leaves
//! `0x4C00_0000..=0x4C00_00FF`, the MSRs `0x4C00_0000..=0x4C00_000F`, HLT,
//! the MMIO page at GPA `0xFED0_0000`, hypercall codes of a partition with
//! the Hv#1 interface) call `exits` through a capability whose badge is the
//! partition's number, from 1.
//!
//! On the host this binary is an empty stub (the library is what the host
//! tests); the component is built for `x86_64-unknown-none`.
#![cfg_attr(target_os = "none", no_std)]
#![cfg_attr(target_os = "none", no_main)]
#![forbid(unsafe_code)]

#[cfg(target_os = "none")]
mod component {
    use probe_device::Probe;
    use tessera_rt::Endpoint;
    use tessera_rt::vm_exit::serve_exits;

    tessera_rt::entry!(main);

    /// The receive capability of the `exits` endpoint (first of `provides`).
    const EXITS_ENDPOINT: Endpoint = Endpoint(4);

    fn main() {
        log::info!("serving the probe protocol");
        let mut probe = Probe::new();
        serve_exits(EXITS_ENDPOINT, |badge, message| {
            probe.handle(badge, message)
        })
    }
}

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "probe-device is a Tessera component: build it for x86_64-unknown-none (cargo xtask build)"
    );
    std::process::exit(2);
}
