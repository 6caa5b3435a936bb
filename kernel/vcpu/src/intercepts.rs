//! The intercepts every VP has, whatever its routes.
//!
//! - VMRUN must be intercepted (VMRUN refuses a VMCB without it: APM vol. 2
//!   §15.5.1); the other SVM instructions, MONITOR/MWAIT, XSETBV and RDPRU
//!   would reach host state or features the guest does not have (they
//!   become #UD).
//! - INVD would drop the host's dirty cache lines, WBINVD flush every
//!   partition's caches: both are skipped (guest memory is coherent).
//! - RDPMC would read the host's performance counters (#GP: no PMU is
//!   virtualised), RDTSCP the host's TSC_AUX (the guest gets its own).
//! - MOV to CR4 would set any bit the host supports; the guest gets only
//!   what its CPUID offers (`control_registers`).
//! - CPUID, MSRs, port I/O, HLT and shutdown are the exits the kernel and
//!   the routes answer; INTR and NMI give the CPU back to the host.
//! - #DB and #AC, always: delivering them can loop forever inside the CPU
//!   (CVE-2015-8104, CVE-2015-5307; `reflect`). #MC, always: a machine
//!   check during a guest is the host's (`tessera_mca`).
use tessera_svm::{ExceptionVector, ExitCode, Intercept, RegIndex};

/// Whether `code` is the exit of an instruction the guest gets #UD for:
/// the SVM instructions, MONITOR/MWAIT, XSETBV and RDPRU (module
/// documentation).
pub fn undefined_for_guests(code: ExitCode) -> bool {
    matches!(
        code,
        ExitCode::VMRUN
            | ExitCode::VMLOAD
            | ExitCode::VMSAVE
            | ExitCode::STGI
            | ExitCode::CLGI
            | ExitCode::SKINIT
            | ExitCode::INVLPGA
            | ExitCode::MONITOR
            | ExitCode::MWAIT
            | ExitCode::MWAIT_CONDITIONAL
            | ExitCode::XSETBV
            | ExitCode::RDPRU
    )
}

/// The instruction and event intercepts.
pub const ALWAYS: [Intercept; 25] = [
    Intercept::Vmrun,
    Intercept::Vmmcall,
    Intercept::Vmload,
    Intercept::Vmsave,
    Intercept::Stgi,
    Intercept::Clgi,
    Intercept::Skinit,
    Intercept::Invlpga,
    Intercept::Monitor,
    Intercept::Mwait,
    Intercept::MwaitConditional,
    Intercept::Xsetbv,
    Intercept::Rdpru,
    Intercept::Invd,
    Intercept::Wbinvd,
    Intercept::Rdpmc,
    Intercept::Rdtscp,
    Intercept::CrWrite(RegIndex::R4),
    Intercept::Cpuid,
    Intercept::MsrProt,
    Intercept::IoioProt,
    Intercept::Hlt,
    Intercept::Shutdown,
    Intercept::Intr,
    Intercept::Nmi,
];

/// Exception vectors intercepted whatever the routes say (a bit per
/// vector, as `Partition::exception_intercepts`).
pub const EXCEPTIONS: u32 = 1 << ExceptionVector::DB.get()
    | 1 << ExceptionVector::AC.get()
    | 1 << ExceptionVector::MC.get();

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 9, finding 7: #AC and #DB always; RDPMC, RDTSCP and WBINVD.
    #[test]
    fn the_hang_prone_exceptions_and_host_revealing_instructions_exit() {
        for vector in [
            ExceptionVector::DB,
            ExceptionVector::AC,
            ExceptionVector::MC,
        ] {
            assert_ne!(EXCEPTIONS & 1 << vector.get(), 0, "{vector:?}");
        }
        for intercept in [
            Intercept::Rdpmc,
            Intercept::Rdtscp,
            Intercept::Wbinvd,
            Intercept::Vmrun,
            Intercept::CrWrite(RegIndex::R4),
        ] {
            assert!(ALWAYS.contains(&intercept), "{intercept:?}");
        }
    }
}
