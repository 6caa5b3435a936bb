//! Finishing a hypercall: the result value, the rep continuation, and RIP.

use tlfs::hypercall::HypercallClass;
use tlfs::{HvStatus, HypercallInputValue, HypercallResultValue};

use super::call::Hypercall;
use super::caller::CallingConvention;
use super::registers::HypercallRegisters;

/// The rep count, rep start index and reps completed fields are 12 bits.
const REP_FIELD_MASK: u16 = 0xFFF;

/// The register updates that end (or pause) one execution of a hypercall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Writeback {
    /// The hypercall result value for RAX (x64) or EDX:EAX (x86); `None`
    /// when the call continues.
    pub result: Option<HypercallResultValue>,
    /// The updated hypercall input value for RCX (x64) or EDX:EAX (x86),
    /// carrying the new rep start index; `None` unless the call continues.
    pub control: Option<HypercallInputValue>,
    /// Whether RIP moves past the hypercall instruction. It does not when
    /// the call continues: the guest re-executes it.
    pub advance_rip: bool,
}

impl Writeback {
    /// Complete with `status` and no reps: the write-back of a
    /// [`Reject::Status`](super::Reject::Status) and of a finished simple
    /// call.
    #[must_use]
    pub const fn status(status: HvStatus) -> Self {
        Self::done(status, 0)
    }

    const fn done(status: HvStatus, reps_completed: u16) -> Self {
        Self {
            result: Some(
                HypercallResultValue::new()
                    .with_result(status)
                    // 12-bit field: a decoded call never exceeds it; the
                    // mask keeps a hand-built one from panicking.
                    .with_reps_completed(reps_completed & REP_FIELD_MASK),
            ),
            control: None,
            advance_rip: true,
        }
    }

    /// Applies the updates to the guest registers (RIP is the kernel's:
    /// it advances it when [`advance_rip`](Self::advance_rip) says so).
    ///
    /// On x86 both the result and the continued input value live in
    /// EDX:EAX; a write-back never carries both.
    pub const fn apply(&self, convention: CallingConvention, regs: &mut HypercallRegisters) {
        if let Some(control) = self.control {
            regs.set_control(convention, control.into_bits());
        }
        if let Some(result) = self.result {
            regs.set_result(convention, result.into_bits());
        }
    }
}

impl Hypercall {
    /// The write-back after the handler ran, given its `status` and how many
    /// rep elements it `completed` in this execution (counted from the rep
    /// start index; ignored for simple calls).
    ///
    /// - Simple call: the result value with `status`, reps completed 0, RIP
    ///   advanced.
    /// - Rep call, `status` not success: the result value with `status` and
    ///   the elements processed before the error — TLFS md
    ///   `hypercall-interface.md` § Hypercall Classes: "If an error is
    ///   encountered when processing an element, an appropriate status code
    ///   is provided along with a reps completed count". The count is the
    ///   total, "not relative to the rep start index" (§ Hypercall
    ///   Outputs). RIP advanced.
    /// - Rep call, success, every element done: success with reps completed
    ///   = rep count. RIP advanced.
    /// - Rep call, success, elements left: the continuation — § Hypercall
    ///   Classes: "the hypercall returns control back to the calling
    ///   virtual processor after updating the rep start index"; §
    ///   Hypercall Continuation: "control is returned back to the caller,
    ///   but the instruction pointer is not advanced past the instruction
    ///   that invoked the hypercall"; § Volatile Registers: "Rep hypercalls
    ///   will modify RCX (x64) and EDX:EAX (x86) with the new rep start
    ///   index." No result value is written (on x86 it would overwrite the
    ///   input value in EDX:EAX). `completed == 0` is allowed (a caller
    ///   suspended and reissued, as the flush pages describe), though the
    ///   TLFS promises at least one attempted rep per execution.
    ///
    /// A `completed` beyond the remaining elements is clamped to them.
    #[must_use]
    pub fn complete(&self, status: HvStatus, completed: u16) -> Writeback {
        if self.spec.class == HypercallClass::Simple {
            return Writeback::status(status);
        }
        let done = self.rep_start + completed.min(self.remaining());
        if !status.is_success() || done == self.rep_count {
            return Writeback::done(status, done);
        }
        Writeback {
            result: None,
            control: Some(self.control.with_rep_start_index(done & REP_FIELD_MASK)),
            advance_rip: false,
        }
    }

    /// The write-back that re-executes the call unchanged later: no
    /// register changes, RIP not advanced (TLFS md § Hypercall
    /// Continuation; for example the flush calls' "the caller's virtual
    /// processor is suspended … the hypercall will be reissued").
    #[must_use]
    pub const fn reissue(&self) -> Writeback {
        Writeback {
            result: None,
            control: None,
            advance_rip: false,
        }
    }
}
