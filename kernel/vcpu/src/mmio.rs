//! Memory-mapped I/O: what the instruction that touched a GPA no mapping
//! allows wants to do, so a component can emulate the device and the kernel
//! can complete the instruction.
//!
//! QEMU's TCG offers no decode assists (`svm-on-qemu.md`), so the kernel
//! fetches the instruction bytes itself and decodes them with `iced-x86`.
//! Only the MOV forms device drivers use for registers are emulated: a
//! load into a general register (MOV, MOVZX), a store from one or of an
//! immediate. Anything else is reported undecoded and the handler stops
//! the VP — an honest refusal rather than a wrong emulation.
use iced_x86::{Code, Decoder, DecoderOptions, Instruction, OpKind, Register};

use crate::gprs::{self, GprIndex, GuestGprs};

/// A decoded memory access.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access {
    /// The instruction's length in bytes (RIP advances by this much).
    pub length: u8,
    /// The size of the memory access in bytes: 1, 2, 4 or 8.
    pub size: u8,
    pub op: Op,
}

/// What the access does with a register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// Memory into `dest`, a register of `dest_size` bytes; `high_byte`
    /// for AH/CH/DH/BH; `zero_extend` for MOVZX (the value fills `dest`
    /// zero-extended from the access size).
    Load {
        dest: GprIndex,
        dest_size: u8,
        high_byte: bool,
        zero_extend: bool,
    },
    /// `value` into memory.
    Store { value: u64 },
}

/// A general register as (index, size in bytes, high byte).
fn gpr(register: Register) -> Option<(GprIndex, u8, bool)> {
    use Register as R;
    let (index, size, high) = match register {
        R::AL => (0, 1, false),
        R::CL => (1, 1, false),
        R::DL => (2, 1, false),
        R::BL => (3, 1, false),
        R::AH => (0, 1, true),
        R::CH => (1, 1, true),
        R::DH => (2, 1, true),
        R::BH => (3, 1, true),
        R::SPL => (4, 1, false),
        R::BPL => (5, 1, false),
        R::SIL => (6, 1, false),
        R::DIL => (7, 1, false),
        r if (R::R8L as u32..=R::R15L as u32).contains(&(r as u32)) => {
            (8 + (r as u32 - R::R8L as u32) as u8, 1, false)
        }
        r if (R::AX as u32..=R::R15W as u32).contains(&(r as u32)) => {
            ((r as u32 - R::AX as u32) as u8, 2, false)
        }
        r if (R::EAX as u32..=R::R15D as u32).contains(&(r as u32)) => {
            ((r as u32 - R::EAX as u32) as u8, 4, false)
        }
        r if (R::RAX as u32..=R::R15 as u32).contains(&(r as u32)) => {
            ((r as u32 - R::RAX as u32) as u8, 8, false)
        }
        _ => return None,
    };
    Some((GprIndex::new(index)?, size, high))
}

fn read_register(gprs: &GuestGprs, rax: u64, rsp: u64, register: Register) -> Option<u64> {
    let (index, size, high) = gpr(register)?;
    let full = gprs::read(gprs, rax, rsp, index);
    Some(match (size, high) {
        (1, true) => (full >> 8) & 0xFF,
        (8, _) => full,
        _ => full & ((1u64 << (u32::from(size) * 8)) - 1),
    })
}

fn access_size(instruction: &Instruction, register_size: u8) -> u8 {
    match instruction.code() {
        Code::Movzx_r16_rm8 | Code::Movzx_r32_rm8 | Code::Movzx_r64_rm8 => 1,
        Code::Movzx_r16_rm16 | Code::Movzx_r32_rm16 | Code::Movzx_r64_rm16 => 2,
        _ => register_size,
    }
}

