//! The Hv#1 APIC enlightenments (`hv-vapic`): the EOI, ICR and TPR MSRs,
//! and lazy EOI through the VP assist page's "No EOI required" bit.
//!
//! TLFS md `virtual-interrupts.md` § Local APIC MSR Accesses (x64 Only)
//! and § EOI Assist (x64 Only); `vp-properties.md` § Virtual Processor
//! Assist Page; `datatypes/hv_partition_privilege_mask.md`
//! (`AccessIntrCtrlRegs`: "access to the synthetic MSRs associated with
//! the APIC (HV_X64_MSR_EOI, HV_X64_MSR_ICR and HV_X64_MSR_TPR)").

use tlfs::msr::{HV_X64_MSR_EOI, HV_X64_MSR_ICR, HV_X64_MSR_TPR};

use crate::access::{Effect, GeneralProtection, Interface};
use crate::base::ApicMode;
use crate::register::Register;
use crate::state::LocalApic;

/// Whether `msr` is one of the three APIC MSRs.
#[must_use]
pub const fn is_hv_apic_msr(msr: u32) -> bool {
    matches!(msr, HV_X64_MSR_EOI | HV_X64_MSR_ICR | HV_X64_MSR_TPR)
}

impl LocalApic {
    /// RDMSR of `HV_X64_MSR_EOI`/`ICR`/`TPR`; `granted` is the partition's
    /// `AccessIntrCtrlRegs` privilege.
    ///
    /// - ICR: bits 63:32 the ICR high value, 31:0 the low value (in x2APIC
    ///   mode, the 64-bit x2APIC ICR: the same thing);
    /// - TPR: bits 7:0;
    /// - EOI: the TLFS gives it the "Write" attribute only. **Choice:** a
    ///   read is #GP, as for the x2APIC EOI register.
    ///
    /// # Errors
    ///
    /// #GP without the privilege, for EOI, for any other MSR, and while
    /// the APIC is globally disabled (**Choice**: the registers behind
    /// the MSRs do not exist then).
    pub fn read_hv_msr(
        &mut self,
        msr: u32,
        granted: bool,
        now: u64,
    ) -> Result<u64, GeneralProtection> {
        if !granted || self.mode() == ApicMode::Disabled {
            return Err(GeneralProtection);
        }
        match msr {
            // In x2APIC mode the ICR register is already 64 bits wide.
            HV_X64_MSR_ICR if self.mode() == ApicMode::X2apic => {
                Ok(self.read_register(Register::IcrLow, now))
            }
            HV_X64_MSR_ICR => Ok(self.read_register(Register::IcrLow, now)
                | self.read_register(Register::IcrHigh, now) << 32),
            HV_X64_MSR_TPR => Ok(self.tpr as u64),
            _ => Err(GeneralProtection),
        }
    }

    /// WRMSR of `HV_X64_MSR_EOI`/`ICR`/`TPR`.
    ///
    /// - EOI: bits 63:32 are RsvdZ; the EOI value (31:0) is ignored, as an
    ///   xAPIC EOI write's is. Returns the broadcast as an EOI register
    ///   write does.
    /// - ICR: in xAPIC mode the high half is the ICR high register and the
    ///   low half is written last, sending the IPI; in x2APIC mode it is a
    ///   write of the x2APIC ICR, with its reserved-bit checks.
    /// - TPR: bits 63:8 are RsvdZ.
    ///
    /// # Errors
    ///
    /// As [`read_hv_msr`](Self::read_hv_msr) (EOI excepted), and a set
    /// RsvdZ bit (**Choice**: #GP, as the x2APIC registers the MSRs stand
    /// for do; the TLFS names no fault).
    pub fn write_hv_msr(
        &mut self,
        msr: u32,
        value: u64,
        granted: bool,
        now: u64,
    ) -> Result<Effect, GeneralProtection> {
        let mode = self.mode();
        if !granted || mode == ApicMode::Disabled {
            return Err(GeneralProtection);
        }
        let interface = if mode == ApicMode::X2apic {
            Interface::Msr
        } else {
            Interface::Mmio
        };
        match msr {
            HV_X64_MSR_EOI if value >> 32 == 0 => {
                self.write_register(Register::Eoi, 0, interface, now)
            }
            HV_X64_MSR_TPR if value >> 8 == 0 => {
                self.write_register(Register::Tpr, value, interface, now)
            }
            HV_X64_MSR_ICR if mode == ApicMode::X2apic => {
                self.write_register(Register::IcrLow, value, interface, now)
            }
            HV_X64_MSR_ICR => {
                self.write_register(Register::IcrHigh, value >> 32, interface, now)?;
                self.write_register(Register::IcrLow, value & 0xFFFF_FFFF, interface, now)
            }
            _ => Err(GeneralProtection),
        }
    }
}

