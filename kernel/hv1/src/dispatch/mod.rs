//! The kernel's hypercall entry: from a `VMMCALL` exit to everything the
//! kernel must do about it, in one call ([`dispatch`]).
//!
//! [`dispatch`] decodes the call with [`decode`](crate::hypercall::decode()),
//! runs the handlers of the calls the kernel completes itself, and returns
//! an [`Outcome`]: a fault to inject, a [`Completion`] (register
//! write-back — status and reps completed, or the rep continuation — fast
//! output registers, and an [`Action`] such as a [`FlushRequest`]), a
//! memory intercept, or a call to forward to a component.
//!
//! # The calls
//!
//! | code | call | handled | source |
//! | --- | --- | --- | --- |
//! | `0x0002` | `HvCallFlushVirtualAddressSpace` | here → [`Action::Flush`] | `hypercalls/HvCallFlushVirtualAddressSpace.md`; TLFS 6.0b §9.4 |
//! | `0x0003` | `HvCallFlushVirtualAddressList` (rep) | here → [`Action::Flush`], ≤ [`MAX_FLUSH_RANGES`] elements per execution | `HvCallFlushVirtualAddressList.md` |
//! | `0x0008` | `HvCallNotifyLongSpinWait` | here → success, [`Action::LongSpinWait`] | `HvCallNotifyLongSpinWait.md`: "only HV_STATUS_SUCCESS will be returned as this is an advisory hypercall" |
//! | `0x0013` | `HvCallFlushVirtualAddressSpaceEx` | here → [`Action::Flush`] | `HvCallFlushVirtualAddressSpaceEx.md`, `datatypes/hv_vp_set.md` |
//! | `0x0014` | `HvCallFlushVirtualAddressListEx` (rep) | here → [`Action::Flush`] | `HvCallFlushVirtualAddressListEx.md` |
//! | `0x000B` | `HvCallSendSyntheticClusterIpi` | here ([`cluster_ipi::cluster_ipi`]) → [`Action::ClusterIpi`] | `HvCallSendSyntheticClusterIpi.md`; TLFS 6.0b |
//! | `0x0015` | `HvCallSendSyntheticClusterIpiEx` | as `0x000B`, with an `HV_VP_SET` | `HvCallSendSyntheticClusterIpiEx.md` |
//! | `0x8001` | `HvExtCallQueryCapabilities` | here → success, output 0 | `HvExtCallQueryCapabilities.md` |
//! | `0x005C`, `0x005D` | `HvCallPostMessage`, `HvCallSignalEvent` | [`Outcome::Forward`] (SynIC) | `HvCallPostMessage.md`, `HvCallSignalEvent.md` |
//! | anything else | — | `HV_STATUS_INVALID_HYPERCALL_CODE` | `hypercall-interface.md` § Common Hypercall Status Codes |
//!
//! Whether a call is available follows the partition's CPUID leaves
//! ([`HypercallPolicy::from_config`]): the flush calls when leaf
//! `0x40000004` recommends them, the `…Ex` ones with `UseExProcessorMasks`;
//! a call that is not advertised is `HV_STATUS_INVALID_HYPERCALL_CODE`, one
//! whose privilege is missing `HV_STATUS_ACCESS_DENIED`
//! (`HvExtCallQueryCapabilities` without `EnableExtendedHypercalls`,
//! `HvCallPostMessage` without `PostMessages`, `HvCallSignalEvent` without
//! `SignalEvents`: those pages' Return Values). Calls Tessera has no code
//! for at all — `HvCallRetargetDeviceInterrupt`, the other SynIC, VTL and partition
//! management calls — are `HV_STATUS_INVALID_HYPERCALL_CODE`, "The
//! hypercall code is not recognized": the Requirements' (§ Hypercall
//! Interface) "HV_STATUS_NOT_IMPLEMENTED" is no TLFS status, and its own
//! fallback code page returns 2, this status (see the crate docs).
//!
//! # Hypercalls before the hypercall page
//!
//! **Choice:** a `VMMCALL` while the partition's hypercall page is disabled
//! — in particular while `HV_X64_MSR_GUEST_OS_ID` is zero, which keeps it
//! disabled — raises #UD. TLFS md `hypercall-interface.md` § Legal
//! Hypercall Environments: "All hypercalls should be invoked through the
//! architecturally-defined hypercall interface … An attempt to invoke a
//! hypercall by any other means … might result in an undefined operation
//! (#UD) exception", and § Reporting the Guest OS Identity makes a non-zero
//! ID the precondition of the hypercall page.

