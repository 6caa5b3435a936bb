//! Which results the TLFS allows a hypercall, from its input value: the
//! guest fuzzer's oracle. Everything here comes from the specification
//! (TLFS md `hypercall-interface.md`, the `hypercalls/*.md` pages and
//! TLFS 6.0b's Return Values), never from what Tessera answered.
//!
//! A result is judged by three rules:
//!
//! 1. **The status is one the call may return**: the common statuses
//!    (§ Common Hypercall Status Codes: `SUCCESS`, `INVALID_HYPERCALL_CODE`,
//!    `INVALID_HYPERCALL_INPUT`, `INVALID_ALIGNMENT`) plus the ones the
//!    call's own page lists ([`call_statuses`]). A code the TLFS does not
//!    define can only be `INVALID_HYPERCALL_CODE` ("The hypercall code is
//!    not recognized") or `INVALID_HYPERCALL_INPUT` (its input value may
//!    also be malformed; the TLFS orders no checks).
//! 2. **A call that cannot succeed does not**: a reserved bit set; a rep
//!    count on a simple call, none on a rep call, or a start index not below
//!    the count (§ Hypercall Inputs and § Common Hypercall Status Codes);
//!    a variable header on a call that takes none (§ Variable Sized
//!    Hypercall Input: "will result in … `HV_STATUS_INVALID_HYPERCALL_INPUT`");
//!    a code the TLFS does not define; a call whose privilege the
//!    partition lacks; a message or event with no connection to name.
//! 3. **Reps completed add up** (§ Hypercall Outputs): zero for a simple
//!    call; at most the rep count for a rep call, and all of them on
//!    success ("the reps complete field would indicate 10 upon successful
//!    completion").
//!
//! `HvCallNotifyLongSpinWait` is stricter still: "There is no error status
//! for this hypercall, only HV_STATUS_SUCCESS will be returned". A
//! hypervisor may leave every hypercall unimplemented (Requirements §
//! Hypercall Interface: its fallback page returns `INVALID_HYPERCALL_CODE`),
//! so a well-formed fast call returns success or that.

use tlfs::hypercall::HypercallClass;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue, HypercallResultValue};

/// What the partition was told (CPUID `0x40000003` and `0x40000004`) that
/// decides whether a call can succeed at all.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Partition {
    /// Privilege `PostMessages`.
    pub post_messages: bool,
    /// Privilege `SignalEvents`.
    pub signal_events: bool,
    /// Privilege `EnableExtendedHypercalls`.
    pub extended_hypercalls: bool,
    /// Recommendation `UseExProcessorMasks`, which the `…Ex` flush pages
    /// make the condition of their availability.
    pub ex_processor_masks: bool,
    /// Whether any connection (SynIC message or event port) exists for a
    /// `HvCallPostMessage` or `HvCallSignalEvent` to name.
    pub connections: bool,
}

/// The statuses common to every hypercall.
const COMMON: [HvStatus; 4] = [
    HvStatus::SUCCESS,
    HvStatus::INVALID_HYPERCALL_CODE,
    HvStatus::INVALID_HYPERCALL_INPUT,
    HvStatus::INVALID_ALIGNMENT,
];

/// The statuses a call's own page adds to the common ones.
///
/// Only the calls the fuzzer aims at are transcribed. Any other TLFS call
/// gets the common statuses only: Tessera implements none of them, so
/// they answer `INVALID_HYPERCALL_CODE`, and a call-specific status from
/// one would be news (add its page's list here when one is implemented).
#[must_use]
pub fn call_statuses(code: HypercallCode) -> &'static [HvStatus] {
    match code {
        // TLFS 6.0b HvFlushVirtualAddressSpace/List(Ex), Return Values.
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX => &[HvStatus::INVALID_PARAMETER],
        // `HvCallPostMessage.md`, Return Values.
        HypercallCode::POST_MESSAGE => &[
            HvStatus::ACCESS_DENIED,
            HvStatus::INVALID_CONNECTION_ID,
            HvStatus::INVALID_PORT_ID,
            HvStatus::INVALID_PARAMETER,
            HvStatus::INSUFFICIENT_BUFFERS,
            HvStatus::INVALID_VP_INDEX,
            HvStatus::INVALID_SYNIC_STATE,
        ],
        // `HvCallSignalEvent.md`, Return Values.
        HypercallCode::SIGNAL_EVENT => &[
            HvStatus::ACCESS_DENIED,
            HvStatus::INVALID_CONNECTION_ID,
            HvStatus::INVALID_PORT_ID,
            HvStatus::INVALID_PARAMETER,
            HvStatus::INVALID_VP_INDEX,
            HvStatus::INVALID_SYNIC_STATE,
        ],
        // Extended hypercalls need `EnableExtendedHypercalls`
        // (`hypercalls/HvExtCallQueryCapabilities.md`; feature-discovery.md).
        HypercallCode::EXT_QUERY_CAPABILITIES => &[HvStatus::ACCESS_DENIED],
        _ => &[],
    }
}

