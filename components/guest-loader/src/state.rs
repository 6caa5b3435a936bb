//! The initial register state of the first virtual processor, in the form
//! the VMCB state save area holds it.

use alloc::vec;
use alloc::vec::Vec;

/// Packs descriptor attribute bits into the VMCB's 12-bit attribute format.
///
/// The VMCB attribute word (APM Table B-2; the same layout as
/// `tessera_svm::segment::SegmentAttributes`) holds descriptor bits 47:40 in
/// bits 7:0 and descriptor bits 55:52 in bits 11:8:
///
/// | bits  | field | meaning                                        |
/// |-------|-------|------------------------------------------------|
/// | 3:0   | type  | segment type (code: bit 3; accessed: bit 0)     |
/// | 4     | S     | code/data (1) rather than system segment (0)   |
/// | 6:5   | DPL   | descriptor privilege level                     |
/// | 7     | P     | present                                        |
/// | 8     | AVL   | available to software                          |
/// | 9     | L     | 64-bit code segment                            |
/// | 10    | D/B   | default operand size 32 bits                   |
/// | 11    | G     | limit granularity 4 KiB                        |
///
/// Bits 15:12 are reserved and always zero here. `flags` is the descriptor's
/// high nibble `G | D/B | L | AVL` (bit 3 = G … bit 0 = AVL).
#[must_use]
pub const fn attributes(segment_type: u8, s: bool, dpl: u8, p: bool, flags: u8) -> u16 {
    (segment_type as u16 & 0xF)
        | ((s as u16) << 4)
        | ((dpl as u16 & 0x3) << 5)
        | ((p as u16) << 7)
        | ((flags as u16 & 0xF) << 8)
}

/// A segment register as the VMCB holds it: selector, attributes (packed,
/// see [`attributes`]), limit (already expanded by the granularity bit) and
/// base.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Segment {
    /// Selector.
    pub selector: u16,
    /// Attributes in the VMCB's packed 12-bit format ([`attributes`]).
    pub attributes: u16,
    /// Limit in bytes, expanded (`0xFFFF_FFFF` for a flat 4 GiB segment).
    pub limit: u32,
    /// Base address.
    pub base: u64,
}

impl Segment {
    /// Attributes of a 64-bit code segment: type execute/read, accessed;
    /// S, P, L, G (`0x0A9B`), matching the GDT descriptor
    /// `0x00AF_9B00_0000_FFFF`. D/B is clear: `CS.L` with `CS.D` is invalid.
    pub const CODE64_ATTRIBUTES: u16 = attributes(0xB, true, 0, true, 0b1010);
    /// Attributes of a flat 32-bit code segment: type execute/read,
    /// accessed; S, P, D/B, G (`0x0C9B`).
    pub const CODE32_ATTRIBUTES: u16 = attributes(0xB, true, 0, true, 0b1100);
    /// Attributes of a flat data segment: type read/write, accessed; S, P,
    /// D/B, G (`0x0C93`).
    pub const DATA_ATTRIBUTES: u16 = attributes(0x3, true, 0, true, 0b1100);
    /// Reset-state `TR`: present, busy 32-bit TSS (type 11) (`0x008B`), as
    /// QEMU leaves it for a Multiboot kernel.
    pub const TR_ATTRIBUTES: u16 = attributes(0xB, false, 0, true, 0);
    /// Reset-state `LDTR`: present, LDT (type 2) (`0x0082`).
    pub const LDTR_ATTRIBUTES: u16 = attributes(0x2, false, 0, true, 0);

    /// A flat (base 0, 4 GiB limit) segment.
    #[must_use]
    pub const fn flat(selector: u16, attributes: u16) -> Self {
        Self {
            selector,
            attributes,
            limit: 0xFFFF_FFFF,
            base: 0,
        }
    }

    /// The 8-byte GDT descriptor for this segment (a code or data segment:
    /// bases above 4 GiB are not representable and are truncated).
    ///
    /// The limit is stored in descriptor form: shifted right by 12 if G is
    /// set.
    #[must_use]
    pub const fn descriptor(&self) -> u64 {
        let g = self.attributes & (1 << 11) != 0;
        let limit = if g { self.limit >> 12 } else { self.limit } as u64;
        let base = self.base & 0xFFFF_FFFF;
        let attributes = self.attributes as u64;
        (limit & 0xFFFF)
            | ((base & 0xFF_FFFF) << 16)
            | ((attributes & 0xFF) << 40)
            | (((limit >> 16) & 0xF) << 48)
            | (((attributes >> 8) & 0xF) << 52)
            | ((base >> 24) << 56)
    }
}

/// A descriptor-table register (`GDTR`/`IDTR`): base and limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DescriptorTable {
    /// Base (guest-linear) address.
    pub base: u64,
    /// Limit: size in bytes minus one.
    pub limit: u16,
}