pub mod cluster_ipi;
mod flush;
mod vp_set;

pub use cluster_ipi::ClusterIpi;
pub use flush::{
    AddressSpaces, FlushProcessors, FlushRequest, FlushScope, GvaRange, GvaRanges, MAX_FLUSH_RANGES,
};
pub use vp_set::{ProcessorSet, VP_SET_BANKS, VpSet};

use tlfs::hypercall::params::HvExtendedCapabilities;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

use crate::cpuid::Hv1Config;
use crate::hypercall::{
    Access, Caller, CallingConvention, FastOutputWrites, Fault, GuestMemory, Hypercall,
    HypercallPolicy, HypercallRegisters, Output, ParamError, ParamFailure, Reject, Writeback,
    XmmRegisters, decode,
};
use flush::{Flush, FlushError, FlushPolicy};

/// What the dispatcher needs to know about the partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchPolicy {
    /// Advertised calls, privileges and XMM features.
    pub hypercalls: HypercallPolicy,
    /// CPUID `0x40000003` EDX bit 14
    /// (`ExtendedGvaRangesForFlushVirtualAddressListAvailable`): whether
    /// `HV_FLUSH_USE_EXTENDED_RANGE_FORMAT` is accepted.
    pub extended_gva_ranges: bool,
    /// MAXPHYADDR for the flush calls' address space check (0: 52).
    pub physical_address_bits: u8,
    /// Whether `HvCallNotifyLongSpinWait` is advertised (looked up once:
    /// [`register_only`] answers it on every spin).
    pub long_spin_wait: bool,
}

impl DispatchPolicy {
    /// The policy a guest reading `config`'s CPUID leaves is entitled to.
    #[must_use]
    pub fn from_config(config: &Hv1Config) -> Self {
        Self {
            hypercalls: HypercallPolicy::from_config(config),
            extended_gva_ranges: config
                .features_edx
                .extended_gva_ranges_for_flush_virtual_address_list_available(),
            physical_address_bits: config.implemented_physical_address_bits,
            long_spin_wait: HypercallPolicy::from_config(config)
                .advertised
                .contains(HypercallCode::NOTIFY_LONG_SPIN_WAIT),
        }
    }
}

/// Work the kernel does before it applies a [`Completion`].
// No allocator in the kernel: the request travels by value (~700 bytes).
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Nothing.
    None,
    /// Flush virtual TLBs; the caller resumes only after the flush took
    /// effect on every target VP. While TLB flushes are inhibited (TLFS
    /// 6.0b §9.1 Restrictions on TLB Flushes) the kernel instead suspends
    /// the caller without applying the completion, so that the call is
    /// "automatically re-executed".
    Flush(FlushRequest),
    /// `HvCallSendSyntheticClusterIpi(Ex)`: deliver the vector as a fixed,
    /// edge-triggered interrupt to each VP of the set that exists, then
    /// apply the completion.
    ClusterIpi(ClusterIpi),
    /// `HvCallNotifyLongSpinWait`: a scheduling hint — the caller is
    /// spinning on a lock another VP of the partition may hold; yielding
    /// its processor is a good answer.
    LongSpinWait,
}

/// A call that ends in this execution (or continues: rep calls).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Completion {
    /// The caller's register convention (for [`Writeback::apply`]).
    pub convention: CallingConvention,
    /// Result value (status and reps completed) or rep continuation, and
    /// whether RIP advances.
    pub writeback: Writeback,
    /// Fast (XMM) output registers to write, for a successful fast call
    /// with output.
    pub fast_output: Option<FastOutputWrites>,
    /// What to do first.
    pub action: Action,
}

impl Completion {
    pub(super) fn status(convention: CallingConvention, status: HvStatus) -> Self {
        Self {
            convention,
            writeback: Writeback::status(status),
            fast_output: None,
            action: Action::None,
        }
    }

    /// The status returned, or `None` for a continuation.
    #[must_use]
    pub fn result_status(&self) -> Option<HvStatus> {
        self.writeback.result.map(|r| r.result())
    }

