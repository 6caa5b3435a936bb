//! The standard CPUID bits that describe a VP's local APIC, for the
//! kernel's CPUID policy to apply on top of what it passes through.
//!
//! Intel SDM Vol. 2A, CPUID: leaf 1 EBX\[31:24\] "Initial APIC ID", EDX\[9\]
//! "APIC", ECX\[21\] "x2APIC", ECX\[24\] "TSC-Deadline"; leaf 6 EAX\[2\]
//! "ARAT. APIC-Timer-always-running feature is supported if set"; leaf
//! 0Bh EDX "x2APIC ID of the current logical processor". AMD APM Vol. 3
//! Appendix E for the same bits. SDM Vol. 3A §10.4.3: when
//! `IA32_APIC_BASE` disables the APIC, "the CPUID feature flag for the
//! APIC ... is also set to 0".

use crate::base::ApicMode;
use crate::state::LocalApic;

/// Leaf 1 EDX bit 9.
pub const LEAF1_EDX_APIC: u32 = 1 << 9;
/// Leaf 1 ECX bit 21.
pub const LEAF1_ECX_X2APIC: u32 = 1 << 21;
/// Leaf 1 ECX bit 24.
pub const LEAF1_ECX_TSC_DEADLINE: u32 = 1 << 24;
/// Leaf 6 EAX bit 2.
pub const LEAF6_EAX_ARAT: u32 = 1 << 2;

/// `[eax, ebx, ecx, edx]` of standard leaf `leaf` as this VP's guest sees
/// it, given the values the rest of the CPUID policy produced.
///
/// - leaf 1: the initial APIC ID, APIC present only while globally
///   enabled, x2APIC and TSC-deadline as the [configuration](crate::ApicConfig)
///   offers them;
/// - leaf 6: ARAT always (a virtual APIC timer does not stop in any
///   C-state);
/// - leaf `0xB`: the x2APIC ID in EDX (left alone if the policy reports the
///   leaf empty).
#[must_use]
pub fn apply(apic: &LocalApic, leaf: u32, regs: [u32; 4]) -> [u32; 4] {
    let config = apic.config();
    let [mut eax, mut ebx, mut ecx, mut edx] = regs;
    let set = |word: &mut u32, bit: u32, on: bool| {
        if on {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    };
    match leaf {
        1 => {
            ebx = (ebx & 0x00FF_FFFF) | (config.id & 0xFF) << 24;
            set(&mut edx, LEAF1_EDX_APIC, apic.mode() != ApicMode::Disabled);
            set(&mut ecx, LEAF1_ECX_X2APIC, config.x2apic);
            set(&mut ecx, LEAF1_ECX_TSC_DEADLINE, config.tsc_deadline);
        }
        6 => eax |= LEAF6_EAX_ARAT,
        0xB if regs != [0; 4] => edx = config.id,
        _ => {}
    }
    [eax, ebx, ecx, edx]
}