/// Whether the TLFS defines `code` at all.
#[must_use]
pub fn is_defined(code: HypercallCode) -> bool {
    code.name().is_some()
}

/// Calls whose page documents a variable-sized input header.
fn takes_variable_header(code: HypercallCode) -> bool {
    matches!(
        code,
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
            | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX
    )
}

/// Why the input value alone rules out success; `None` if nothing does.
#[must_use]
pub fn cannot_succeed(input: u64, partition: &Partition) -> Option<&'static str> {
    let value = HypercallInputValue::from_bits(input);
    let code = value.call_code();
    if value.has_reserved_bits() {
        return Some("a reserved bit of the input value is set");
    }
    if !is_defined(code) {
        return Some("the TLFS defines no such call code");
    }
    let (count, start) = (value.rep_count(), value.rep_start_index());
    match code.class() {
        Some(HypercallClass::Simple) if count != 0 || start != 0 => {
            return Some("a simple call with a rep count or start index");
        }
        Some(HypercallClass::Rep) if count == 0 => return Some("a rep call with no reps"),
        Some(HypercallClass::Rep) if start >= count => {
            return Some("a rep start index not below the rep count");
        }
        _ => {}
    }
    if value.variable_header_size() != 0 && !takes_variable_header(code) {
        return Some("a variable header on a call that takes none");
    }
    match code {
        HypercallCode::POST_MESSAGE if !partition.post_messages => {
            Some("HvCallPostMessage without the PostMessages privilege")
        }
        HypercallCode::SIGNAL_EVENT if !partition.signal_events => {
            Some("HvCallSignalEvent without the SignalEvents privilege")
        }
        HypercallCode::POST_MESSAGE | HypercallCode::SIGNAL_EVENT if !partition.connections => {
            Some("a message or event with no connection to name")
        }
        HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        | HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX
            if !partition.ex_processor_masks =>
        {
            Some("an ...Ex flush without UseExProcessorMasks")
        }
        c if c.is_extended() && !partition.extended_hypercalls => {
            Some("an extended hypercall without EnableExtendedHypercalls")
        }
        _ => None,
    }
}

/// A result the TLFS does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    pub status: HvStatus,
    pub reps_completed: u16,
    pub rule: &'static str,
}