    /// The reps completed returned, or `None` for a continuation.
    #[must_use]
    pub fn reps_completed(&self) -> Option<u16> {
        self.writeback.result.map(|r| r.reps_completed())
    }

    /// Applies the general-purpose register updates (result or continued
    /// input value, fast output in RDX/R8). The kernel writes
    /// [`FastOutputWrites::xmm`] to the guest's XMM state and advances RIP
    /// by the `VMMCALL` length (3) when [`Writeback::advance_rip`] says so.
    pub fn apply(&self, regs: &mut HypercallRegisters) {
        self.writeback.apply(self.convention, regs);
        if let Some(output) = &self.fast_output {
            output.apply_gprs(regs);
        }
    }
}

/// What the kernel does about a `VMMCALL` exit.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Inject this exception; RIP stays on the instruction.
    Fault(Fault),
    /// Carry out the action, then apply the completion.
    Complete(Completion),
    /// A parameter GPA inside the GPA space is not mapped (or lacks the
    /// access): generate a memory intercept for it and leave RIP on the
    /// instruction, so the call re-executes once the handler has dealt
    /// with it (TLFS md `hypercall-interface.md` § Alignment Requirements;
    /// see [`ParamError::failure`]).
    MemoryIntercept {
        /// The call.
        call: Hypercall,
        /// The GPA of the refused access.
        gpa: u64,
        /// Read (input) or write (output).
        access: Access,
    },
    /// A valid call the kernel does not complete itself: hand it to the
    /// component the partition's route table names for `call.code`, or, if
    /// there is none, complete it with [`unrouted`].
    Forward(Hypercall),
}

/// The completion of a forwarded call no component handles.
///
/// `HvCallPostMessage` and `HvCallSignalEvent` name a connection; with no
/// SynIC component there are no connections, so the status is
/// `HV_STATUS_INVALID_CONNECTION_ID`, "The specified connection ID is
/// invalid" (both pages' Return Values). Any other forwarded call is
/// `HV_STATUS_INVALID_HYPERCALL_CODE`.
#[must_use]
pub fn unrouted(call: &Hypercall) -> Completion {
    let status = match call.code {
        HypercallCode::POST_MESSAGE | HypercallCode::SIGNAL_EVENT => {
            HvStatus::INVALID_CONNECTION_ID
        }
        _ => HvStatus::INVALID_HYPERCALL_CODE,
    };
    completed(call, status)
}

/// The completion of a forwarded call that its handler answered with
/// `status` and nothing else (no output, no action): `HvCallPostMessage`
/// and `HvCallSignalEvent`, which the kernel's SynIC completes.
#[must_use]
pub fn completed(call: &Hypercall, status: HvStatus) -> Completion {
    Completion {
        convention: call.convention,
        writeback: call.complete(status, 0),
        fast_output: None,
        action: Action::None,
    }
}

/// A call whose whole effect is in the general registers, as
/// [`register_only`] completes it: the writeback, and whether the call was
/// `HvCallNotifyLongSpinWait` (a hint to yield).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RegisterCompletion {
    pub convention: CallingConvention,
    pub writeback: Writeback,
    pub long_spin_wait: bool,
}

impl RegisterCompletion {
    /// Applies the result (or continuation) to the registers.
    pub fn apply(&self, regs: &mut HypercallRegisters) {
        self.writeback.apply(self.convention, regs);
    }
}

/// Whether `control` is the one input value guests spin on: a fast
/// `HvCallNotifyLongSpinWait` with every other field zero, advertised. It
/// is a well-formed simple call that needs no privilege, which [`decode`]
/// accepts and [`dispatch`] completes with `HV_STATUS_SUCCESS` (result
/// value 0) and RIP advanced; a 64-bit caller at CPL 0 with hypercalls
/// enabled may be answered so without decoding.
pub fn is_plain_spin_wait(control: u64, policy: &DispatchPolicy) -> bool {
    control == PLAIN_SPIN_WAIT && policy.long_spin_wait
}

/// The input value of a plain fast `HvCallNotifyLongSpinWait`: the call
/// code with the fast bit, nothing else (no reps, no variable header).
pub const PLAIN_SPIN_WAIT: u64 = HypercallCode::NOTIFY_LONG_SPIN_WAIT.0 as u64 | 1 << 16;