/// Decodes `bytes` (fetched at the guest's RIP) in a `bitness`-bit code
/// segment; `None` for anything but the MOV forms above.
pub fn decode(bytes: &[u8], bitness: u32, gprs: &GuestGprs, rax: u64, rsp: u64) -> Option<Access> {
    let mut decoder = Decoder::new(bitness, bytes, DecoderOptions::NONE);
    let instruction = decoder.decode();
    if instruction.is_invalid() || instruction.has_lock_prefix() || instruction.has_rep_prefix() {
        return None;
    }
    let length = instruction.len() as u8;
    let memory_first = instruction.op0_kind() == OpKind::Memory;
    let memory_second = instruction.op_count() == 2 && instruction.op1_kind() == OpKind::Memory;
    let code = instruction.code();
    let is_mov = matches!(
        code,
        Code::Mov_rm8_r8
            | Code::Mov_rm16_r16
            | Code::Mov_rm32_r32
            | Code::Mov_rm64_r64
            | Code::Mov_r8_rm8
            | Code::Mov_r16_rm16
            | Code::Mov_r32_rm32
            | Code::Mov_r64_rm64
            | Code::Mov_rm8_imm8
            | Code::Mov_rm16_imm16
            | Code::Mov_rm32_imm32
            | Code::Mov_rm64_imm32
    );
    let is_movzx = matches!(
        code,
        Code::Movzx_r16_rm8
            | Code::Movzx_r32_rm8
            | Code::Movzx_r64_rm8
            | Code::Movzx_r16_rm16
            | Code::Movzx_r32_rm16
            | Code::Movzx_r64_rm16
    );
    if is_movzx && memory_second {
        let (dest, dest_size, high_byte) = gpr(instruction.op0_register())?;
        return Some(Access {
            length,
            size: access_size(&instruction, dest_size),
            op: Op::Load {
                dest,
                dest_size,
                high_byte,
                zero_extend: true,
            },
        });
    }
    if !is_mov {
        return None;
    }
    if memory_second {
        let (dest, dest_size, high_byte) = gpr(instruction.op0_register())?;
        return Some(Access {
            length,
            size: dest_size,
            op: Op::Load {
                dest,
                dest_size,
                high_byte,
                zero_extend: false,
            },
        });
    }
    if !memory_first {
        return None;
    }
    let (value, size) = match instruction.op1_kind() {
        OpKind::Register => {
            let register = instruction.op1_register();
            let (_, size, _) = gpr(register)?;
            (read_register(gprs, rax, rsp, register)?, size)
        }
        OpKind::Immediate8 => (u64::from(instruction.immediate8()), 1),
        OpKind::Immediate16 => (u64::from(instruction.immediate16()), 2),
        OpKind::Immediate32 => (u64::from(instruction.immediate32()), 4),
        OpKind::Immediate32to64 => (instruction.immediate32to64() as u64, 8),
        _ => return None,
    };
    Some(Access {
        length,
        size,
        op: Op::Store { value },
    })
}