/// Judges the result value `result` of a call made with input value
/// `input` in its fast (`fast`) or memory form.
///
/// # Errors
///
/// The [`Violation`] of the first rule the result breaks.
pub fn judge(input: u64, result: u64, partition: &Partition) -> Result<(), Violation> {
    let value = HypercallInputValue::from_bits(input);
    let code = value.call_code();
    let out = HypercallResultValue::from_bits(result);
    let (status, reps) = (out.result(), out.reps_completed());
    let violation = |rule| {
        Err(Violation {
            status,
            reps_completed: reps,
            rule,
        })
    };
    let allowed = if is_defined(code) {
        COMMON.contains(&status) || call_statuses(code).contains(&status)
    } else {
        matches!(
            status,
            HvStatus::INVALID_HYPERCALL_CODE | HvStatus::INVALID_HYPERCALL_INPUT
        )
    };
    if !allowed {
        return violation("a status the call's page and the common codes do not list");
    }
    if status == HvStatus::SUCCESS
        && let Some(reason) = cannot_succeed(input, partition)
    {
        return violation(reason);
    }
    match code.class() {
        Some(HypercallClass::Simple) if reps != 0 => {
            return violation("reps completed on a simple call");
        }
        Some(HypercallClass::Rep) if reps > value.rep_count() => {
            return violation("more reps completed than the rep count");
        }
        Some(HypercallClass::Rep) if status == HvStatus::SUCCESS && reps != value.rep_count() => {
            return violation("success without every rep completed");
        }
        _ => {}
    }
    if code == HypercallCode::NOTIFY_LONG_SPIN_WAIT
        && value.fast()
        && cannot_succeed(input, partition).is_none()
        && !matches!(status, HvStatus::SUCCESS | HvStatus::INVALID_HYPERCALL_CODE)
    {
        return violation("HvCallNotifyLongSpinWait returns only success");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(code: u16, reps: u16, start: u16) -> u64 {
        HypercallInputValue::new()
            .with_call_code(HypercallCode(code))
            .with_rep_count(reps)
            .with_rep_start_index(start)
            .into_bits()
    }

    fn result(status: HvStatus, reps: u16) -> u64 {
        HypercallResultValue::new()
            .with_result(status)
            .with_reps_completed(reps)
            .into_bits()
    }

    const ALL: Partition = Partition {
        post_messages: true,
        signal_events: true,
        extended_hypercalls: true,
        ex_processor_masks: true,
        connections: true,
    };

    #[test]
    fn a_simple_call_succeeds_only_when_well_formed() {
        let flush = 0x0002;
        assert!(judge(input(flush, 0, 0), result(HvStatus::SUCCESS, 0), &ALL).is_ok());
        let bad = judge(input(flush, 3, 0), result(HvStatus::SUCCESS, 0), &ALL);
        assert_eq!(
            bad.unwrap_err().rule,
            "a simple call with a rep count or start index"
        );
        assert!(
            judge(
                input(flush, 3, 0),
                result(HvStatus::INVALID_HYPERCALL_INPUT, 0),
                &ALL
            )
            .is_ok()
        );
        assert!(judge(input(flush, 0, 0), result(HvStatus::SUCCESS, 1), &ALL).is_err());
        let reserved = input(flush, 0, 0) | 1 << 27;
        assert!(judge(reserved, result(HvStatus::SUCCESS, 0), &ALL).is_err());
        let variable_header = input(flush, 0, 0) | 1 << 17;
        assert!(judge(variable_header, result(HvStatus::SUCCESS, 0), &ALL).is_err());
    }

    #[test]
    fn rep_calls_count_their_reps() {
        let list = 0x0003;
        assert!(judge(input(list, 4, 1), result(HvStatus::SUCCESS, 4), &ALL).is_ok());
        assert!(judge(input(list, 4, 1), result(HvStatus::SUCCESS, 3), &ALL).is_err());
        assert!(
            judge(
                input(list, 4, 0),
                result(HvStatus::INVALID_PARAMETER, 2),
                &ALL
            )
            .is_ok()
        );
        assert!(
            judge(
                input(list, 4, 0),
                result(HvStatus::INVALID_PARAMETER, 5),
                &ALL
            )
            .is_err()
        );
        assert!(judge(input(list, 0, 0), result(HvStatus::SUCCESS, 0), &ALL).is_err());
        assert!(judge(input(list, 4, 4), result(HvStatus::SUCCESS, 4), &ALL).is_err());
    }

    #[test]
    fn statuses_outside_the_pages_are_violations() {
        // Flushes list INVALID_PARAMETER, not ACCESS_DENIED.
        assert!(
            judge(
                input(0x0002, 0, 0),
                result(HvStatus::ACCESS_DENIED, 0),
                &ALL
            )
            .is_err()
        );
        assert!(
            judge(
                input(0x005C, 0, 0),
                result(HvStatus::INSUFFICIENT_BUFFERS, 0),
                &ALL
            )
            .is_ok()
        );
        // Undefined codes: only "not recognised" (or a bad input value).
        assert!(
            judge(
                input(0x7FFF, 0, 0),
                result(HvStatus::INVALID_HYPERCALL_CODE, 0),
                &ALL
            )
            .is_ok()
        );
        assert!(judge(input(0x7FFF, 0, 0), result(HvStatus::SUCCESS, 0), &ALL).is_err());
        assert!(
            judge(
                input(0x7FFF, 0, 0),
                result(HvStatus::INVALID_ALIGNMENT, 0),
                &ALL
            )
            .is_err()
        );
    }

    #[test]
    fn privileges_and_connections_gate_success() {
        let none = Partition::default();
        for code in [0x005C, 0x005D, 0x8001, 0x0013] {
            assert!(
                cannot_succeed(input(code, 0, 0), &none).is_some(),
                "{code:#x}"
            );
        }
        assert!(cannot_succeed(input(0x0014, 1, 0), &none).is_some());
        assert!(cannot_succeed(input(0x0002, 0, 0), &none).is_none());
        let no_connections = Partition {
            connections: false,
            ..ALL
        };
        assert!(cannot_succeed(input(0x005D, 0, 0), &no_connections).is_some());
    }

    #[test]
    fn long_spin_wait_only_ever_succeeds() {
        let fast = input(0x0008, 0, 0) | 1 << 16;
        assert!(judge(fast, result(HvStatus::SUCCESS, 0), &ALL).is_ok());
        assert!(judge(fast, result(HvStatus::INVALID_HYPERCALL_CODE, 0), &ALL).is_ok());
        assert!(judge(fast, result(HvStatus::INVALID_ALIGNMENT, 0), &ALL).is_err());
        // A malformed one may fail.
        assert!(
            judge(
                fast | 2 << 32,
                result(HvStatus::INVALID_HYPERCALL_INPUT, 0),
                &ALL
            )
            .is_ok()
        );
    }
}