/// The input value of a plain fast `HvCallSignalEvent`: the call code
/// with the fast bit, nothing else; its input (connection ID and flag
/// number) is RDX.
pub const PLAIN_SIGNAL_EVENT: u64 = HypercallCode::SIGNAL_EVENT.0 as u64 | 1 << 16;

/// Whether a 64-bit caller at CPL 0 with hypercalls enabled who issues
/// [`PLAIN_SIGNAL_EVENT`] passes [`decode`] under `policy` (the call is
/// advertised and the partition has `SignalEvents`), so that [`dispatch`]
/// forwards it with its input in RDX: the kernel's lock-free path may
/// then complete it from RDX alone (decided once per policy: it is
/// [`decode`]'s own answer).
#[must_use]
pub fn plain_signal_event_accepted(policy: &DispatchPolicy) -> bool {
    struct NoXmm;
    impl XmmRegisters for NoXmm {
        fn xmm(&self, _: usize) -> u128 {
            0
        }
    }
    let regs = HypercallRegisters {
        rcx: PLAIN_SIGNAL_EVENT,
        ..HypercallRegisters::default()
    };
    decode(Caller::KERNEL64, &regs, &NoXmm, &policy.hypercalls)
        .is_ok_and(|call| call.code == HypercallCode::SIGNAL_EVENT && call.fast)
}

/// The hot subset of [`dispatch`], for the kernel's lock-free exit path:
/// a call refused on its input value alone, or a fast
/// `HvCallNotifyLongSpinWait`, completes here with exactly the result
/// [`dispatch`] gives it (both decode with [`decode`]); anything that
/// needs memory, XMM registers, kernel work or a fault is `None`, for
/// [`dispatch`]. It returns a few words, where [`Outcome`] carries a whole
/// flush request: this is what makes it cheap.
pub fn register_only(
    caller: Caller,
    regs: &HypercallRegisters,
    policy: &DispatchPolicy,
    hypercalls_enabled: bool,
) -> Option<RegisterCompletion> {
    struct NoXmm;
    impl XmmRegisters for NoXmm {
        fn xmm(&self, _: usize) -> u128 {
            0
        }
    }
    let convention = caller.convention().ok()?;
    if !hypercalls_enabled {
        return None;
    }
    // An XMM fast call reads XMM registers in `decode`: not here.
    let control = HypercallInputValue::from_bits(regs.control(convention));
    if is_plain_spin_wait(control.into_bits(), policy) {
        return Some(RegisterCompletion {
            convention,
            writeback: Writeback::status(HvStatus::SUCCESS),
            long_spin_wait: true,
        });
    }
    if control.fast() && policy.hypercalls.xmm_fast_input {
        return None;
    }
    let (writeback, long_spin_wait) = match decode(caller, regs, &NoXmm, &policy.hypercalls) {
        Err(Reject::Fault(_)) => return None,
        Err(Reject::Status(status)) => (Writeback::status(status), false),
        Ok(call) if call.code == HypercallCode::NOTIFY_LONG_SPIN_WAIT && call.fast => {
            (call.complete(HvStatus::SUCCESS, 0), true)
        }
        Ok(_) => return None,
    };
    Some(RegisterCompletion {
        convention,
        writeback,
        long_spin_wait,
    })
}

