//! The general registers a VMRUN does not load or save (RAX and RSP live in
//! the VMCB). The world switch reads and writes this structure by offset,
//! so its layout is fixed and checked.

/// General registers of a guest, except RAX and RSP.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[repr(C)]
pub struct GuestGprs {
    pub rbx: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub rbp: u64,
    pub r8: u64,
    pub r9: u64,
    pub r10: u64,
    pub r11: u64,
    pub r12: u64,
    pub r13: u64,
    pub r14: u64,
    pub r15: u64,
}

/// Offsets the world switch (`kernel/src/vm/world_switch.s`) relies on.
pub mod offsets {
    pub const RBX: usize = 0x00;
    pub const RCX: usize = 0x08;
    pub const RDX: usize = 0x10;
    pub const RSI: usize = 0x18;
    pub const RDI: usize = 0x20;
    pub const RBP: usize = 0x28;
    pub const R8: usize = 0x30;
    pub const R15: usize = 0x68;
}

const _: () = {
    use core::mem::offset_of;
    assert!(offset_of!(GuestGprs, rbx) == offsets::RBX);
    assert!(offset_of!(GuestGprs, rcx) == offsets::RCX);
    assert!(offset_of!(GuestGprs, rdx) == offsets::RDX);
    assert!(offset_of!(GuestGprs, rsi) == offsets::RSI);
    assert!(offset_of!(GuestGprs, rdi) == offsets::RDI);
    assert!(offset_of!(GuestGprs, rbp) == offsets::RBP);
    assert!(offset_of!(GuestGprs, r8) == offsets::R8);
    assert!(offset_of!(GuestGprs, r15) == offsets::R15);
    assert!(size_of::<GuestGprs>() == 14 * 8);
};

/// A general register by its x86 encoding number (0 RAX … 15 R15), the
/// order of `tessera_abi::vm::state` and of `HvX64RegisterRax..R15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GprIndex(u8);

impl GprIndex {
    pub const RAX: Self = Self(0);
    pub const RSP: Self = Self(4);

    pub const fn new(index: u8) -> Option<Self> {
        if index < 16 { Some(Self(index)) } else { None }
    }

    pub const fn get(self) -> u8 {
        self.0
    }
}

/// The register's value: RAX and RSP from the VMCB copies the caller
/// passes, the others from `gprs`.
pub fn read(gprs: &GuestGprs, rax: u64, rsp: u64, index: GprIndex) -> u64 {
    match index.0 {
        0 => rax,
        1 => gprs.rcx,
        2 => gprs.rdx,
        3 => gprs.rbx,
        4 => rsp,
        5 => gprs.rbp,
        6 => gprs.rsi,
        7 => gprs.rdi,
        8 => gprs.r8,
        9 => gprs.r9,
        10 => gprs.r10,
        11 => gprs.r11,
        12 => gprs.r12,
        13 => gprs.r13,
        14 => gprs.r14,
        _ => gprs.r15,
    }
}

/// Where a write to a general register goes.
pub fn slot(gprs: &mut GuestGprs, index: GprIndex) -> Option<&mut u64> {
    Some(match index.0 {
        1 => &mut gprs.rcx,
        2 => &mut gprs.rdx,
        3 => &mut gprs.rbx,
        5 => &mut gprs.rbp,
        6 => &mut gprs.rsi,
        7 => &mut gprs.rdi,
        8 => &mut gprs.r8,
        9 => &mut gprs.r9,
        10 => &mut gprs.r10,
        11 => &mut gprs.r11,
        12 => &mut gprs.r12,
        13 => &mut gprs.r13,
        14 => &mut gprs.r14,
        15 => &mut gprs.r15,
        // RAX and RSP are in the VMCB.
        _ => return None,
    })
}
