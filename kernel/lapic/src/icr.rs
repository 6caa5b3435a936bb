//! The interrupt command register: from an ICR write to the IPI it sends.
//!
//! Intel SDM Vol. 3A §10.6.1 "Interrupt Command Register (ICR)" (Figure
//! 10-12, Table 10-3 "Valid Combinations for the Pentium 4 and Intel Xeon
//! Processors' Local xAPIC Interrupt Command Register"), §10.12.9 "ICR
//! Operation in x2APIC Mode".

use crate::destination::{Destination, DestinationMode, IdWidth};
use crate::message::{DeliveryMode, Message, Target, Trigger};

/// ICR bits software may write in xAPIC mode (low half): vector 7:0,
/// delivery mode 10:8, destination mode 11, level 14, trigger mode 15,
/// shorthand 19:18. Bit 12 (delivery status) is read-only and always reads
/// idle: Tessera delivers an IPI before the ICR write completes.
pub const XAPIC_ICR_LOW_WRITABLE: u32 = 0x000C_CFFF;
/// ICR high half in xAPIC mode: destination bits 31:24.
pub const XAPIC_ICR_HIGH_WRITABLE: u32 = 0xFF00_0000;
/// Bits of the 64-bit x2APIC ICR whose non-zero write is #GP: 31:20,
/// 17:16, 13 and 12 (SDM Figure 10-28 leaves delivery status out of the
/// x2APIC ICR; AMD processors require it zero, and so does Tessera).
pub const X2APIC_ICR_RESERVED: u64 = 0xFFF0_0000 | 0x3_0000 | 1 << 13 | 1 << 12;

/// Why an ICR write sends nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Unsent {
    /// Fixed or lowest priority with a vector below 16: the sender sets
    /// ESR bit 5, "Send Illegal Vector" (SDM §10.5.3). **Choice:** the IPI
    /// is not sent (the SDM leaves it open; AMD documents the error bit
    /// only).
    IllegalVector,
    /// INIT level de-assert (INIT, level 0, trigger level): "Not
    /// supported in the Pentium 4 and Intel Xeon processors" (SDM
    /// §10.6.1), nor in x2APIC mode; ignored.
    InitDeassert,
    /// Level-triggered with the level flag clear: Table 10-3 note 2,
    /// "Treated as an edge triggered if level bit is set to 1, otherwise
    /// ignored".
    LevelDeassert,
    /// SMI: no system-management mode in a VP.
    Smi,
    /// Delivery mode `011b` or `111b`: reserved in the ICR.
    ReservedMode,
}

/// What an ICR write does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IcrCommand {
    /// Send this message.
    Send(Message),
    /// Send nothing, for this reason.
    Unsent(Unsent),
}

/// Decodes the ICR value `icr` (high half = bits 63:32) written in xAPIC
/// mode (`x2apic` false: destination bits 63:56) or x2APIC mode (bits
/// 63:32).
///
/// **Choice** for Table 10-3's "invalid" combinations (lowest priority,
/// NMI, INIT or start-up with the self or all-including-self shorthand):
/// they are sent as asked, as Linux's KVM and QEMU do — Linux itself sends
/// NMIs to all-including-self — rather than silently dropped. A level
/// trigger with the level flag set is sent as edge (Table 10-3 note 2).
#[must_use]
pub fn decode(icr: u64, x2apic: bool) -> IcrCommand {
    let low = icr as u32;
    let vector = low as u8;
    let level_flag = low & 1 << 14 != 0;
    let level_trigger = low & 1 << 15 != 0;
    let Some(mode) = DeliveryMode::from_bits(low >> 8) else {
        return IcrCommand::Unsent(Unsent::ReservedMode);
    };
    match mode {
        DeliveryMode::ExtInt => return IcrCommand::Unsent(Unsent::ReservedMode),
        DeliveryMode::Smi => return IcrCommand::Unsent(Unsent::Smi),
        DeliveryMode::Init if !level_flag && level_trigger => {
            return IcrCommand::Unsent(Unsent::InitDeassert);
        }
        _ if level_trigger && !level_flag => return IcrCommand::Unsent(Unsent::LevelDeassert),
        _ if mode.uses_irr() && vector < 16 => {
            return IcrCommand::Unsent(Unsent::IllegalVector);
        }
        _ => {}
    }
    let target = match (low >> 18) & 3 {
        0 => Target::Destination(Destination {
            mode: if low & 1 << 11 != 0 {
                DestinationMode::Logical
            } else {
                DestinationMode::Physical
            },
            id: if x2apic {
                (icr >> 32) as u32
            } else {
                (icr >> 56) as u32
            },
            width: if x2apic {
                IdWidth::X2apic
            } else {
                IdWidth::Xapic
            },
        }),
        1 => Target::SelfOnly,
        2 => Target::AllIncludingSelf,
        _ => Target::AllExcludingSelf,
    };
    IcrCommand::Send(Message {
        mode,
        vector,
        trigger: Trigger::Edge,
        target,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_physical_xapic() {
        // Vector 0x40 to APIC ID 3: ICR high 0x0300_0000, low 0x4040.
        let icr = 0x0300_0000_u64 << 32 | 0x4040;
        assert_eq!(
            decode(icr, false),
            IcrCommand::Send(Message {
                mode: DeliveryMode::Fixed,
                vector: 0x40,
                trigger: Trigger::Edge,
                target: Target::Destination(Destination {
                    mode: DestinationMode::Physical,
                    id: 3,
                    width: IdWidth::Xapic
                }),
            })
        );
    }

    #[test]
    fn sipi_and_init() {
        // INIT assert, level: 0xC500; SIPI vector 0x08: 0x0608.
        let init = decode(0x0000_C500, true);
        assert!(matches!(init, IcrCommand::Send(m) if m.mode == DeliveryMode::Init));
        let sipi = decode(7_u64 << 32 | 0x0608, true);
        let IcrCommand::Send(m) = sipi else { panic!() };
        assert_eq!((m.mode, m.vector), (DeliveryMode::StartUp, 8));
        assert!(matches!(m.target, Target::Destination(d) if d.id == 7));
        // INIT de-assert: level 0, trigger level.
        assert_eq!(
            decode(0x0000_8500, false),
            IcrCommand::Unsent(Unsent::InitDeassert)
        );
    }
}
