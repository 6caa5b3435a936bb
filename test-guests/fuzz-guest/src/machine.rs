//! The instructions the fuzz guest executes on purpose, each guarded: an
//! exception it raises, or a stop of the VP that the host resumes from
//! (`tessera_fuzz::guest::stopped`), comes back as `Err(Caught)`.
//!
//! Everything that needs `unsafe` is here: hypercalls (direct and through
//! the hypercall page, with XMM inputs), generated code run with every
//! general register set and read back, port and MMIO forms, the
//! exceptions it raises, and raw memory by address.
#![allow(unsafe_code)]

use core::arch::asm;
use core::sync::atomic::{AtomicU64, Ordering};

use tessera_guest_framework::exception::{RECOVERY_RIP, RECOVERY_RSP, guarded};
use tessera_guest_framework::{Caught, guarded_asm};

/// What a hypercall left in the registers the TLFS says it may change.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Returned {
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub r8: u64,
}

/// A hypercall by `vmmcall` here, with XMM0-5 loaded from `xmm` first.
pub fn vmmcall(control: u64, input: u64, output: u64, xmm: &[u64; 12]) -> Result<Returned, Caught> {
    guarded(|| {
        let mut r = Returned::default();
        // VMMCALL changes only registers declared here and, for
        // memory-form calls, guest memory at the parameter GPAs the fuzzer
        // chose (its scratch and pool pages, or memory it does not use):
        // no `nomem`. XMM0-5 are loaded from `xmm` and declared clobbered.
        // SAFETY: by the argument just above.
        unsafe {
            guarded_asm!(
                "movdqu xmm0, [{x}]",
                "movdqu xmm1, [{x} + 16]",
                "movdqu xmm2, [{x} + 32]",
                "movdqu xmm3, [{x} + 48]",
                "movdqu xmm4, [{x} + 64]",
                "movdqu xmm5, [{x} + 80]",
                "vmmcall";
                x = in(reg) xmm.as_ptr(),
                inout("rcx") control => r.rcx,
                inout("rdx") input => r.rdx,
                inout("r8") output => r.r8,
                out("rax") r.rax,
                out("xmm0") _, out("xmm1") _, out("xmm2") _,
                out("xmm3") _, out("xmm4") _, out("xmm5") _,
                options(nostack),
            );
        }
        r
    })
}

/// A hypercall through the hypercall page at `page` (a `call` to it).
pub fn via_page(page: u64, control: u64, input: u64, output: u64) -> Result<Returned, Caught> {
    guarded(|| {
        let mut r = Returned::default();
        // `page` is where the guest asked the hypervisor for its
        // hypercall page (VMMCALL; RET), identity-mapped RAM; should it
        // hold something else, the fault it raises resumes after the call
        // with the stack pointer restored. Every caller-saved register is
        // declared clobbered.
        // (The framework's macro cannot be used here: `clobber_abi` wants
        // every output in a named register, its scratch register too.)
        // SAFETY: by the argument just above.
        unsafe {
            asm!(
                "lea r11, [rip + 2f]",
                "mov qword ptr [rip + {rsp_at}], rsp",
                "mov qword ptr [rip + {rip_at}], r11",
                "call r10",
                "2:",
                "mov qword ptr [rip + {rip_at}], 0",
                rip_at = sym RECOVERY_RIP,
                rsp_at = sym RECOVERY_RSP,
                in("r10") page,
                inout("rcx") control => r.rcx,
                inout("rdx") input => r.rdx,
                inout("r8") output => r.r8,
                out("rax") r.rax,
                clobber_abi("sysv64"),
            );
        }
        r
    })
}

/// The general registers, RAX to R15 in encoding order (RSP's slot
/// unused).
pub type Gprs = [u64; 16];

static CODE_IN: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];
static CODE_OUT: [AtomicU64; 16] = [const { AtomicU64::new(0) }; 16];

