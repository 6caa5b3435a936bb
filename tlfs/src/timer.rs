//! Synthetic timers: the configuration registers and the timer expiration
//! message payload.
//!
//! TLFS md `timers.md`, `datatypes/hv_timer_message_payload.md`; TLFS 6.0b
//! §12.5, §12.6, §13.3. The MSR *numbers* are in [`crate::msr`].

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use crate::types::HvNano100Time;

/// Synthetic timers per virtual processor.
///
/// TLFS md `timers.md` ("Four synthetic timers per virtual processor").
pub const HV_SYNTHETIC_TIMER_COUNT: usize = 4;

/// Synthetic Timer Configuration Register (`HV_X64_MSR_STIMERx_CONFIG`).
/// Reset value 0 (disabled).
///
/// TLFS md `timers.md` § Synthetic Timer Configuration Register; TLFS 6.0b
/// §12.5 (Synthetic Timer Configuration Register).
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvStimerConfig {
    /// Enabled (bit 0).
    pub enable: bool,
    /// Periodic (bit 1): periodic rather than one-shot.
    pub periodic: bool,
    /// Lazy (bit 2).
    pub lazy: bool,
    /// AutoEnable (bit 3): writing a non-zero count enables the timer.
    pub auto_enable: bool,
    /// ApicVector (bits 11:4): the vector asserted in direct mode.
    pub apic_vector: u8,
    /// Direct Mode (bit 12): assert `apic_vector` instead of sending a
    /// message.
    pub direct_mode: bool,
    /// RsvdZ (bits 15:13).
    #[bits(3)]
    __rsvd_z0: u8,
    /// SINTx (bits 19:16): the synthetic interrupt source that receives the
    /// expiration message.
    #[bits(4)]
    pub sintx: u8,
    /// RsvdZ (bits 63:20).
    #[bits(44)]
    __rsvd_z1: u64,
}

impl HvStimerConfig {
    /// The RsvdZ bits: 15:13 and 63:20.
    pub const RESERVED_MASK: u64 = 0xFFFF_FFFF_FFF0_E000;
}

/// Synthetic Time-Unhalted Timer Configuration Register
/// (`HV_X64_MSR_STIME_UNHALTED_TIMER_CONFIG`).
///
/// TLFS md `timers.md` § Synthetic Time-Unhalted Timer Configuration
/// Register; TLFS 6.0b §12.6.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct HvStimeUnhaltedTimerConfig {
    /// Vector (bits 7:0): 2 delivers an NMI, ≥ 16 a fixed interrupt.
    pub vector: u8,
    /// Enabled (bit 8).
    pub enabled: bool,
    /// RsvdZ (bits 63:9).
    #[bits(55)]
    __rsvd_z: u64,
}

impl HvStimeUnhaltedTimerConfig {
    /// The RsvdZ bits 63:9.
    pub const RESERVED_MASK: u64 = 0xFFFF_FFFF_FFFF_FE00;
}

/// `HV_TIMER_MESSAGE_PAYLOAD`: payload of an `HvMessageTimerExpired`
/// message (24 bytes, at message offset 16).
///
/// TLFS md `datatypes/hv_timer_message_payload.md`; TLFS 6.0b §13.3 (Timer Expiration Message).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable,
)]
#[repr(C)]
pub struct HvTimerMessagePayload {
    /// `TimerIndex`: the synthetic timer (0–3) that expired.
    pub timer_index: u32,
    /// `Reserved`.
    pub reserved: u32,
    /// `ExpirationTime`: when the timer expired (reference time, 100 ns).
    pub expiration_time: HvNano100Time,
    /// `DeliveryTime`: when the message was placed in the SIM slot.
    pub delivery_time: HvNano100Time,
}

const _: () = assert!(size_of::<HvTimerMessagePayload>() == 24);
const _: () = assert!(core::mem::offset_of!(HvTimerMessagePayload, expiration_time) == 8);
const _: () = assert!(core::mem::offset_of!(HvTimerMessagePayload, delivery_time) == 16);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{HvMessage, HvMessageType};
    use zerocopy::FromZeros;

    #[test]
    fn stimer_config_fields_to_bits() {
        // Enabled, periodic, auto-enable, SINT 3:
        //   1 | 1 << 1 | 1 << 3 | 3 << 16 = 0x3000B
        let c = HvStimerConfig::new()
            .with_enable(true)
            .with_periodic(true)
            .with_auto_enable(true)
            .with_sintx(3);
        assert_eq!(c.into_bits(), 0x0000_0000_0003_000B);
        // Direct mode, vector 0xEF, lazy: 1 << 12 | 0xEF << 4 | 1 << 2.
        let c = HvStimerConfig::new()
            .with_direct_mode(true)
            .with_apic_vector(0xEF)
            .with_lazy(true);
        assert_eq!(c.into_bits(), 0x0000_0000_0000_1EF4);
    }

    #[test]
    fn stimer_config_bits_to_fields() {
        let c = HvStimerConfig::from_bits(0x0000_0000_000F_1FFF);
        assert!(c.enable() && c.periodic() && c.lazy() && c.auto_enable());
        assert_eq!(c.apic_vector(), 0xFF);
        assert!(c.direct_mode());
        assert_eq!(c.sintx(), 0xF);
        assert_eq!(c.into_bits() & HvStimerConfig::RESERVED_MASK, 0);
        // Every bit the fields don't cover is reserved.
        assert_eq!(!0x000F_1FFF_u64, HvStimerConfig::RESERVED_MASK);
    }

    #[test]
    fn unhalted_timer_config_bits() {
        let c = HvStimeUnhaltedTimerConfig::new()
            .with_vector(2)
            .with_enabled(true);
        assert_eq!(c.into_bits(), 0x102);
        assert_eq!(!0x1FF_u64, HvStimeUnhaltedTimerConfig::RESERVED_MASK);
    }

    #[test]
    fn timer_message_offsets() {
        // TLFS 6.0b §13.3 (Timer Expiration Message): TimerIndex at message offset 16, ExpirationTime
        // at 24, DeliveryTime at 32.
        let mut msg = HvMessage::new_zeroed();
        msg.header.message_type = HvMessageType::TIMER_EXPIRED;
        msg.header.payload_size = size_of::<HvTimerMessagePayload>() as u8;
        let payload = HvTimerMessagePayload {
            timer_index: 2,
            reserved: 0,
            expiration_time: 0x1111,
            delivery_time: 0x2222,
        };
        payload.write_to_prefix(msg.payload_bytes_mut()).unwrap();
        let bytes = msg.as_bytes();
        assert_eq!(bytes[16], 2);
        assert_eq!(&bytes[24..32], &0x1111_u64.to_le_bytes());
        assert_eq!(&bytes[32..40], &0x2222_u64.to_le_bytes());
        let back = HvTimerMessagePayload::read_from_prefix(msg.payload_bytes())
            .unwrap()
            .0;
        assert_eq!(back, payload);
    }
}
