//! Discovery through CPUID: Requirements § Hypervisor and Microsoft
//! Hypervisor Interface Discovery and § Hypervisor CPUID Leaves; TLFS md
//! `feature-discovery.md`.

use tessera_guest_framework::{Suite, ensure, ensure_eq, fail};
use tlfs::cpuid::{
    CPUID_1_ECX_HYPERVISOR_PRESENT, HV_CPUID_INTERFACE_SIGNATURE_HV1, HV_CPUID_MIN_MAX_LEAF,
    HV_CPUID_VENDOR_MICROSOFT_EBX, HV_CPUID_VENDOR_MICROSOFT_ECX, HV_CPUID_VENDOR_MICROSOFT_EDX,
    HvSystemIdentityEbx, HvSystemIdentityEdx,
};
use tlfs::privilege::HvPartitionPrivilegeMask;

use crate::config::Config;

/// Requirements § Required Hypervisor CPUID Leaves, "CPUID.40000003:EBX
/// Feature Identification — Partition Flags": the rows "Must be clear"
/// (EBX bit numbers; the privilege mask bit is 32 more).
const FORBIDDEN_PARTITION_FLAGS: [(u32, &str); 8] = [
    (0, "CreatePartitions"),
    (1, "AccessPartitionId"),
    (2, "AccessMemoryPool"),
    (3, "AdjustMessageBuffers"),
    (6, "CreatePort"),
    (8, "AccessStats"),
    (12, "CpuManagement"),
    (13, "ConfigureProfiler"),
];

/// Leaf 0x40000005 EAX "-1": no VP limit (Requirements § Maximum Supported
/// Virtual Processors).
const UNLIMITED_VPS: u32 = u32::MAX;