/// Calls the code at `code` (ending in `ret`) with every general register
/// but RSP set from `input`; returns them as the code left them.
pub fn run_code(code: u64, input: &Gprs) -> Result<Gprs, Caught> {
    for (slot, value) in CODE_IN.iter().zip(input) {
        slot.store(*value, Ordering::Relaxed);
    }
    let outcome = guarded(|| {
        // `code` is the guest's code page, filled by the caller
        // with one instruction, `ret` and `int3` padding. RBX and RBP
        // (which the compiler may not hand out) are saved on the stack
        // first; the recovery point is armed after that, so a fault
        // resumes at 2: with them still there. Flags are restored (the
        // code may set DF). Every other register is declared clobbered.
        // SAFETY: by the argument just above.
        unsafe {
            asm!(
                "mov [rip + {code_at}], {code}",
                "pushfq",
                "push rbx",
                "push rbp",
                "lea rax, [rip + 2f]",
                "mov qword ptr [rip + {rsp_at}], rsp",
                "mov qword ptr [rip + {rip_at}], rax",
                "mov rcx, [rip + {i} + 8]",
                "mov rdx, [rip + {i} + 16]",
                "mov rbx, [rip + {i} + 24]",
                "mov rbp, [rip + {i} + 40]",
                "mov rsi, [rip + {i} + 48]",
                "mov rdi, [rip + {i} + 56]",
                "mov r8, [rip + {i} + 64]",
                "mov r9, [rip + {i} + 72]",
                "mov r10, [rip + {i} + 80]",
                "mov r11, [rip + {i} + 88]",
                "mov r12, [rip + {i} + 96]",
                "mov r13, [rip + {i} + 104]",
                "mov r14, [rip + {i} + 112]",
                "mov r15, [rip + {i} + 120]",
                "mov rax, [rip + {i}]",
                "call qword ptr [rip + {code_at}]",
                "2:",
                "mov qword ptr [rip + {rip_at}], 0",
                "mov [rip + {o}], rax",
                "mov [rip + {o} + 8], rcx",
                "mov [rip + {o} + 16], rdx",
                "mov [rip + {o} + 24], rbx",
                "mov [rip + {o} + 40], rbp",
                "mov [rip + {o} + 48], rsi",
                "mov [rip + {o} + 56], rdi",
                "mov [rip + {o} + 64], r8",
                "mov [rip + {o} + 72], r9",
                "mov [rip + {o} + 80], r10",
                "mov [rip + {o} + 88], r11",
                "mov [rip + {o} + 96], r12",
                "mov [rip + {o} + 104], r13",
                "mov [rip + {o} + 112], r14",
                "mov [rip + {o} + 120], r15",
                "pop rbp",
                "pop rbx",
                "popfq",
                code = in(reg) code,
                code_at = sym CODE_ADDRESS,
                i = sym CODE_IN,
                o = sym CODE_OUT,
                rip_at = sym RECOVERY_RIP,
                rsp_at = sym RECOVERY_RSP,
                lateout("r12") _, lateout("r13") _, lateout("r14") _, lateout("r15") _,
                clobber_abi("sysv64"),
            );
        }
    });
    outcome.map(|()| core::array::from_fn(|i| CODE_OUT[i].load(Ordering::Relaxed)))
}

static CODE_ADDRESS: AtomicU64 = AtomicU64::new(0);

/// An exception raised on purpose, and the vector it must raise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raise {
    Ud2,
    Int3,
    Icebp,
    DivideByZero,
    NonCanonicalRead,
    UnmappedRead,
    SingleStep,
    LockNop,
}

impl Raise {
    /// The vector the architecture raises (AMD64 APM vol. 2, 8.2).
    pub fn vector(self) -> u8 {
        match self {
            Self::Ud2 | Self::LockNop => 6,
            Self::Int3 => 3,
            // ICEBP is #DB on hardware (QEMU's TCG makes it #UD).
            Self::Icebp | Self::SingleStep => 1,
            Self::DivideByZero => 0,
            Self::NonCanonicalRead => 13,
            Self::UnmappedRead => 14,
        }
    }
}

