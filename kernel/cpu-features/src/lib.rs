//! The host CPU features Tessera requires and the optional ones it notes.
//!
//! Decoding lives here, apart from the kernel, so it runs on the host against
//! made-up CPUID values: `raw_cpuid::CpuId` takes any [`CpuIdReader`], and the
//! kernel passes the real instruction while the tests pass a table.
//!
//! Bits follow the AMD64 Architecture Programmer's Manual, volume 2, section
//! 15.4 ("Enabling SVM") and volume 3, appendix E (CPUID 0x8000_0001 ECX\[2\]
//! SVM, 0x8000_000A EAX/EBX/EDX).
#![no_std]
#![forbid(unsafe_code)]

use core::fmt;
use raw_cpuid::{CpuId, CpuIdReader};

/// What SVM offers on one CPU. Only nested paging is required; the rest
/// changes how the kernel works (for example without NRIP save it computes
/// instruction lengths itself, as under QEMU's TCG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SvmFeatures {
    pub revision: u8,
    pub asids: u32,
    pub nested_paging: bool,
    pub nrip_save: bool,
    pub decode_assists: bool,
    pub flush_by_asid: bool,
    pub vmcb_clean_bits: bool,
    pub avic: bool,
}

/// Why Tessera cannot run on a CPU. The text names the CPUID or MSR bit, so
/// the reader can check the machine (or the `-cpu` model) directly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingFeature {
    Svm,
    NestedPaging,
    /// The firmware locked SVM off (VM_CR.SVMDIS, AMD APM vol. 2, 15.30.1).
    SvmDisabledByFirmware,
}

impl fmt::Display for MissingFeature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Svm => f.write_str("SVM (AMD-V) is not available: CPUID 0x80000001 ECX bit 2 is clear"),
            Self::NestedPaging => f.write_str(
                "nested paging is not available: CPUID 0x8000000A EDX bit 0 is clear",
            ),
            Self::SvmDisabledByFirmware => f.write_str(
                "SVM is disabled by the firmware: VM_CR MSR 0xC0010114 bit 4 (SVMDIS) is set; enable it in the firmware setup",
            ),
        }
    }
}

/// The MSR that can lock SVM off, and its bit.
pub const MSR_VM_CR: u32 = 0xC001_0114;
pub const VM_CR_SVMDIS: u64 = 1 << 4;

/// Decodes SVM support from CPUID, and checks Tessera's requirements.
///
/// `vm_cr` is the value of the VM_CR MSR, read only if CPUID reports SVM
/// (the MSR does not exist otherwise).
pub fn svm_support<R: CpuIdReader>(
    cpuid: &CpuId<R>,
    vm_cr: impl FnOnce() -> u64,
) -> Result<SvmFeatures, MissingFeature> {
    let has_svm = cpuid
        .get_extended_processor_and_feature_identifiers()
        .is_some_and(|ext| ext.has_svm());
    let info = cpuid.get_svm_info().filter(|_| has_svm);
    let Some(info) = info else {
        return Err(MissingFeature::Svm);
    };
    if vm_cr() & VM_CR_SVMDIS != 0 {
        return Err(MissingFeature::SvmDisabledByFirmware);
    }
    let features = SvmFeatures {
        revision: info.revision(),
        asids: info.supported_asids(),
        nested_paging: info.has_nested_paging(),
        nrip_save: info.has_nrip(),
        decode_assists: info.has_decode_assists(),
        flush_by_asid: info.has_flush_by_asid(),
        vmcb_clean_bits: info.has_vmcb_clean_bits(),
        avic: info.has_avic(),
    };
    if !features.nested_paging {
        return Err(MissingFeature::NestedPaging);
    }
    Ok(features)
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

impl fmt::Display for SvmFeatures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "revision {}, {} asids, nested paging {}, nrip-save {}, decode-assists {}, \
             flush-by-asid {}, vmcb-clean-bits {}, avic {}",
            self.revision,
            self.asids,
            yes_no(self.nested_paging),
            yes_no(self.nrip_save),
            yes_no(self.decode_assists),
            yes_no(self.flush_by_asid),
            yes_no(self.vmcb_clean_bits),
            yes_no(self.avic),
        )
    }
}

#[cfg(test)]
mod tests;
