//! Memory-mapped I/O: the probe's MMIO page (routed with a memory route),
//! read and written with single `mov` instructions that the kernel decodes
//! and the probe answers.

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::paging::DeviceWindow;
use tessera_guest_framework::{Outcome, Suite, ensure_eq, fail, port};

use crate::partition_number;

/// What RAX holds before a load, to see which of its bits the load keeps.
const RAX_BEFORE: u64 = 0x1122_3344_5566_7788;

pub fn run(suite: &mut Suite) {
    let mut window = None;
    suite.check(
        "map the probe's MMIO page 0xFED00000 (uncached) in the guest's own page tables",
        || {
            window = Some(DeviceWindow::map(probe::MMIO_BASE, probe::MMIO_SIZE)?);
            Ok(())
        },
    );
    let mapped = |check: &dyn Fn(&DeviceWindow) -> Outcome| match &window {
        Some(window) => check(window),
        None => fail!("not run: the MMIO page is not mapped"),
    };
    suite.check(
        "a 32-bit MMIO write to the probe's scratch register reads back, zero-extended into RAX",
        || {
            mapped(&|window| {
                const VALUE: u32 = 0xA1B2_C3D4;
                window.write32(probe::MMIO_SCRATCH_OFFSET, VALUE);
                ensure_eq!(
                    window.read32(probe::MMIO_SCRATCH_OFFSET),
                    VALUE,
                    "32-bit read"
                );
                ensure_eq!(
                    window.read32_into_rax(probe::MMIO_SCRATCH_OFFSET, RAX_BEFORE),
                    u64::from(VALUE),
                    "RAX after mov eax, dword ptr [scratch]"
                );
                Ok(())
            })
        },
    );
    suite.check(
        "an 8-bit MMIO read merges into AL and keeps RAX bits 63:8",
        || {
            mapped(&|window| {
                const VALUE: u64 = 0x0F1E_2D3C_4B5A_6978;
                window.write64(probe::MMIO_SCRATCH_OFFSET, VALUE);
                ensure_eq!(
                    window.read8_into_rax(probe::MMIO_SCRATCH_OFFSET, RAX_BEFORE),
                    RAX_BEFORE & !0xFF | VALUE & 0xFF,
                    "RAX after mov al, byte ptr [scratch]"
                );
                Ok(())
            })
        },
    );
    let number = partition_number();
    suite.check(
        "a 64-bit MMIO read of the probe's ID register is the partition number of port 0x514",
        || {
            mapped(&|window| {
                let Some(number) = number else {
                    return fail!(
                        "the ID port reads {:#x}, not a partition number",
                        port::inl(probe::ID_PORT)
                    );
                };
                ensure_eq!(
                    window.read64(probe::MMIO_ID_OFFSET),
                    u64::from(number),
                    "64-bit read of the ID register"
                );
                Ok(())
            })
        },
    );
}