/// Raises `what`; `Err` holds what was caught.
pub fn raise(what: Raise) -> Result<(), Caught> {
    guarded(|| {
        // Each instruction raises the exception named, which the
        // guard catches; none writes memory. The single step arms TF for
        // the one `nop` after `popfq` (the recovery clears TF again).
        // SAFETY: by the argument just above.
        unsafe {
            match what {
                Raise::Ud2 => guarded_asm!("ud2"; options(nostack)),
                Raise::Int3 => guarded_asm!("int3"; options(nostack)),
                Raise::Icebp => guarded_asm!(".byte 0xf1"; options(nostack)),
                Raise::LockNop => guarded_asm!(".byte 0xf0, 0x90"; options(nostack)),
                Raise::DivideByZero => guarded_asm!(
                    "xor edx, edx", "mov eax, 1", "xor ecx, ecx", "div ecx";
                    out("rax") _, out("rcx") _, out("rdx") _, options(nostack)
                ),
                Raise::NonCanonicalRead => guarded_asm!(
                    "mov rax, 0x8000000000000000", "mov rax, [rax]";
                    out("rax") _, options(nostack)
                ),
                Raise::UnmappedRead => guarded_asm!(
                    "mov rax, 0x700000000000", "mov rax, [rax]";
                    out("rax") _, options(nostack)
                ),
                Raise::SingleStep => guarded_asm!(
                    "pushfq", "or qword ptr [rsp], 0x100", "popfq", "nop", "nop";
                    options()
                ),
            }
        }
    })
}

/// Port I/O of `size` bytes (1, 2, 4); `Ok` holds RAX after an `IN`.
pub fn port(write: bool, size: u8, port: u16, value: u32, rax: u64) -> Result<u64, Caught> {
    guarded(|| {
        let mut out = rax;
        // SAFETY: port I/O changes RAX only (IN) and no memory: the
        // hypervisor answers every port (the kernel for unrouted ports).
        unsafe {
            match (write, size) {
                (false, 1) => {
                    guarded_asm!("in al, dx"; in("dx") port, inout("rax") out, options(nomem, nostack))
                }
                (false, 2) => {
                    guarded_asm!("in ax, dx"; in("dx") port, inout("rax") out, options(nomem, nostack))
                }
                (false, _) => {
                    guarded_asm!("in eax, dx"; in("dx") port, inout("rax") out, options(nomem, nostack))
                }
                (true, 1) => {
                    guarded_asm!("out dx, al"; in("dx") port, in("eax") value, options(nomem, nostack))
                }
                (true, 2) => {
                    guarded_asm!("out dx, ax"; in("dx") port, in("eax") value, options(nomem, nostack))
                }
                (true, _) => {
                    guarded_asm!("out dx, eax"; in("dx") port, in("eax") value, options(nomem, nostack))
                }
            }
        }
        out
    })
}

/// String port I/O (`rep insb`/`rep outsb`) of `count` bytes at `buffer`
/// (the guest's scratch page): the kernel sends it to the lifecycle route.
pub fn string_port(write: bool, port: u16, buffer: u64, count: u64) -> Result<(), Caught> {
    guarded(|| {
        // SAFETY: `buffer..buffer + count` is the guest's scratch page
        // (count <= 4096), which nothing else uses.
        unsafe {
            if write {
                guarded_asm!("rep outsb"; in("dx") port, inout("rsi") buffer => _, inout("rcx") count => _, options(nostack));
            } else {
                guarded_asm!("rep insb"; in("dx") port, inout("rdi") buffer => _, inout("rcx") count => _, options(nostack));
            }
        }
    })
}

/// One MMIO instruction form at `address` (in the device window).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mmio {
    Load(u8),
    Store(u8),
    StoreImmediate,
    /// `add [m], eax`: read-modify-write, which the kernel does not decode.
    Add,
    /// `movzx eax, byte [m]`.
    LoadZeroExtend,
    /// `rep movsb` from the window into the scratch page.
    String,
}