/// Handles the hypercall a `VMMCALL` exit of `caller` issued.
///
/// - `regs`, `xmm`: the guest registers at the exit (XMM0–XMM5 are read
///   only for an XMM fast call);
/// - `memory`: the partition's guest physical memory (parameter blocks);
/// - `policy`: from the partition's [`Hv1Config`];
/// - `hypercalls_enabled`: [`PartitionMsrs::hypercalls_enabled`](crate::synthetic_msr::PartitionMsrs::hypercalls_enabled).
///
/// Never panics, whatever the registers and memory hold.
pub fn dispatch(
    caller: Caller,
    regs: &HypercallRegisters,
    xmm: &(impl XmmRegisters + ?Sized),
    memory: &mut (impl GuestMemory + ?Sized),
    policy: &DispatchPolicy,
    hypercalls_enabled: bool,
) -> Outcome {
    let convention = match caller.convention() {
        Ok(convention) => convention,
        Err(fault) => return Outcome::Fault(fault),
    };
    if !hypercalls_enabled {
        return Outcome::Fault(Fault::InvalidOpcode);
    }
    let call = match decode(caller, regs, xmm, &policy.hypercalls) {
        Ok(call) => call,
        Err(Reject::Fault(fault)) => return Outcome::Fault(fault),
        Err(Reject::Status(status)) => {
            return Outcome::Complete(Completion::status(convention, status));
        }
    };
    match call.code {
        HypercallCode::NOTIFY_LONG_SPIN_WAIT => {
            // The SpinCount is advisory; its RsvdZ half is not checked,
            // since "There is no error status for this hypercall". But a
            // memory-based call's input block is still fetched, so a GPA
            // outside the partition gets the status every call gives for
            // it (TLFS md `hypercall-interface.md` § Hypercall Inputs:
            // parameters are validated before the call does anything).
            let mut spin_count = [0u8; 8];
            if let Err(error) = call.read_input(memory, 0, &mut spin_count) {
                return param_failure(call, error);
            }
            Outcome::Complete(Completion {
                action: Action::LongSpinWait,
                ..Completion::status(convention, HvStatus::SUCCESS)
            })
        }
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX => {
            let flush_policy = FlushPolicy {
                extended_gva_ranges: policy.extended_gva_ranges,
                physical_address_bits: policy.physical_address_bits,
            };
            match flush::flush(&call, memory, flush_policy) {
                Ok(Flush { request, completed }) => Outcome::Complete(Completion {
                    convention,
                    writeback: call.complete(HvStatus::SUCCESS, completed),
                    fast_output: None,
                    action: request.map_or(Action::None, Action::Flush),
                }),
                Err(FlushError::Status(status)) => fail(&call, status),
                Err(FlushError::Param(error)) => param_failure(call, error),
            }
        }
        HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI
        | HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX => {
            match cluster_ipi::cluster_ipi(&call, memory) {
                Ok((ipi, completion)) => Outcome::Complete(Completion {
                    action: Action::ClusterIpi(ipi),
                    ..completion
                }),
                Err(outcome) => outcome,
            }
        }
        HypercallCode::EXT_QUERY_CAPABILITIES => query_capabilities(call, memory),
        _ => Outcome::Forward(call),
    }
}

/// Ends `call` with `status` and no further reps.
pub(super) fn fail(call: &Hypercall, status: HvStatus) -> Outcome {
    Outcome::Complete(Completion {
        convention: call.convention,
        writeback: call.complete(status, 0),
        fast_output: None,
        action: Action::None,
    })
}

/// A parameter access failed: a status, or a memory intercept.
pub(super) fn param_failure(call: Hypercall, error: ParamError) -> Outcome {
    match error.failure() {
        ParamFailure::Status(status) => fail(&call, status),
        ParamFailure::MemoryIntercept { gpa, access } => {
            Outcome::MemoryIntercept { call, gpa, access }
        }
    }
}

/// `HvExtCallQueryCapabilities`: "Bitmask of supported extended
/// hypercalls" (TLFS md `hypercalls/HvExtCallQueryCapabilities.md`). Tessera
/// implements no other extended hypercall, so every bit is 0 and a guest
/// finds none of `HvExtCallGetBootZeroedMemory`, `…MemoryHeatHint`,
/// `…EpfSetup`, `…SchedulerAssistSetup`, `…MemoryHeatHintAsync` (TLFS md §
/// Extended Hypercall Interface: "Extended hypercall capabilities can be
/// queried with HvExtCallQueryCapabilities").
fn query_capabilities(call: Hypercall, memory: &mut (impl GuestMemory + ?Sized)) -> Outcome {
    let capabilities = HvExtendedCapabilities::new().into_bits().to_le_bytes();
    match call.output {
        Output::Registers { .. } => match call.fast_output_writes(&capabilities) {
            Ok(writes) => Outcome::Complete(Completion {
                convention: call.convention,
                writeback: call.complete(HvStatus::SUCCESS, 0),
                fast_output: Some(writes),
                action: Action::None,
            }),
            Err(error) => param_failure(call, error),
        },
        _ => match call.write_output(memory, 0, &capabilities) {
            Ok(()) => Outcome::Complete(Completion::status(call.convention, HvStatus::SUCCESS)),
            Err(error) => param_failure(call, error),
        },
    }
}
