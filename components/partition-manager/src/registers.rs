//! The first VP's initial state ([`InitialVpState`], what the guest loader
//! computes) as `VpSetRegisters` triples in TLFS layout.
//!
//! The loader holds segment attributes in the VMCB's packed 12-bit form
//! (descriptor bits 47:40 in bits 7:0, descriptor bits 55:52 in bits 11:8);
//! `HV_X64_SEGMENT_ATTRIBUTES` keeps descriptor bits 55:52 in bits 15:12
//! and bits 11:8 reserved. [`tlfs_attributes`] moves the nibble.

use alloc::vec::Vec;

use tessera_guest_loader::{DescriptorTable, InitialVpState, Segment};
use tessera_rt::vm::Register;
use tlfs::register::HvRegisterName;
use tlfs::types::{HvX64SegmentAttributes, HvX64SegmentRegister, HvX64TableRegister};

/// VMCB-format attributes (`tessera_guest_loader::attributes`) as the TLFS
/// segment attribute word: bits 7:0 stay, bits 11:8 (AVL, L, D/B, G) move
/// to bits 15:12.
pub const fn tlfs_attributes(vmcb: u16) -> HvX64SegmentAttributes {
    HvX64SegmentAttributes::from_bits((vmcb & 0x00FF) | ((vmcb & 0x0F00) << 4))
}

/// A loader segment as `HV_X64_SEGMENT_REGISTER`.
pub const fn segment(segment: &Segment) -> HvX64SegmentRegister {
    HvX64SegmentRegister {
        base: segment.base,
        limit: segment.limit,
        selector: segment.selector,
        attributes: tlfs_attributes(segment.attributes),
    }
}

/// A loader descriptor-table register as `HV_X64_TABLE_REGISTER`.
pub const fn table(table: &DescriptorTable) -> HvX64TableRegister {
    HvX64TableRegister {
        pad: [0; 3],
        limit: table.limit,
        base: table.base,
    }
}

/// The general registers the loader leaves at zero (and the x86 reset state
/// does not: `RDX` holds the processor signature after reset).
const ZEROED: [HvRegisterName; 13] = [
    HvRegisterName::X64_RCX,
    HvRegisterName::X64_RDX,
    HvRegisterName::X64_RBP,
    HvRegisterName::X64_RDI,
    HvRegisterName::X64_R8,
    HvRegisterName::X64_R9,
    HvRegisterName::X64_R10,
    HvRegisterName::X64_R11,
    HvRegisterName::X64_R12,
    HvRegisterName::X64_R13,
    HvRegisterName::X64_R14,
    HvRegisterName::X64_R15,
    HvRegisterName::X64_CR2,
];

/// Every register of `state` as a triple: control registers and `EFER`
/// first (they decide what the segment state means), then segments and tables,
/// then the general registers, `RIP` and `RFLAGS`. `PAT`, `DR6` and `DR7`
/// are included only if they differ from their reset values (a new VP has
/// those already).
pub fn initial_registers(state: &InitialVpState) -> Vec<Register> {
    let mut registers = Vec::with_capacity(40);
    // The order a guest enters long mode in: PAE, the page tables, LME,
    // then paging (a kernel that checks each write on its own accepts it;
    // one that checks the whole set does not care).
    registers.extend([
        Register::u64(HvRegisterName::X64_CR4, state.cr4),
        Register::u64(HvRegisterName::X64_CR3, state.cr3),
        Register::u64(HvRegisterName::X64_EFER, state.efer),
        Register::u64(HvRegisterName::X64_CR0, state.cr0),
    ]);
    for (name, value, reset) in [
        (
            HvRegisterName::X64_PAT,
            state.pat,
            InitialVpState::RESET_PAT,
        ),
        (
            HvRegisterName::X64_DR6,
            state.dr6,
            InitialVpState::RESET_DR6,
        ),
        (
            HvRegisterName::X64_DR7,
            state.dr7,
            InitialVpState::RESET_DR7,
        ),
    ] {
        if value != reset {
            registers.push(Register::u64(name, value));
        }
    }
    for (name, value) in [
        (HvRegisterName::X64_CS, &state.cs),
        (HvRegisterName::X64_DS, &state.ds),
        (HvRegisterName::X64_ES, &state.es),
        (HvRegisterName::X64_FS, &state.fs),
        (HvRegisterName::X64_GS, &state.gs),
        (HvRegisterName::X64_SS, &state.ss),
        (HvRegisterName::X64_TR, &state.tr),
        (HvRegisterName::X64_LDTR, &state.ldtr),
    ] {
        registers.push(Register::segment(name, segment(value)));
    }
    registers.push(Register::table(
        HvRegisterName::X64_GDTR,
        table(&state.gdtr),
    ));
    registers.push(Register::table(
        HvRegisterName::X64_IDTR,
        table(&state.idtr),
    ));
    registers.extend([
        Register::u64(HvRegisterName::X64_RAX, state.rax),
        Register::u64(HvRegisterName::X64_RBX, state.rbx),
        Register::u64(HvRegisterName::X64_RSP, state.rsp),
        Register::u64(HvRegisterName::X64_RSI, state.rsi),
    ]);
    registers.extend(ZEROED.iter().map(|&name| Register::u64(name, 0)));
    registers.extend([
        Register::u64(HvRegisterName::X64_RIP, state.rip),
        Register::u64(HvRegisterName::X64_RFLAGS, state.rflags),
    ]);
    registers
}