/// Executes `form` at `address` with RAX = `rax` (the value a store
/// writes); `Ok` holds RAX afterwards.
pub fn mmio(form: Mmio, address: u64, rax: u64, scratch: u64) -> Result<u64, Caught> {
    guarded(|| {
        let mut out = rax;
        // `address` is in the device window the guest mapped
        // (uncached, outside RAM): each access exits to the hypervisor,
        // and no Rust object lives there. The string form writes at most
        // 8 bytes of the scratch page.
        // SAFETY: by the argument just above.
        unsafe {
            match form {
                Mmio::Load(1) => {
                    guarded_asm!("mov al, byte ptr [{a}]"; a = in(reg) address, inout("rax") out, options(nostack))
                }
                Mmio::Load(2) => {
                    guarded_asm!("mov ax, word ptr [{a}]"; a = in(reg) address, inout("rax") out, options(nostack))
                }
                Mmio::Load(4) => {
                    guarded_asm!("mov eax, dword ptr [{a}]"; a = in(reg) address, inout("rax") out, options(nostack))
                }
                Mmio::Load(_) => {
                    guarded_asm!("mov rax, qword ptr [{a}]"; a = in(reg) address, inout("rax") out, options(nostack))
                }
                Mmio::Store(1) => {
                    guarded_asm!("mov byte ptr [{a}], al"; a = in(reg) address, in("rax") out, options(nostack))
                }
                Mmio::Store(2) => {
                    guarded_asm!("mov word ptr [{a}], ax"; a = in(reg) address, in("rax") out, options(nostack))
                }
                Mmio::Store(4) => {
                    guarded_asm!("mov dword ptr [{a}], eax"; a = in(reg) address, in("rax") out, options(nostack))
                }
                Mmio::Store(_) => {
                    guarded_asm!("mov qword ptr [{a}], rax"; a = in(reg) address, in("rax") out, options(nostack))
                }
                Mmio::StoreImmediate => {
                    guarded_asm!("mov dword ptr [{a}], 0x5a5a1234"; a = in(reg) address, options(nostack))
                }
                Mmio::Add => {
                    guarded_asm!("add dword ptr [{a}], eax"; a = in(reg) address, in("rax") out, options(nostack))
                }
                Mmio::LoadZeroExtend => {
                    guarded_asm!("movzx eax, byte ptr [{a}]"; a = in(reg) address, inout("rax") out, options(nostack))
                }
                Mmio::String => {
                    guarded_asm!("rep movsb"; inout("rsi") address => _, inout("rdi") scratch => _, inout("rcx") 8u64 => _, options(nostack))
                }
            }
        }
        out
    })
}

/// A guarded read of the word at `address` (which may be outside RAM:
/// the host resumes the guest if the read stops it).
pub fn read_guarded(address: u64) -> Result<u64, Caught> {
    guarded(|| {
        let value: u64;
        // SAFETY: a read of an address the guest mapped (RAM or a device
        // window); it changes nothing.
        unsafe {
            guarded_asm!("mov {v}, qword ptr [{a}]"; a = in(reg) address, v = out(reg) value, options(nostack, readonly))
        };
        value
    })
}

/// A guarded write of `value` at `address` (an overlay page: the
/// hypercall page must refuse it with #GP).
pub fn write_guarded(address: u64, value: u64) -> Result<(), Caught> {
    guarded(|| {
        // SAFETY: `address` is a page of the guest's overlay pool, which
        // no Rust object uses.
        unsafe {
            guarded_asm!("mov qword ptr [{a}], {v}"; a = in(reg) address, v = in(reg) value, options(nostack))
        };
    })
}

/// Plain memory the guest owns, by address (its pool, scratch and code
/// pages in free RAM).
pub fn read(address: u64) -> u64 {
    // SAFETY: `address` is 8-byte aligned RAM of the guest's own pages,
    // identity-mapped; volatile: an overlay may have replaced it.
    unsafe { core::ptr::with_exposed_provenance::<u64>(address as usize).read_volatile() }
}

pub fn write(address: u64, value: u64) {
    // SAFETY: as in `read`; no Rust object lives in those pages.
    unsafe { core::ptr::with_exposed_provenance_mut::<u64>(address as usize).write_volatile(value) }
}

pub fn write_bytes(address: u64, bytes: &[u8]) {
    for (index, byte) in bytes.iter().enumerate() {
        // SAFETY: as in `write`, one byte at a time.
        unsafe {
            core::ptr::with_exposed_provenance_mut::<u8>(address as usize + index)
                .write_volatile(*byte);
        }
    }
}
