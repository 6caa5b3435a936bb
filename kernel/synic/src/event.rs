//! Setting an event flag in a VP's SIEF page: the work of `HvSignalEvent`
//! once the connection is resolved, which the kernel's fast path runs.
//!
//! TLFS md `inter-partition-communication.md` § Event Flag Delivery: "The
//! hypervisor responds by atomically setting a bit within the receiving
//! virtual processor's SIEF page. Virtual processors whose SynIC or SIEF
//! page is disabled will not be considered as potential targets. If no
//! targets are available, the hypervisor terminates the operation and
//! returns an error … If the event flag was previously cleared, the
//! hypervisor attempts to notify the receiving partition that the flag is
//! now set by generating an edge-triggered interrupt … If the SINTx is
//! masked, HvSignalEvent returns HV_STATUS_INVALID_SYNIC_STATE";
//! `hypercalls/HvCallSignalEvent.md` § Return Values.

use tlfs::HvStatus;
use tlfs::synic::{HV_EVENT_FLAGS_BYTE_COUNT, HV_EVENT_FLAGS_COUNT, HvSynicSint};

use crate::pages::{SynicPage, SynicPages};
use crate::registers::SynicRegisters;
use crate::sint::{Interrupt, Sint, is_unmasked, signal};

/// What setting a flag did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlagSet {
    /// The flag went from 0 to 1.
    pub newly_set: bool,
    /// The interrupt to assert: only for a flag newly set on a SINT that
    /// is neither masked nor polled.
    pub interrupt: Option<Interrupt>,
}

/// Sets flag `flag` (absolute: the port's base plus the caller's flag
/// number) of `sint` in the VP whose registers are `registers` and whose
/// pages are `pages`.
///
/// # Errors
///
/// - `HV_STATUS_INVALID_SYNIC_STATE`: SCONTROL or SIEFP disabled, or the
///   SINT masked (not in polling mode); no flag is set.
/// - `HV_STATUS_INVALID_PARAMETER`: `flag` past the 2048 flags of a SINT
///   (a port never names one; this guards the page).
pub fn set_flag(
    pages: &mut impl SynicPages,
    registers: &SynicRegisters,
    sint: Sint,
    flag: u16,
) -> Result<FlagSet, HvStatus> {
    let register = registers.sint(sint);
    check(registers.events_enabled(), register, flag)?;
    Ok(raise_flag(
        pages,
        sint,
        flag,
        signal(registers.scontrol, register).interrupt(),
    ))
}

/// The refusals of [`set_flag`], from whether SCONTROL and SIEFP are both
/// enabled, the SINT's register and the absolute flag number: shared with
/// the lock-free path (`crate::fast_signal`), which must refuse alike.
#[inline]
pub(crate) fn check(events_enabled: bool, sint: HvSynicSint, flag: u16) -> Result<(), HvStatus> {
    if !events_enabled || !is_unmasked(sint) {
        return Err(HvStatus::INVALID_SYNIC_STATE);
    }
    if usize::from(flag) >= HV_EVENT_FLAGS_COUNT {
        return Err(HvStatus::INVALID_PARAMETER);
    }
    Ok(())
}

/// Sets checked flag `flag` of `sint`; `interrupt` is what raising the
/// SINT asserts, returned only on a 0 → 1 change.
#[inline]
pub(crate) fn raise_flag(
    pages: &mut impl SynicPages,
    sint: Sint,
    flag: u16,
    interrupt: Option<Interrupt>,
) -> FlagSet {
    // Flag n is bit n % 8 of byte n / 8 (`HV_SYNIC_EVENT_FLAGS`), which on
    // a little-endian word is bit n % 64 of word n / 64.
    let word = sint.index() * HV_EVENT_FLAGS_BYTE_COUNT / 8 + usize::from(flag / 64);
    let bit = 1_u64 << (flag % 64);
    let before = pages.fetch_or(SynicPage::EventFlags, word, bit);
    let newly_set = before & bit == 0;
    FlagSet {
        newly_set,
        interrupt: if newly_set { interrupt } else { None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pages::MemoryPages;
    use tlfs::synic::{HvSynicScontrol, HvSynicSiefp, HvSynicSint};

    const S9: Sint = Sint::ALL[9];

    fn live() -> SynicRegisters {
        let mut registers = SynicRegisters {
            scontrol: HvSynicScontrol::new().with_enable(true),
            siefp: HvSynicSiefp::new().with_enable(true).with_base_gpn(0x10),
            ..SynicRegisters::default()
        };
        registers.sints[9] = HvSynicSint::new().with_vector(0xB1);
        registers
    }

    #[test]
    fn zero_to_one_raises_once() {
        let mut pages = MemoryPages::new();
        let registers = live();
        let first = set_flag(&mut pages, &registers, S9, 0x21).unwrap();
        assert!(first.newly_set);
        assert_eq!(
            first.interrupt,
            Some(Interrupt {
                vector: 0xB1,
                auto_eoi: false
            })
        );
        assert_eq!(pages.event_flags(S9).flag(0x21), Some(true));
        assert_eq!(pages.event_flags(S9).flag(0x20), Some(false));
        // Already set: no second interrupt.
        let again = set_flag(&mut pages, &registers, S9, 0x21).unwrap();
        assert_eq!((again.newly_set, again.interrupt), (false, None));
        // The guest clears it: the next signal raises again.
        assert!(pages.clear_flag(S9, 0x21));
        assert!(
            set_flag(&mut pages, &registers, S9, 0x21)
                .unwrap()
                .interrupt
                .is_some()
        );
    }

    #[test]
    fn flags_land_in_their_sint() {
        let mut pages = MemoryPages::new();
        set_flag(&mut pages, &live(), S9, 2047).unwrap();
        assert_eq!(pages.event_flags(S9).flag(2047), Some(true));
        assert_eq!(pages.event_flags(Sint::ALL[10]).flag(0), Some(false));
        assert_eq!(pages.event_flags(Sint::ALL[8]).flag(2047), Some(false));
    }

    #[test]
    fn refused_states() {
        let mut pages = MemoryPages::new();
        let mut registers = live();
        registers.siefp = HvSynicSiefp::new();
        assert_eq!(
            set_flag(&mut pages, &registers, S9, 1),
            Err(HvStatus::INVALID_SYNIC_STATE)
        );
        let mut registers = live();
        registers.scontrol = HvSynicScontrol::new();
        assert_eq!(
            set_flag(&mut pages, &registers, S9, 1),
            Err(HvStatus::INVALID_SYNIC_STATE)
        );
        let mut registers = live();
        registers.sints[9] = HvSynicSint::RESET_VALUE;
        assert_eq!(
            set_flag(&mut pages, &registers, S9, 1),
            Err(HvStatus::INVALID_SYNIC_STATE)
        );
        assert_eq!(pages.event_flags(S9).flag(1), Some(false));
        assert_eq!(
            set_flag(&mut pages, &live(), S9, 2048),
            Err(HvStatus::INVALID_PARAMETER)
        );
    }

    #[test]
    fn polling_sets_without_interrupt() {
        let mut pages = MemoryPages::new();
        let mut registers = live();
        registers.sints[9] = HvSynicSint::RESET_VALUE.with_polling(true);
        let set = set_flag(&mut pages, &registers, S9, 5).unwrap();
        assert_eq!((set.newly_set, set.interrupt), (true, None));
    }
}
