//! SVM on each CPU: require it (with nested paging), note the optional
//! features, and turn it on (EFER.SVME plus the host save area, AMD APM vol.
//! 2, 15.4 and 15.30.4).
use crate::arch::msr;
use crate::{exit, memory, percpu};
use core::sync::atomic::{AtomicU32, Ordering};
use raw_cpuid::CpuId;
use spin::Once;
use tessera_cpu_features::{MSR_VM_CR, SvmFeatures, svm_support};

static ENABLED_CPUS: AtomicU32 = AtomicU32::new(0);
/// What the bootstrap processor found; every other CPU is compared with it.
static BOOTSTRAP_FEATURES: Once<SvmFeatures> = Once::new();

/// Checks this CPU and enables SVM on it; a CPU that cannot run Tessera ends
/// the run with one line naming the missing feature.
pub fn require_and_enable() -> SvmFeatures {
    let features = match svm_support(&CpuId::new(), || msr::read(MSR_VM_CR)) {
        Ok(features) => features,
        Err(missing) => exit::fatal(format_args!("{missing}")),
    };
    let reference = BOOTSTRAP_FEATURES.call_once(|| features);
    if *reference != features {
        log::warn!("svm: this cpu differs from cpu 0: {features}");
    }

    let host_save_area = memory::frames::allocate_zeroed()
        .unwrap_or_else(|| exit::fatal(format_args!("no memory for the SVM host save area")));
    // SAFETY: setting SVME only allows SVM instructions; long mode and
    // no-execute stay as they are.
    unsafe { msr::write(msr::EFER, msr::read(msr::EFER) | msr::EFER_SVME) };
    // SAFETY: the host save area is a page-aligned frame owned by this CPU for
    // good; VMRUN writes host state there.
    unsafe { msr::write(msr::VM_HSAVE_PA, host_save_area.as_u64()) };
    // The frames every VP's world switch needs are taken now, so after
    // bring-up the kernel's own frames stay as they are: every frame taken
    // later is charged to a component.
    crate::vm::tables::host_vmcb(percpu::current_index() as usize);
    crate::vm::tables::permission_maps();
    ENABLED_CPUS.fetch_add(1, Ordering::Release);
    log::debug!("svm: enabled on cpu {}", percpu::current_index());
    features
}

/// The SVM features of the bootstrap processor (every CPU is compared
/// with it at start): what the VMRUN loop may use, such as NRIP save,
/// decode assists and flush by ASID.
pub fn features() -> SvmFeatures {
    BOOTSTRAP_FEATURES
        .get()
        .copied()
        .unwrap_or_else(|| exit::fatal(format_args!("SVM features asked before SVM was on")))
}

pub fn enabled_cpus() -> u32 {
    ENABLED_CPUS.load(Ordering::Acquire)
}
