//! A VP's NMI masking: after the kernel injects an NMI, no other NMI is
//! delivered until the guest's handler ends with IRET (AMD APM vol. 2,
//! "NMI" in § Interrupt Control: "NMIs are disabled by the processor until
//! the IRET instruction"; Intel SDM vol. 3A §6.7.1). An NMI injected
//! through `EVENTINJ` does not make the processor track this for the
//! guest (there is no virtual NMI masking before vNMI, which QEMU's SVM
//! lacks), so the kernel does, as KVM does on SVM:
//!
//! 1. injecting an NMI masks further ones and intercepts IRET;
//! 2. the IRET exit comes *before* the IRET runs: the kernel notes its RIP,
//!    drops the intercept and lets it run;
//! 3. at the first later exit at another RIP the IRET has completed, and
//!    NMIs are unmasked.
//!
//! An NMI that arrives while masked stays pending. So that it does not wait
//! for an unrelated exit once the IRET has run, the IRET exit with an NMI
//! pending cuts the CPU's timer short (as soon as `arch::apic::
//! interrupt_by` allows, its floor), which ends the guest's run; the entry
//! after that exit injects it.
use super::Vp;
use tessera_svm::Intercept;

/// A VP's NMI masking state.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NmiMask {
    /// An injected NMI's handler has not ended yet.
    masked: bool,
    /// The RIP of the IRET that ends it, once seen (it has run when the
    /// VP exits anywhere else).
    iret_at: Option<u64>,
}

impl NmiMask {
    /// The state after RESET or INIT: unmasked.
    pub const UNMASKED: Self = Self {
        masked: false,
        iret_at: None,
    };
}

impl Vp {
    /// Whether an NMI may be injected now: unmasks first if the IRET that
    /// ends the last one has run (the VP is no longer at its RIP).
    pub fn nmi_deliverable(&mut self) -> bool {
        if let Some(rip) = self.nmi_mask.iret_at
            && self.vmcb.save.rip != rip
        {
            self.nmi_mask = NmiMask::UNMASKED;
        }
        !self.nmi_mask.masked
    }

    /// The kernel injects an NMI: mask until its handler's IRET.
    pub fn nmi_injected(&mut self) {
        self.nmi_mask = NmiMask {
            masked: true,
            iret_at: None,
        };
        self.vmcb.intercepts_mut().set(Intercept::Iret, true);
    }

    /// The IRET exit (before the instruction): let it run, and look again
    /// soon if an NMI waits for it.
    pub fn iret_exit(&mut self, cpu: usize) {
        self.vmcb.intercepts_mut().set(Intercept::Iret, false);
        if self.nmi_mask.masked {
            self.nmi_mask.iret_at = Some(self.vmcb.save.rip);
        }
        if self.pending_nmi {
            crate::arch::apic::interrupt_by(cpu, crate::arch::tsc::read());
        }
    }

    /// RESET or INIT: NMIs unmasked, the IRET no longer watched.
    pub fn unmask_nmis(&mut self) {
        self.nmi_mask = NmiMask::UNMASKED;
        self.vmcb.intercepts_mut().set(Intercept::Iret, false);
    }
}
