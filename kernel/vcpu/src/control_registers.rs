//! MOV to CR4, intercepted: the processor would accept any CR4 bit the
//! *host* supports, but a guest may set only what its own CPUID offers
//! (`guest_cpu`). A guest could otherwise enable, say, CR4.PKE and use
//! PKRU — a register no world switch saves — to signal to other partitions
//! on its CPU, or CR4.OSXSAVE with XSAVE hidden from it.
//!
//! Two steps: which general register the instruction writes from, and
//! whether the value is one MOV to CR4 accepts.
//!
//! - Where the CPU offers decode assists it says: EXITINFO1 bit 63 set,
//!   bits 3:0 the register (APM vol. 2 §15.33.1 "MOV CRx/DRx Intercepts").
//!   Otherwise the instruction is fetched and decoded: legacy prefixes
//!   (and REX in 64-bit code), then `0F 22 /r`, whose ModRM register field
//!   is the control register and whose r/m field the general register
//!   (the processor treats the ModRM as a register form whatever its mod
//!   bits; APM vol. 3, MOV CRn).
//! - The rules (APM vol. 2 §3.1.3, "MOV CRn", and the consistency rules of
//!   `checks`): reserved bits and bits the CPUID does not offer are #GP;
//!   setting PCIDE outside long mode, or with CR3\[11:0\] non-zero, is #GP;
//!   clearing PAE in long mode is #GP; changing LA57 in long mode is #GP.
use crate::gprs::GprIndex;
use crate::guest_cpu::GuestCpu;
use crate::instruction::MAX_LENGTH;

const CR4_PSE: u64 = 1 << 4;
const CR4_PAE: u64 = 1 << 5;
const CR4_PGE: u64 = 1 << 7;
const CR4_LA57: u64 = 1 << 12;
const CR4_PCIDE: u64 = 1 << 17;
const CR4_SMEP: u64 = 1 << 20;
const CR4_SMAP: u64 = 1 << 21;
const CR4_PKE: u64 = 1 << 22;

/// The bits whose change drops translations (APM vol. 2 §5.5.3 "TLB
/// Management"; PKE and SMAP change what cached translations allow).
const FLUSHING: u64 =
    CR4_PSE | CR4_PAE | CR4_PGE | CR4_PCIDE | CR4_SMEP | CR4_SMAP | CR4_LA57 | CR4_PKE;

/// A decoded MOV to a control register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MovToCr {
    /// The control register written.
    pub cr: u8,
    /// Where the value comes from.
    pub source: GprIndex,
    /// The instruction's length, where it was decoded from its bytes
    /// (`None` when the CPU's decode assist named the register).
    pub length: Option<u8>,
}

/// The MOV to CR`cr` behind a CR-write intercept: from the CPU's decode
/// assist where it gives one (`exit_info1` bit 63), else decoded from
/// `bytes` (fetched at CS:RIP; `long_mode` for 64-bit code). `None` if the
/// bytes are not a MOV to that register.
pub fn mov_to_cr(
    cr: u8,
    decode_assists: bool,
    exit_info1: u64,
    bytes: &[u8],
    long_mode: bool,
) -> Option<MovToCr> {
    if decode_assists && exit_info1 & (1 << 63) != 0 {
        return Some(MovToCr {
            cr,
            source: GprIndex::new((exit_info1 & 0xF) as u8)?,
            length: None,
        });
    }
    let bytes = &bytes[..bytes.len().min(MAX_LENGTH)];
    let mut rex = 0u8;
    let mut lock = false;
    let mut at = 0;
    while let Some(&byte) = bytes.get(at) {
        match byte {
            0x66 | 0x67 | 0x2E | 0x36 | 0x3E | 0x26 | 0x64 | 0x65 | 0xF2 | 0xF3 => rex = 0,
            0xF0 => {
                lock = true;
                rex = 0;
            }
            0x40..=0x4F if long_mode => rex = byte,
            _ => break,
        }
        at += 1;
    }
    if bytes.get(at..at + 2)? != [0x0F, 0x22] {
        return None;
    }
    let modrm = *bytes.get(at + 2)?;
    // LOCK MOV CR0 is AMD's alternative encoding of MOV CR8.
    let register = ((modrm >> 3) & 7) | (rex & 0b100) << 1 | if lock { 8 } else { 0 };
    if register != cr {
        return None;
    }
    Some(MovToCr {
        cr,
        source: GprIndex::new((modrm & 7) | (rex & 0b1) << 3)?,
        length: Some((at + 3) as u8),
    })
}