/// A register's name for logs (`HvX64RegisterRip`), or its number.
pub fn register_name(name: HvRegisterName) -> RegisterNameDisplay {
    RegisterNameDisplay(name)
}

/// See [`register_name`].
#[derive(Clone, Copy, Debug)]
pub struct RegisterNameDisplay(HvRegisterName);

impl core::fmt::Display for RegisterNameDisplay {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "register {:#x}", self.0.into_bits()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use tessera_guest_loader::{GuestMemory, attributes};
    use zerocopy::IntoBytes;

    /// The triple's value as the 16 bytes of the TLFS structure.
    fn bytes(register: &Register) -> [u8; 16] {
        register.value().to_le_bytes()
    }

    fn find(registers: &[Register], name: HvRegisterName) -> Register {
        *registers
            .iter()
            .find(|register| register.name == name)
            .unwrap_or_else(|| panic!("{name:?} missing"))
    }

    #[test]
    fn attributes_move_the_flags_nibble_to_the_top() {
        // The 64-bit code segment: VMCB 0x0A9B, descriptor attribute word 0xA09B.
        let code = tlfs_attributes(Segment::CODE64_ATTRIBUTES);
        assert_eq!(code.into_bits(), 0xA09B);
        assert_eq!(code.segment_type(), 0xB);
        assert!(code.non_system_segment() && code.present() && code.long() && code.granularity());
        assert!(!code.default_big() && !code.available());
        assert_eq!(
            tlfs_attributes(Segment::DATA_ATTRIBUTES).into_bits(),
            0xC093
        );
        assert_eq!(
            tlfs_attributes(Segment::CODE32_ATTRIBUTES).into_bits(),
            0xC09B
        );
        // System segments have no flags: unchanged.
        assert_eq!(tlfs_attributes(Segment::TR_ATTRIBUTES).into_bits(), 0x008B);
        assert_eq!(
            tlfs_attributes(Segment::LDTR_ATTRIBUTES).into_bits(),
            0x0082
        );
        // Every field lands where the TLFS bitfield says.
        let all = tlfs_attributes(attributes(0x5, true, 3, true, 0b1111));
        assert_eq!(all.segment_type(), 5);
        assert_eq!(all.descriptor_privilege_level(), 3);
        assert!(all.available() && all.long() && all.default_big() && all.granularity());
    }

    #[test]
    fn segment_triples_are_hv_x64_segment_register_bytes() {
        let loader = Segment {
            selector: 0x10,
            attributes: Segment::DATA_ATTRIBUTES,
            limit: 0xFFFF_FFFF,
            base: 0x1234_5678,
        };
        let register = Register::segment(HvRegisterName::X64_SS, segment(&loader));
        let expected = HvX64SegmentRegister {
            base: 0x1234_5678,
            limit: 0xFFFF_FFFF,
            selector: 0x10,
            attributes: HvX64SegmentAttributes::from_bits(0xC093),
        };
        assert_eq!(bytes(&register), expected.as_bytes());
        assert_eq!(register.high, 0xC093_0010_FFFF_FFFF);
    }

    #[test]
    fn table_triples_are_hv_x64_table_register_bytes() {
        let gdtr = DescriptorTable {
            base: 0x0009_F000,
            limit: 23,
        };
        let register = Register::table(HvRegisterName::X64_GDTR, table(&gdtr));
        let expected = HvX64TableRegister {
            pad: [0; 3],
            limit: 23,
            base: 0x0009_F000,
        };
        assert_eq!(bytes(&register), expected.as_bytes());
    }

    /// A 2 MiB guest's ELF64 start state, from the real loader.
    fn elf_state() -> InitialVpState {
        let image = tiny_elf(0x10_0000);
        tessera_guest_loader::load_elf64(&image, GuestMemory { size: 2 << 20 })
            .expect("the tiny ELF loads")
            .vp
    }