pub fn run(suite: &mut Suite, config: &Config) {
    suite.check("CPUID 1 ECX bit 31 (hypervisor present) is set", || {
        // Requirements § Detecting the Presence of a Hypervisor; TLFS md
        // `feature-discovery.md` § Hypervisor Discovery.
        ensure!(
            config.leaf1_ecx & CPUID_1_ECX_HYPERVISOR_PRESENT != 0,
            "ECX {:#x}",
            config.leaf1_ecx
        );
        Ok(())
    });
    let range = config.leaf(0);
    suite.check(
        "CPUID 0x40000000 EAX: maximum hypervisor leaf in 0x40000005..=0x400000FF",
        || {
            // TLFS md § Hypervisor CPUID Leaf Range: "at least 0x40000005";
            // Requirements: leaves 0x40000000-0x40000005 are required and
            // 0x40000000-0x400000FF is the hypervisor range.
            ensure!(
                (HV_CPUID_MIN_MAX_LEAF..=0x4000_00FF).contains(&range.eax),
                "EAX {:#x}",
                range.eax
            );
            Ok(())
        },
    );
    suite.check(
        "CPUID 0x40000000 EBX ECX EDX: vendor signature Microsoft Hv",
        || {
            // TLFS md § Hypervisor CPUID Leaf Range - 0x40000000 table.
            let vendor = range.vendor();
            ensure!(
                (range.ebx, range.ecx, range.edx)
                    == (
                        HV_CPUID_VENDOR_MICROSOFT_EBX,
                        HV_CPUID_VENDOR_MICROSOFT_ECX,
                        HV_CPUID_VENDOR_MICROSOFT_EDX
                    ),
                "vendor {:?} ({range})",
                core::str::from_utf8(&vendor).unwrap_or("(not UTF-8)")
            );
            Ok(())
        },
    );
    let interface = config.leaf(1);
    suite.check(
        "CPUID 0x40000001 EAX: the Hv1 interface signature 0x31237648",
        || {
            // Requirements § Hypervisor Vendor-Neutral Interface
            // Identification; TLFS md § Hypervisor Vendor-Neutral Interface
            // Identification - 0x40000001.
            ensure_eq!(
                interface.eax,
                HV_CPUID_INTERFACE_SIGNATURE_HV1,
                "interface signature"
            );
            Ok(())
        },
    );

    let identity = config.leaf(2);
    let ebx = HvSystemIdentityEbx::from_bits(identity.ebx);
    let edx = HvSystemIdentityEdx::from_bits(identity.edx);
    suite.note(format_args!(
        "CPUID 0x40000002 (diagnostic only): build {}, version {}.{}, service pack {}, branch {}, number {}",
        identity.eax,
        ebx.major_version(),
        ebx.minor_version(),
        identity.ecx,
        edx.service_branch(),
        edx.service_number()
    ));

    let privileges = config.privileges;
    suite.check(
        "CPUID 0x40000003 EAX grants AccessHypercallMsrs and AccessVpIndex (bits 5, 6)",
        || {
            // Requirements § Requirements for a Minimal HV#1 Interface and
            // "CPUID.40000003:EAX — Partition Privileges": "Must be set".
            ensure!(
                privileges.access_hypercall_msrs() && privileges.access_vp_index(),
                "EAX {:#x}",
                privileges.cpuid_eax()
            );
            Ok(())
        },
    );
    suite.check(
        "CPUID 0x40000003 EBX: partition flags the Requirements forbid are clear",
        || {
            // Requirements, "CPUID.40000003:EBX Feature Identification —
            // Partition Flags", rows "Must be clear".
            let ebx = privileges.cpuid_ebx();
            for (bit, name) in FORBIDDEN_PARTITION_FLAGS {
                ensure!(
                    ebx & (1 << bit) == 0,
                    "{name} (EBX bit {bit}) is set: EBX {ebx:#x}"
                );
            }
            Ok(())
        },
    );
    suite.check(
        "CPUID 0x40000003 EAX EBX: no reserved privilege bit is set",
        || {
            // TLFS md `datatypes/hv_partition_privilege_mask.md` (Reserved
            // fields); Requirements: EAX bits 12-31 reserved. Bit 13
            // (AccessReenlightenmentControls) is defined by the TLFS.
            let reserved = privileges.into_bits() & HvPartitionPrivilegeMask::RESERVED_MASK;
            ensure!(reserved == 0, "reserved bits {reserved:#018x} set");
            Ok(())
        },
    );

    let recommendations = config.leaf(4);
    let limits = config.leaf(5);
    suite.note(format_args!(
        "CPUID 0x40000004: recommendations {:#x}, spinlock retries {:#x}, ECX {:#x}; 0x40000005: VPs {:#x}, LPs {:#x}; 0x40000006 EAX {:#x}",
        recommendations.eax,
        recommendations.ebx,
        recommendations.ecx,
        limits.eax,
        limits.ebx,
        config.leaf(6).eax
    ));
    suite.check(
        "CPUID 0x40000004: no flush hypercall recommended if 0x40000005 EAX is -1",
        || {
            // Requirements § Maximum Supported Virtual Processors: "a
            // conforming hypervisor reporting -1 in CPUID.40000005.EAX must
            // not recommend these hypercalls (i.e., CPUID.40000004.EAX:1-2
            // must be cleared)". Vacuous with a finite limit.
            if limits.eax == UNLIMITED_VPS && recommendations.eax & 0b110 != 0 {
                return fail!(
                    "VP limit -1 with recommendations {:#x}",
                    recommendations.eax
                );
            }
            Ok(())
        },
    );
    suite.check(
        "CPUID 0x40000004: recommended MSRs come with the privilege to use them",
        || {
            // Requirements, leaf 0x40000004 notes: "A conforming hypervisor
            // returning any non-zero value in 0x40000004.EAX must support
            // the corresponding functionality". UseApicMsrs (bit 3) needs
            // AccessIntrCtrlRegs, UseResetMsr (bit 4) AccessResetReg (TLFS
            // 6.0b Appendix C lists the privilege of each MSR).
            let r = config.recommendations;
            ensure!(
                !r.use_apic_msrs() || privileges.access_intr_ctrl_regs(),
                "UseApicMsrs without AccessIntrCtrlRegs"
            );
            ensure!(
                !r.use_reset_msr() || privileges.access_reset_reg(),
                "UseResetMsr without AccessResetReg"
            );
            Ok(())
        },
    );
    suite.check(
        "CPUID reserved registers read 0: 0x40000001 EBX-EDX, 0x40000004 EDX, 0x40000005 EDX, 0x40000006 EBX-EDX",
        || {
            // TLFS md `feature-discovery.md` marks them Reserved;
            // Requirements § Required Hypervisor CPUID Leaves: "it is
            // generally recommended to return 0 for all CPUID leaves except
            // those that are marked as required".
            let hardware = config.leaf(6);
            for (what, value) in [
                ("0x40000001 EBX", interface.ebx),
                ("0x40000001 ECX", interface.ecx),
                ("0x40000001 EDX", interface.edx),
                ("0x40000004 EDX", recommendations.edx),
                ("0x40000005 EDX", limits.edx),
                ("0x40000006 EBX", hardware.ebx),
                ("0x40000006 ECX", hardware.ecx),
                ("0x40000006 EDX", hardware.edx),
            ] {
                ensure!(value == 0, "{what} is {value:#x}");
            }
            Ok(())
        },
    );
}

/// Requirements, "CPUID.40000003:EAX — Partition Privileges", note:
/// "Partition privileges must be identical for all virtual processors in a
/// partition, and must remain constant for the lifetime of the virtual
/// machine" — AccessPartitionReferenceTsc (bit 9) exempt (footnote 1).
pub fn privileges_unchanged(suite: &mut Suite, config: &Config) {
    suite.check(
        "CPUID 0x40000003 EAX EBX are unchanged at the end of the run (bit 9 exempt)",
        || {
            let now = tessera_guest_framework::cpu::cpuid(0x4000_0003, 0);
            let now = HvPartitionPrivilegeMask::from_cpuid(now.eax, now.ebx).into_bits();
            let exempt = HvPartitionPrivilegeMask::new()
                .with_access_partition_reference_tsc(true)
                .into_bits();
            ensure!(
                now & !exempt == config.privileges.into_bits() & !exempt,
                "privileges {now:#018x}, at the start {:#018x}",
                config.privileges.into_bits()
            );
            Ok(())
        },
    );
}