/// What a MOV to CR4 of `value` does, from `old` with `efer` and `cr3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cr4Write {
    /// The new CR4; `flush` when cached translations must go.
    Accept { cr4: u64, flush: bool },
    /// #GP(0).
    Fault,
}

/// MOV to CR4 for a guest whose CPUID offers `cpu`.
pub fn cr4_write(old: u64, value: u64, efer: u64, cr3: u64, cpu: &GuestCpu) -> Cr4Write {
    const EFER_LMA: u64 = 1 << 10;
    let long_mode = efer & EFER_LMA != 0;
    let refused = value & !cpu.cr4_allowed != 0
        || value & CR4_PCIDE != 0 && old & CR4_PCIDE == 0 && (!long_mode || cr3 & 0xFFF != 0)
        || long_mode && value & CR4_PAE == 0
        || long_mode && (value ^ old) & CR4_LA57 != 0;
    if refused {
        return Cr4Write::Fault;
    }
    Cr4Write::Accept {
        cr4: value,
        flush: (value ^ old) & FLUSHING != 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cpu() -> GuestCpu {
        GuestCpu {
            physical_address_bits: 48,
            cr4_allowed: 0x7FF | CR4_PCIDE | CR4_SMEP,
            efer_allowed: 0x4D01,
        }
    }

    const LMA: u64 = 1 << 10;

    /// Issue 12 item 4: the register from the CPU's decode assist, as a
    /// CPU with decode assists reports a MOV CR4, R13.
    #[test]
    fn the_decode_assist_names_the_register() {
        let exit_info1 = 1 << 63 | 13;
        assert_eq!(
            mov_to_cr(4, true, exit_info1, &[], true),
            Some(MovToCr {
                cr: 4,
                source: GprIndex::new(13).unwrap(),
                length: None
            })
        );
        // Without the feature bit 63 means nothing: the bytes decide.
        assert_eq!(mov_to_cr(4, false, exit_info1, &[], true), None);
    }

    #[test]
    fn bytes_decode_with_their_prefixes() {
        // mov cr4, rax
        let plain = mov_to_cr(4, false, 0, &[0x0F, 0x22, 0xE0], true).unwrap();
        assert_eq!(
            (plain.source, plain.length),
            (GprIndex::new(0).unwrap(), Some(3))
        );
        // REX.B: mov cr4, r9
        let rex = mov_to_cr(4, false, 0, &[0x41, 0x0F, 0x22, 0xE1], true).unwrap();
        assert_eq!(
            (rex.source, rex.length),
            (GprIndex::new(9).unwrap(), Some(4))
        );
        // 16-bit code: 41 is INC CX, not REX; a segment prefix counts.
        assert_eq!(
            mov_to_cr(4, false, 0, &[0x41, 0x0F, 0x22, 0xE1], false),
            None
        );
        let prefixed = mov_to_cr(4, false, 0, &[0x2E, 0x0F, 0x22, 0xE3], false).unwrap();
        assert_eq!(
            (prefixed.source, prefixed.length),
            (GprIndex::new(3).unwrap(), Some(4))
        );
        // MOV CR0 is not MOV CR4; REX.R makes CR12; LOCK makes CR8.
        assert_eq!(mov_to_cr(4, false, 0, &[0x0F, 0x22, 0xC0], true), None);
        assert_eq!(
            mov_to_cr(4, false, 0, &[0x44, 0x0F, 0x22, 0xE0], true),
            None
        );
        assert_eq!(
            mov_to_cr(8, false, 0, &[0xF0, 0x0F, 0x22, 0xC0], false).map(|m| m.cr),
            Some(8)
        );
        assert_eq!(
            mov_to_cr(4, false, 0, &[0x0F, 0x20, 0xE0], true),
            None,
            "MOV from CR4"
        );
        assert_eq!(
            mov_to_cr(4, false, 0, &[0x0F, 0x22], true),
            None,
            "cut short"
        );
    }

    #[test]
    fn cr4_takes_only_what_the_guests_cpuid_offers() {
        let old = CR4_PAE;
        assert_eq!(
            cr4_write(old, old | 1 << 18, LMA, 0, &cpu()),
            Cr4Write::Fault,
            "OSXSAVE, hidden"
        );
        assert_eq!(
            cr4_write(old, old | CR4_PKE, LMA, 0, &cpu()),
            Cr4Write::Fault
        );
        assert_eq!(
            cr4_write(old, old | 1 << 40, LMA, 0, &cpu()),
            Cr4Write::Fault
        );
        assert_eq!(
            cr4_write(old, old | CR4_SMEP, LMA, 0, &cpu()),
            Cr4Write::Accept {
                cr4: old | CR4_SMEP,
                flush: true
            }
        );
        assert_eq!(
            cr4_write(old, old | 1 << 9, LMA, 0, &cpu()),
            Cr4Write::Accept {
                cr4: old | 1 << 9,
                flush: false
            },
            "OSFXSR drops no translation"
        );
    }

    #[test]
    fn the_mode_rules_hold() {
        // PCIDE: only in long mode, only with CR3[11:0] clear.
        assert_eq!(cr4_write(0, CR4_PCIDE, 0, 0, &cpu()), Cr4Write::Fault);
        assert_eq!(
            cr4_write(CR4_PAE, CR4_PAE | CR4_PCIDE, LMA, 0x5, &cpu()),
            Cr4Write::Fault
        );
        assert!(matches!(
            cr4_write(CR4_PAE, CR4_PAE | CR4_PCIDE, LMA, 0x1000, &cpu()),
            Cr4Write::Accept { .. }
        ));
        // PAE stays in long mode; LA57 does not change there.
        assert_eq!(cr4_write(CR4_PAE, 0, LMA, 0, &cpu()), Cr4Write::Fault);
        let la57 = GuestCpu {
            cr4_allowed: cpu().cr4_allowed | CR4_LA57,
            ..cpu()
        };
        assert_eq!(
            cr4_write(CR4_PAE, CR4_PAE | CR4_LA57, LMA, 0, &la57),
            Cr4Write::Fault
        );
        assert!(matches!(
            cr4_write(0, CR4_LA57, 0, 0, &la57),
            Cr4Write::Accept { .. }
        ));
    }

    mod against_iced {
        use super::*;
        use iced_x86::{Decoder, DecoderOptions, Mnemonic, Register};
        use proptest::prelude::*;
        use std::vec;

        fn prefix() -> impl Strategy<Value = u8> {
            prop_oneof![
                proptest::sample::select(vec![0x66u8, 0x67, 0x2E, 0x3E, 0x64, 0xF2, 0xF3, 0xF0]),
                0x40u8..=0x4F,
            ]
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2048))]

            /// Wherever iced-x86 decodes a MOV to CR4, the decoder finds the
            /// same source register and length; where it decodes none, no
            /// MOV to CR4 is found.
            #[test]
            fn mov_to_cr4_agrees_with_iced(
                prefixes in proptest::collection::vec(prefix(), 0..4),
                modrm in any::<u8>(),
                bits in proptest::sample::select(vec![16u32, 32, 64]),
            ) {
                let mut bytes = prefixes.clone();
                bytes.extend_from_slice(&[0x0F, 0x22, modrm]);
                let instruction = Decoder::new(bits, &bytes, DecoderOptions::NONE).decode();
                let ours = mov_to_cr(4, false, 0, &bytes, bits == 64);
                let iced_cr4 = !instruction.is_invalid()
                    && instruction.mnemonic() == Mnemonic::Mov
                    && instruction.op0_register() == Register::CR4;
                if iced_cr4 {
                    let gpr = instruction.op1_register() as u32;
                    let index = if (Register::RAX as u32..=Register::R15 as u32).contains(&gpr) {
                        gpr - Register::RAX as u32
                    } else {
                        gpr - Register::EAX as u32
                    };
                    prop_assert_eq!(ours.map(|m| m.source), GprIndex::new(index as u8));
                    prop_assert_eq!(ours.and_then(|m| m.length), Some(instruction.len() as u8));
                } else if !instruction.is_invalid() {
                    prop_assert_eq!(ours, None);
                }
            }
        }
    }
}
