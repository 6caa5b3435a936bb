//! `memory-probe`: reads a guest-physical address outside its RAM. Nothing
//! is mapped there, so the host must stop the partition at that read (an
//! unmapped-GPA exit on the lifecycle route) and report it. If the read
//! returns, the hypervisor let the guest see memory it was never given:
//! the guest reports `not ok` and fails.
//!
//! The loader's identity map covers only RAM, so the guest first maps the
//! address itself (`paging::DeviceWindow`: a 2 MiB page in its own page
//! tables). A page fault therefore means a bug here, not in the host.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Suite, fail, layout};

tessera_guest_framework::entry!(main);

/// The GPA read: 3 GiB, far above any test partition's RAM and below the
/// 4 GiB that some hypervisors keep for devices. The partition must have
/// less than 3 GiB of RAM and nothing else mapped at this address.
pub const PROBED_GPA: u64 = 0xC000_0000;

fn main(suite: &mut Suite) {
    let mut window = None;
    suite.check("map GPA 0xc0000000 in the guest's own page tables", || {
        window = Some(DeviceWindow::map(PROBED_GPA, 8)?);
        Ok(())
    });
    let Some(window) = window else {
        return;
    };
    suite.note(format_args!(
        "memory-probe: reading GPA {PROBED_GPA:#x}, outside RAM (top {:#x}); the host should stop this partition now",
        layout::ram_top().unwrap_or(0)
    ));
    let value = window.read64(0);
    suite.check("the host stops a read outside the partition's RAM", || {
        fail!("the read of GPA {PROBED_GPA:#x} returned {value:#x}")
    });
}
