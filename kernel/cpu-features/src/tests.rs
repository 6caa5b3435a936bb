extern crate std;

use super::*;
use raw_cpuid::CpuIdResult;
use std::string::ToString;

/// A CPU described by the few leaves that matter here.
#[derive(Clone, Copy)]
struct FakeCpu {
    ext_max_leaf: u32,
    ext_1_ecx: u32,
    svm_eax: u32,
    svm_ebx: u32,
    svm_edx: u32,
}

impl CpuIdReader for FakeCpu {
    fn cpuid2(&self, leaf: u32, _subleaf: u32) -> CpuIdResult {
        let zero = CpuIdResult {
            eax: 0,
            ebx: 0,
            ecx: 0,
            edx: 0,
        };
        match leaf {
            // "AuthenticAMD", so raw-cpuid decodes the AMD-only leaves.
            0 => CpuIdResult {
                eax: 1,
                ebx: 0x6874_7541,
                ecx: 0x444d_4163,
                edx: 0x6974_6e65,
            },
            0x8000_0000 => CpuIdResult {
                eax: self.ext_max_leaf,
                ..zero
            },
            0x8000_0001 => CpuIdResult {
                ecx: self.ext_1_ecx,
                ..zero
            },
            0x8000_000A => CpuIdResult {
                eax: self.svm_eax,
                ebx: self.svm_ebx,
                ecx: 0,
                edx: self.svm_edx,
            },
            _ => zero,
        }
    }
}

/// What QEMU's TCG offers with `-cpu EPYC`: SVM revision 1, 16 ASIDs, nested
/// paging and nothing optional.
const TCG_EPYC: FakeCpu = FakeCpu {
    ext_max_leaf: 0x8000_001F,
    ext_1_ecx: 1 << 2,
    svm_eax: 1,
    svm_ebx: 16,
    svm_edx: 1,
};

fn decode(cpu: FakeCpu, vm_cr: u64) -> Result<SvmFeatures, MissingFeature> {
    svm_support(&CpuId::with_cpuid_reader(cpu), || vm_cr)
}

#[test]
fn tcg_epyc_has_svm_with_nested_paging_only() {
    let features = decode(TCG_EPYC, 0).expect("supported");
    assert_eq!(
        features,
        SvmFeatures {
            revision: 1,
            asids: 16,
            nested_paging: true,
            nrip_save: false,
            decode_assists: false,
            flush_by_asid: false,
            vmcb_clean_bits: false,
            avic: false,
        }
    );
    assert_eq!(
        features.to_string(),
        "revision 1, 16 asids, nested paging yes, nrip-save no, decode-assists no, \
         flush-by-asid no, vmcb-clean-bits no, avic no"
    );
}

#[test]
fn optional_features_come_from_their_edx_bits() {
    // APM vol. 3, CPUID Fn8000_000A_EDX: NRIPS 3, VmcbClean 5, FlushByAsid 6,
    // DecodeAssists 7, AVIC 13.
    let cpu = FakeCpu {
        svm_edx: 1 | 1 << 3 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 13,
        ..TCG_EPYC
    };
    let features = decode(cpu, 0).expect("supported");
    assert!(features.nrip_save);
    assert!(features.vmcb_clean_bits);
    assert!(features.flush_by_asid);
    assert!(features.decode_assists);
    assert!(features.avic);
}

#[test]
fn missing_svm_bit_is_reported_even_if_the_svm_leaf_answers() {
    let cpu = FakeCpu {
        ext_1_ecx: 0,
        ..TCG_EPYC
    };
    assert_eq!(decode(cpu, 0), Err(MissingFeature::Svm));
}

#[test]
fn missing_extended_leaves_mean_no_svm() {
    let cpu = FakeCpu {
        ext_max_leaf: 0x8000_0000,
        ..TCG_EPYC
    };
    assert_eq!(decode(cpu, 0), Err(MissingFeature::Svm));
}

#[test]
fn missing_nested_paging_is_fatal() {
    let cpu = FakeCpu {
        svm_edx: 0,
        ..TCG_EPYC
    };
    let error = decode(cpu, 0).unwrap_err();
    assert_eq!(error, MissingFeature::NestedPaging);
    assert_eq!(
        error.to_string(),
        "nested paging is not available: CPUID 0x8000000A EDX bit 0 is clear"
    );
}

#[test]
fn firmware_lock_is_checked_only_when_svm_exists() {
    assert_eq!(
        decode(TCG_EPYC, VM_CR_SVMDIS),
        Err(MissingFeature::SvmDisabledByFirmware)
    );
    // Without SVM the MSR does not exist and must not be read.
    let no_svm = FakeCpu {
        ext_1_ecx: 0,
        ..TCG_EPYC
    };
    let result = svm_support(&CpuId::with_cpuid_reader(no_svm), || panic!("VM_CR read"));
    assert_eq!(result, Err(MissingFeature::Svm));
}

#[test]
fn no_svm_message_names_the_cpuid_bit() {
    assert_eq!(
        MissingFeature::Svm.to_string(),
        "SVM (AMD-V) is not available: CPUID 0x80000001 ECX bit 2 is clear"
    );
}