/// Lazy EOI: when the kernel may set the assist page's "No EOI required"
/// bit, and when it must perform the EOI the guest skipped.
///
/// TLFS `virtual-interrupts.md` § EOI Assist: the guest "performs an EOI
/// by atomically writing zero to the EOI Assist field ... and checking
/// whether the 'No EOI required' field was previously zero. If it was, the
/// OS must write to the HV_X64_MSR_EOI MSR". The hypervisor sets the bit
/// when it injects an interrupt that is edge-triggered and when "there
/// are no lower priority interrupts pending"; "if, at a later time, a
/// lower priority interrupt is requested, the hypervisor clears the 'No
/// EOI required'" bit.
///
/// The kernel's side, in two steps:
///
/// 1. After injecting a vector, [`after_injection`](Self::after_injection)
///    says whether to set the bit.
/// 2. Before anything that depends on the in-service vectors — accepting
///    a new interrupt, choosing the next one, any APIC register access or
///    EOI exit, INIT, a mode change — the kernel atomically clears the bit
///    (an exchange with 0 on the guest page) and hands the old value to
///    [`reconcile`](Self::reconcile). A clear bit where one was set means
///    the guest did its lazy EOI: the EOI is performed here. A set bit
///    means it has not yet, and since the bit is now clear, its EOI will
///    trap.
///
/// **Choice:** the bit is set only when the IRR is empty after the
/// injection (no interrupt of any priority pending), a stricter form of
/// the TLFS condition that needs no priority comparison, as Linux's KVM
/// does for its own PV EOI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct LazyEoi {
    /// The vector whose EOI the guest may skip, while the bit is set.
    armed: Option<u8>,
}

impl LazyEoi {
    /// Whether the bit is (as far as the kernel knows) set for a vector.
    #[must_use]
    pub const fn armed(&self) -> Option<u8> {
        self.armed
    }

    /// `vector` was just injected ([`LocalApic::acknowledge`]); `enabled`
    /// is whether the VP assist page is enabled. Returns whether the kernel
    /// sets "No EOI required".
    pub fn after_injection(&mut self, apic: &LocalApic, vector: u8, enabled: bool) -> bool {
        let lazy = enabled
            && self.armed.is_none()
            && apic.isr().highest() == Some(vector)
            && !apic.tmr().contains(vector)
            && apic.irr().is_empty();
        if lazy {
            self.armed = Some(vector);
        }
        lazy
    }

    /// The kernel cleared the bit; `was_set` is what it held. Returns the
    /// EOI performed on the guest's behalf (edge-triggered, so never
    /// broadcast), if the guest had done a lazy EOI.
    pub fn reconcile(&mut self, apic: &mut LocalApic, was_set: bool) -> Option<u8> {
        let vector = self.armed.take()?;
        if was_set {
            return None;
        }
        // The guest's EOI ends the highest in-service vector, as any EOI
        // does: `vector` when the bit was set, and still, since the kernel
        // reconciles before anything else can be injected. (Should the
        // kernel break that rule, this stays an architectural EOI rather
        // than a panic.)
        let _ = vector;
        apic.eoi().map(|end| end.vector)
    }
}
