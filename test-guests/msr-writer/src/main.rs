//! `msr-writer`: writes its own values into the MSRs the kernel passes
//! through to guest-private copies (or validates), and checks that each
//! reads back as written. The values stay when the partition ends, so the
//! host side can then check that none of them leaked into its own MSRs.
//! Every value differs from what a host kernel would hold there.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_guest_framework::cpu::{efer, msr, rdmsr, wrmsr};
use tessera_guest_framework::{Outcome, Suite, ensure_eq, fail, failure};

tessera_guest_framework::entry!(main);

/// The MSRs and the guest's values for them. Addresses are canonical,
/// SFMASK and the SYSENTER values fit the 32 bits every CPU keeps, and the
/// PAT uses only valid memory types with entry 0 left write-back (the
/// guest's page tables use entry 0).
const GUEST_VALUES: [(&str, u32, u64); 11] = [
    ("STAR", msr::STAR, 0x0023_0010_7E55_0000),
    ("LSTAR", msr::LSTAR, 0xFFFF_8000_7E55_1000),
    ("CSTAR", msr::CSTAR, 0xFFFF_8000_7E55_2000),
    ("SFMASK", msr::SFMASK, 0x0004_7700),
    ("KERNEL_GS_BASE", msr::KERNEL_GS_BASE, 0xFFFF_8000_7E55_3000),
    ("FS_BASE", msr::FS_BASE, 0x0000_7E55_0000_4000),
    ("GS_BASE", msr::GS_BASE, 0x0000_7E55_0000_5000),
    ("SYSENTER_CS", msr::SYSENTER_CS, 0x7E58),
    ("SYSENTER_ESP", msr::SYSENTER_ESP, 0x7E55_6000),
    ("SYSENTER_EIP", msr::SYSENTER_EIP, 0x7E55_7000),
    ("PAT", msr::PAT, 0x0007_0106_0005_0406),
];

fn main(suite: &mut Suite) {
    for (name, number, value) in GUEST_VALUES {
        suite.check(
            format_args!("{name} ({number:#x}) keeps {value:#x}"),
            || write_and_read_back(number, value),
        );
    }
    suite.check("EFER.NXE can be toggled and toggled back", toggle_nxe);
}

fn write_and_read_back(number: u32, value: u64) -> Outcome {
    if let Err(caught) = wrmsr(number, value) {
        return fail!("WRMSR raised {caught}");
    }
    match rdmsr(number) {
        Ok(read) => {
            ensure_eq!(read, value, "read back");
            Ok(())
        }
        Err(caught) => fail!("RDMSR raised {caught}"),
    }
}

fn toggle_nxe() -> Outcome {
    let read = || rdmsr(msr::EFER).map_err(|caught| failure!("RDMSR EFER raised {caught}"));
    let write = |value| {
        wrmsr(msr::EFER, value)
            .map_err(|caught| failure!("WRMSR EFER <- {value:#x} raised {caught}"))
    };
    let original = read()?;
    write(original ^ efer::NXE)?;
    ensure_eq!(read()?, original ^ efer::NXE, "EFER after toggling NXE");
    write(original)?;
    ensure_eq!(read()?, original, "EFER after toggling NXE back");
    Ok(())
}