    /// A minimal static x86-64 ELF: one PT_LOAD of 16 bytes at `address`,
    /// entered at its start.
    fn tiny_elf(address: u64) -> alloc::vec::Vec<u8> {
        let mut image = alloc::vec![0u8; 0x80];
        image[..4].copy_from_slice(b"\x7fELF");
        image[4] = 2; // 64-bit
        image[5] = 1; // little-endian
        image[6] = 1; // version
        image[16..18].copy_from_slice(&2u16.to_le_bytes()); // ET_EXEC
        image[18..20].copy_from_slice(&0x3Eu16.to_le_bytes()); // x86-64
        image[20..24].copy_from_slice(&1u32.to_le_bytes());
        image[24..32].copy_from_slice(&address.to_le_bytes()); // entry
        image[32..40].copy_from_slice(&64u64.to_le_bytes()); // phoff
        image[52..54].copy_from_slice(&64u16.to_le_bytes()); // ehsize
        image[54..56].copy_from_slice(&56u16.to_le_bytes()); // phentsize
        image[56..58].copy_from_slice(&1u16.to_le_bytes()); // phnum
        let ph = &mut image[64..120];
        ph[0..4].copy_from_slice(&1u32.to_le_bytes()); // PT_LOAD
        ph[4..8].copy_from_slice(&5u32.to_le_bytes()); // R X
        ph[8..16].copy_from_slice(&0x70u64.to_le_bytes()); // offset
        ph[16..24].copy_from_slice(&address.to_le_bytes());
        ph[24..32].copy_from_slice(&address.to_le_bytes());
        ph[32..40].copy_from_slice(&16u64.to_le_bytes());
        ph[40..48].copy_from_slice(&16u64.to_le_bytes());
        ph[48..56].copy_from_slice(&0x1000u64.to_le_bytes());
        image.resize(0x80, 0xF4); // hlt
        image
    }

    #[test]
    fn the_elf64_start_state_translates_field_by_field() {
        let state = elf_state();
        let registers = initial_registers(&state);
        assert_eq!(find(&registers, HvRegisterName::X64_RIP).low, 0x10_0000);
        assert_eq!(find(&registers, HvRegisterName::X64_RSP).low, state.rsp);
        assert_eq!(find(&registers, HvRegisterName::X64_RFLAGS).low, 0x2);
        assert_eq!(find(&registers, HvRegisterName::X64_CR0).low, state.cr0);
        assert_eq!(find(&registers, HvRegisterName::X64_CR3).low, state.cr3);
        assert_eq!(find(&registers, HvRegisterName::X64_CR4).low, state.cr4);
        assert_eq!(find(&registers, HvRegisterName::X64_EFER).low, state.efer);
        let cs = find(&registers, HvRegisterName::X64_CS).as_segment();
        assert_eq!(cs.selector, 0x08);
        assert!(cs.attributes.long());
        assert_eq!(cs.attributes.into_bits(), 0xA09B);
        let gdtr = find(&registers, HvRegisterName::X64_GDTR).as_table();
        assert_eq!((gdtr.base, gdtr.limit), (state.gdtr.base, 23));
        let idtr = find(&registers, HvRegisterName::X64_IDTR).as_table();
        assert_eq!((idtr.base, idtr.limit), (0, 0));
        assert_eq!(find(&registers, HvRegisterName::X64_RDX).low, 0);
        // Reset values are not sent again.
        assert!(
            registers
                .iter()
                .all(|r| r.name != HvRegisterName::X64_PAT && r.name != HvRegisterName::X64_DR7)
        );
        // Every name appears once, and one call carries them all.
        for (index, register) in registers.iter().enumerate() {
            assert!(
                registers[..index].iter().all(|r| r.name != register.name),
                "{:?} twice",
                register.name
            );
        }
        assert!(registers.len() <= tessera_abi::vm::MAX_REGISTER_TRIPLES);
    }

    #[test]
    fn multiboot_state_keeps_eax_and_ebx() {
        let mut state = elf_state();
        state.rax = 0x2BAD_B002;
        state.rbx = 0x9000;
        state.pat = 0;
        let registers = initial_registers(&state);
        assert_eq!(find(&registers, HvRegisterName::X64_RAX).low, 0x2BAD_B002);
        assert_eq!(find(&registers, HvRegisterName::X64_RBX).low, 0x9000);
        assert_eq!(find(&registers, HvRegisterName::X64_PAT).low, 0);
    }

    #[test]
    fn linux_state_carries_the_zero_page_in_rsi() {
        let mut state = elf_state();
        state.rsi = 0x3000;
        let registers = initial_registers(&state);
        assert_eq!(find(&registers, HvRegisterName::X64_RSI).low, 0x3000);
        assert_eq!(find(&registers, HvRegisterName::X64_RDI).low, 0);
    }

    #[test]
    fn register_names_print_as_the_tlfs_names() {
        assert_eq!(
            format!("{}", register_name(HvRegisterName::X64_RIP)),
            "HvX64RegisterRip"
        );
        assert_eq!(
            format!("{}", register_name(HvRegisterName::from_bits(0x7777_7777))),
            "register 0x77777777"
        );
    }
}
