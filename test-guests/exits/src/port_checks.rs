//! Port I/O: the probe's scratch register (routed) and a port nobody
//! handles (answered by the kernel).

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::port::{self, Width, read_into_rax};
use tessera_guest_framework::{Outcome, Suite, ensure, ensure_eq};

/// A port no deployment routes and no PC device uses.
const UNHANDLED_PORT: u16 = 0x6E0;
/// What RAX holds before an `in`, to see which of its bits the `in` keeps.
const RAX_BEFORE: u64 = 0x1122_3344_5566_7788;

pub fn run(suite: &mut Suite) {
    suite.check(
        "probe scratch port 0x510 round-trips 8-, 16- and 32-bit values",
        || {
            for (width, value) in [
                (Width::Byte, 0x5A),
                (Width::Word, 0xC3A5),
                (Width::Dword, 0xA1B2_C3D4),
            ] {
                port::write(width, probe::SCRATCH_PORT, value);
                let read = port::read(width, probe::SCRATCH_PORT);
                ensure!(
                    read == value,
                    "{}-bit: wrote {value:#x}, read {read:#x}",
                    width.bits()
                );
            }
            Ok(())
        },
    );
    suite.check(
        "IN from the probe merges into RAX as the architecture says",
        || {
            const VALUE: u32 = 0xA1B2_C3D4;
            port::outl(probe::SCRATCH_PORT, VALUE);
            expect_merged_into_rax(probe::SCRATCH_PORT, VALUE)
        },
    );
    suite.check(
        "IN from unhandled port 0x6E0 reads all ones at each size",
        || {
            for width in Width::ALL {
                let read = port::read(width, UNHANDLED_PORT);
                ensure_eq!(
                    read,
                    width.all_ones(),
                    format_args!("IN of {} bits", width.bits())
                );
            }
            expect_merged_into_rax(UNHANDLED_PORT, u32::MAX)
        },
    );
    suite.check("OUT to unhandled port 0x6E0 is dropped", || {
        for width in Width::ALL {
            port::write(width, UNHANDLED_PORT, 0);
        }
        ensure_eq!(port::inl(UNHANDLED_PORT), u32::MAX, "IN afterwards");
        Ok(())
    });
}

/// `in` of each size with [`RAX_BEFORE`] in RAX, from a port reading
/// `value`: 8 and 16 bits replace only AL/AX, 32 bits zero-extend.
fn expect_merged_into_rax(port: u16, value: u32) -> Outcome {
    let value = u64::from(value);
    for (width, expected) in [
        (Width::Byte, RAX_BEFORE & !0xFF | value & 0xFF),
        (Width::Word, RAX_BEFORE & !0xFFFF | value & 0xFFFF),
        (Width::Dword, value),
    ] {
        ensure_eq!(
            read_into_rax(width, port, RAX_BEFORE),
            expected,
            format_args!("RAX after IN of {} bits", width.bits())
        );
    }
    Ok(())
}
