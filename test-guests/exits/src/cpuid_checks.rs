//! CPUID: the kernel's filtered host leaves and the probe's leaves.

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, fail, port};

use crate::partition_number;

/// CPUID leaf 1 ECX bits.
const MONITOR: u32 = 1 << 3;
const X2APIC: u32 = 1 << 21;
const XSAVE: u32 = 1 << 26;
const OSXSAVE: u32 = 1 << 27;
const AVX: u32 = 1 << 28;
const HYPERVISOR: u32 = 1 << 31;
/// CPUID leaf 0x8000_0001 ECX bit.
const SVM: u32 = 1 << 2;

pub fn run(suite: &mut Suite) {
    suite.check(
        "CPUID 0 gives a maximum leaf >= 1 and a 12-character vendor",
        || {
            let leaf0 = cpu::cpuid(0, 0);
            ensure!(leaf0.eax >= 1, "maximum basic leaf {:#x}", leaf0.eax);
            let vendor = leaf0.vendor();
            ensure!(
                vendor.iter().all(|b| (0x20..0x7F).contains(b)),
                "vendor bytes {vendor:02x?} are not printable"
            );
            Ok(())
        },
    );
    let leaf1 = cpu::cpuid(1, 0);
    suite.check("CPUID 1 sets the hypervisor bit (ECX 31)", || {
        ensure!(leaf1.ecx & HYPERVISOR != 0, "ECX {:#x}", leaf1.ecx);
        Ok(())
    });
    suite.check("CPUID 0x80000001 hides SVM (ECX 2)", || {
        let max_extended = cpu::cpuid(0x8000_0000, 0).eax;
        ensure!(
            max_extended >= 0x8000_0001,
            "maximum extended leaf {max_extended:#x}"
        );
        let ecx = cpu::cpuid(0x8000_0001, 0).ecx;
        ensure!(ecx & SVM == 0, "ECX {ecx:#x}");
        Ok(())
    });
    suite.check("CPUID 1 hides XSAVE and OSXSAVE (ECX 26, 27)", || {
        ensure!(leaf1.ecx & (XSAVE | OSXSAVE) == 0, "ECX {:#x}", leaf1.ecx);
        Ok(())
    });
    suite.check(
        "CPUID 1 hides AVX, x2APIC and MONITOR (ECX 28, 21, 3)",
        || {
            ensure!(
                leaf1.ecx & (AVX | X2APIC | MONITOR) == 0,
                "ECX {:#x}",
                leaf1.ecx
            );
            Ok(())
        },
    );
    suite.check(
        "CPUID 1 gives the VP index 0 as APIC ID (EBX 31:24)",
        || {
            ensure_eq!(leaf1.ebx >> 24, 0, "APIC ID");
            Ok(())
        },
    );

    let number = partition_number();
    suite.check(
        "the probe's ID port reads a partition number (1..=255)",
        || match number {
            Some(_) => Ok(()),
            None => fail!(
                "read {:#x}, not a partition number: is the probe routed?",
                port::inl(probe::ID_PORT)
            ),
        },
    );
    let number = number.unwrap_or(0);
    suite.check("CPUID 0x4C000000 is answered by the probe", || {
        expect_probe_leaf(*probe::CPUID_LEAVES.start(), 0, number)
    });
    suite.check(
        "CPUID 0x4C0000FF subleaf 0x12345678 is answered by the probe",
        || expect_probe_leaf(*probe::CPUID_LEAVES.end(), 0x1234_5678, number),
    );
    suite.check(
        "CPUID 0x4C000100, past the probe's leaves, is not the probe's",
        || {
            let answer = cpu::cpuid(probe::CPUID_LEAVES.end() + 1, 0);
            ensure!(
                answer.edx != probe::CPUID_SIGNATURE,
                "answered with the probe's signature: {answer}"
            );
            Ok(())
        },
    );
}

fn expect_probe_leaf(leaf: u32, subleaf: u32, partition: u32) -> tessera_guest_framework::Outcome {
    let answer = cpu::cpuid(leaf, subleaf);
    let expected = cpu::Cpuid {
        eax: leaf ^ probe::CPUID_XOR,
        ebx: subleaf,
        ecx: partition,
        edx: probe::CPUID_SIGNATURE,
    };
    ensure!(answer == expected, "got {answer}, expected {expected}");
    Ok(())
}