/// The destination register's new value after a load of `value` (already
/// `size` bytes wide): as the instruction would write it — 32-bit
/// destinations zero-extend into the whole register, 8- and 16-bit ones
/// keep the other bits.
pub fn load_result(op: Op, size: u8, value: u64, old: u64) -> u64 {
    let Op::Load {
        dest_size,
        high_byte,
        ..
    } = op
    else {
        return old;
    };
    let value = if size >= 8 {
        value
    } else {
        value & ((1u64 << (u32::from(size) * 8)) - 1)
    };
    match (dest_size, high_byte) {
        (1, true) => (old & !0xFF00) | ((value & 0xFF) << 8),
        (1, false) => (old & !0xFF) | (value & 0xFF),
        (2, _) => (old & !0xFFFF) | (value & 0xFFFF),
        (4, _) => value & 0xFFFF_FFFF,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gprs() -> GuestGprs {
        GuestGprs {
            rbx: 0x1111_2222_3333_4444,
            rcx: 0xAABB,
            ..GuestGprs::default()
        }
    }

    #[test]
    fn loads_name_their_destination_and_size() {
        // mov eax, [rdi]
        let access = decode(&[0x8B, 0x07], 64, &gprs(), 0, 0).unwrap();
        assert_eq!(access.length, 2);
        assert_eq!(access.size, 4);
        assert!(matches!(access.op, Op::Load { dest, dest_size: 4, .. } if dest == GprIndex::RAX));
        // mov r9, [rax+8]
        let access = decode(&[0x4C, 0x8B, 0x48, 0x08], 64, &gprs(), 0, 0).unwrap();
        assert_eq!((access.length, access.size), (4, 8));
        assert!(matches!(access.op, Op::Load { dest, .. } if dest.get() == 9));
        // mov ah, [rbx]
        let access = decode(&[0x8A, 0x23], 64, &gprs(), 0, 0).unwrap();
        assert!(matches!(
            access.op,
            Op::Load {
                high_byte: true,
                dest_size: 1,
                ..
            }
        ));
        // movzx ecx, word [rsi]
        let access = decode(&[0x0F, 0xB7, 0x0E], 64, &gprs(), 0, 0).unwrap();
        assert_eq!(access.size, 2);
        assert!(matches!(
            access.op,
            Op::Load {
                zero_extend: true,
                dest_size: 4,
                ..
            }
        ));
    }

    #[test]
    fn stores_carry_the_value() {
        // mov [rdi], ebx
        let access = decode(&[0x89, 0x1F], 64, &gprs(), 0, 0).unwrap();
        assert_eq!(access.op, Op::Store { value: 0x3333_4444 });
        assert_eq!(access.size, 4);
        // mov [rdi], ch (high byte of rcx = 0xAA)
        let access = decode(&[0x88, 0x2F], 64, &gprs(), 0, 0).unwrap();
        assert_eq!(access.op, Op::Store { value: 0xAA });
        // mov qword [rdi], -1 (imm32 sign-extended)
        let access = decode(
            &[0x48, 0xC7, 0x07, 0xFF, 0xFF, 0xFF, 0xFF],
            64,
            &gprs(),
            0,
            0,
        )
        .unwrap();
        assert_eq!((access.size, access.op), (8, Op::Store { value: u64::MAX }));
        // mov byte [rdi], 0x5A in 32-bit code
        let access = decode(&[0xC6, 0x07, 0x5A], 32, &gprs(), 0, 0).unwrap();
        assert_eq!(
            (access.length, access.size, access.op),
            (3, 1, Op::Store { value: 0x5A })
        );
    }

    #[test]
    fn other_instructions_are_not_emulated() {
        for bytes in [
            &[0x01, 0x07][..],       // add [rdi], eax
            &[0xF3, 0xA4][..],       // rep movsb
            &[0xF0, 0x87, 0x07][..], // lock xchg [rdi], eax
            &[0x8B, 0xC1][..],       // mov eax, ecx (no memory)
            &[0x0F, 0x0B][..],       // ud2
            &[][..],
            &[0x8B][..], // truncated
        ] {
            assert_eq!(decode(bytes, 64, &gprs(), 0, 0), None, "{bytes:02x?}");
        }
    }

    #[test]
    fn load_results_follow_the_register_write_rules() {
        let old = 0xFFFF_FFFF_FFFF_FFFF;
        let load = |dest_size, high_byte| Op::Load {
            dest: GprIndex::RAX,
            dest_size,
            high_byte,
            zero_extend: false,
        };
        assert_eq!(load_result(load(4, false), 4, 0x1234, old), 0x1234);
        assert_eq!(
            load_result(load(2, false), 2, 0x1234, old),
            0xFFFF_FFFF_FFFF_1234
        );
        assert_eq!(
            load_result(load(1, false), 1, 0x12, old),
            0xFFFF_FFFF_FFFF_FF12
        );
        assert_eq!(
            load_result(load(1, true), 1, 0x12, old),
            0xFFFF_FFFF_FFFF_12FF
        );
        assert_eq!(load_result(load(8, false), 8, 0x1234, old), 0x1234);
        let movzx = Op::Load {
            dest: GprIndex::RAX,
            dest_size: 4,
            high_byte: false,
            zero_extend: true,
        };
        assert_eq!(load_result(movzx, 1, 0x1FF, old), 0xFF);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// No instruction bytes make decoding panic, and whatever decodes
        /// fits in the bytes given.
        #[test]
        fn any_bytes_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..16), bitness in prop::sample::select(std::vec![16u32, 32, 64])) {
            if let Some(access) = decode(&bytes, bitness, &GuestGprs::default(), 0, 0) {
                prop_assert!(usize::from(access.length) <= bytes.len());
                prop_assert!(matches!(access.size, 1 | 2 | 4 | 8));
            }
        }
    }
}