/// The first virtual processor's initial state: everything the VMCB state
/// save area needs. General-purpose registers not listed (`RCX`, `RDX`,
/// `RDI`, `RBP`, `R8`–`R15`) and `CR2` start at zero.
///
/// `efer` is the value the guest sees. The VMCB's `EFER` must additionally
/// have `SVME` (bit 12) set for `VMRUN` to accept the state; that is the
/// business of whoever writes the VMCB.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub struct InitialVpState {
    pub rip: u64,
    pub rsp: u64,
    pub rflags: u64,
    pub rax: u64,
    pub rbx: u64,
    /// `RSI`: the Linux boot protocol's zero page.
    pub rsi: u64,
    pub cr0: u64,
    pub cr3: u64,
    pub cr4: u64,
    pub efer: u64,
    /// Guest `PAT` (the VMCB's `G_PAT` when nested paging is on): the reset
    /// value.
    pub pat: u64,
    /// `DR6`: the reset value.
    pub dr6: u64,
    /// `DR7`: the reset value.
    pub dr7: u64,
    pub cs: Segment,
    pub ds: Segment,
    pub es: Segment,
    pub fs: Segment,
    pub gs: Segment,
    pub ss: Segment,
    pub tr: Segment,
    pub ldtr: Segment,
    pub gdtr: DescriptorTable,
    pub idtr: DescriptorTable,
}

impl InitialVpState {
    /// `RFLAGS` with only the always-one bit 1 set: interrupts disabled.
    pub const RFLAGS: u64 = 0x2;
    /// The reset value of `PAT`.
    pub const RESET_PAT: u64 = 0x0007_0406_0007_0406;
    /// The reset value of `DR6`.
    pub const RESET_DR6: u64 = 0xFFFF_0FF0;
    /// The reset value of `DR7`.
    pub const RESET_DR7: u64 = 0x400;

    /// A state with flat segments (`CS` = selector 0x08 with
    /// `code_attributes`, the data segments = selector 0x10), reset-state
    /// `TR`/`LDTR`, an empty `IDT` (limit 0: any exception shuts the guest
    /// down rather than running garbage) and the given GDT.
    pub(crate) fn flat(code_attributes: u16, gdt_base: u64) -> Self {
        Self::flat_with(CODE_SELECTOR, DATA_SELECTOR, code_attributes, gdt_base)
    }

    /// [`Self::flat`] with the given code and data selectors (GDT entries
    /// of the GDT at `gdt_base`, whose limit covers the higher of the two;
    /// [`gdt_bytes`] makes its bytes).
    pub(crate) fn flat_with(
        code_selector: u16,
        data_selector: u16,
        code_attributes: u16,
        gdt_base: u64,
    ) -> Self {
        let data = Segment::flat(data_selector, Segment::DATA_ATTRIBUTES);
        Self {
            rip: 0,
            rsp: 0,
            rflags: Self::RFLAGS,
            rax: 0,
            rbx: 0,
            rsi: 0,
            cr0: 0,
            cr3: 0,
            cr4: 0,
            efer: 0,
            pat: Self::RESET_PAT,
            dr6: Self::RESET_DR6,
            dr7: Self::RESET_DR7,
            cs: Segment::flat(code_selector, code_attributes),
            ds: data,
            es: data,
            fs: data,
            gs: data,
            ss: data,
            tr: Segment {
                selector: 0,
                attributes: Segment::TR_ATTRIBUTES,
                limit: 0xFFFF,
                base: 0,
            },
            ldtr: Segment {
                selector: 0,
                attributes: Segment::LDTR_ATTRIBUTES,
                limit: 0xFFFF,
                base: 0,
            },
            gdtr: DescriptorTable {
                base: gdt_base,
                limit: gdt_len(code_selector, data_selector) as u16 - 1,
            },
            idtr: DescriptorTable { base: 0, limit: 0 },
        }
    }
}

/// The code segment's selector in the GDTs the loaders build.
pub const CODE_SELECTOR: u16 = 0x08;
/// The data segments' selector in the GDTs the loaders build.
pub const DATA_SELECTOR: u16 = 0x10;
/// Size of the GDT holding descriptors at both selectors (null entries
/// below them).
const fn gdt_len(code_selector: u16, data_selector: u16) -> usize {
    let top = if code_selector > data_selector {
        code_selector
    } else {
        data_selector
    };
    (top & !7) as usize + 8
}

/// The bytes of a GDT matching `state`'s `CS` and `SS` (each descriptor at
/// its selector, zeros elsewhere), as long as `state.gdtr` says.
pub(crate) fn gdt_bytes(state: &InitialVpState) -> Vec<u8> {
    let mut gdt = vec![0; gdt_len(state.cs.selector, state.ss.selector)];
    for segment in [state.cs, state.ss] {
        let at = usize::from(segment.selector & !7);
        gdt[at..at + 8].copy_from_slice(&segment.descriptor().to_le_bytes());
    }
    gdt
}
