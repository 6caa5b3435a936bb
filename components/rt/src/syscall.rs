//! The `syscall` instruction, with the registers of the kernel ABI (and the
//! two other instructions components need: a deliberate fault, and reading
//! the time-stamp counter).
//!
//! This module and the entry point are the only places in Tessera's
//! components with unsafe code. Everything else calls [`raw`] or [`invoke`]
//! (or the typed wrappers built on them: [`crate::ipc`], [`crate::cap`], ...).
//!
//! | register | in | out |
//! | --- | --- | --- |
//! | `rax` | the system call number | the status (0 is success) |
//! | `rdi` | a capability selector | the badge of a received call |
//! | `rsi`, `rdx`, `r10`, `r8`, `r9`, `r12` | message words 0 to 5 | message words 0 to 5 |
//! | `r13` | the capability transfer word | the selector a capability arrived in |
//! | `r14` | message-buffer words sent | message-buffer words received |
//!
//! `rcx` and `r11` are destroyed by the instruction; the kernel preserves
//! every other register.

use tessera_abi::{CapTransfer, MESSAGE_WORDS, Syscall};

use crate::error::{Error, check};

/// The registers a system call reads and writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// `rax`: the system call number in, the status out.
    pub rax: u64,
    /// `rdi`: a capability selector in, the badge of a received call out.
    pub rdi: u64,
    /// `rsi`, `rdx`, `r10`, `r8`, `r9`, `r12`: message words 0 to 5.
    pub words: [u64; MESSAGE_WORDS],
    /// `r13`: the capability transfer word in, the received selector out.
    pub r13: u64,
    /// `r14`: message-buffer words sent in, words received out.
    pub r14: u64,
}

/// Enters the kernel with `registers` and returns what it hands back.
///
/// Any arguments are safe: the kernel reads registers only and never touches
/// component memory on a system call (ABI), so no value can make it read or
/// write memory behind the compiler's back. A number the kernel does not
/// know comes back as `InvalidSyscall`. `Exit` (and `Verdict`, on success)
/// do not return.
///
/// On the host (unit tests), there is no kernel: this panics.
#[inline(always)]
pub fn raw(registers: Registers) -> Registers {
    #[cfg(target_os = "none")]
    {
        let mut r = registers;
        #[allow(unsafe_code)]
        // the kernel's system call ABI: it reads and writes only
        // the registers declared here (inout), destroys rcx and r11
        // (declared as clobbered), preserves the stack and every other
        // register, and never accesses component memory, so memory the
        // compiler knows about is unchanged. The flags are declared
        // clobbered by default (no `preserves_flags`).
        // SAFETY: only the declared registers change, and no component memory.
        unsafe {
            core::arch::asm!(
                "syscall",
                inout("rax") r.rax,
                inout("rdi") r.rdi,
                inout("rsi") r.words[0],
                inout("rdx") r.words[1],
                inout("r10") r.words[2],
                inout("r8") r.words[3],
                inout("r9") r.words[4],
                inout("r12") r.words[5],
                inout("r13") r.r13,
                inout("r14") r.r14,
                lateout("rcx") _,
                lateout("r11") _,
                options(nostack),
            );
        }
        r
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = registers;
        panic!("system calls exist only inside a Tessera component")
    }
}

/// Makes system call `number` on `selector` with `words` and `transfer`;
/// `Ok` with the registers the kernel returned if the status is 0.
#[inline]
pub fn invoke(
    number: Syscall,
    selector: u32,
    words: [u64; MESSAGE_WORDS],
    transfer: CapTransfer,
) -> Result<Registers, Error> {
    invoke_with_buffer(number, selector, words, transfer, 0)
}

/// As [`invoke`], sending the first `buffer_words` words of the message
/// buffer along (IPC system calls only).
#[inline]
pub fn invoke_with_buffer(
    number: Syscall,
    selector: u32,
    words: [u64; MESSAGE_WORDS],
    transfer: CapTransfer,
    buffer_words: u16,
) -> Result<Registers, Error> {
    let out = raw(Registers {
        rax: number as u64,
        rdi: u64::from(selector),
        words,
        r13: transfer.to_word(),
        r14: u64::from(buffer_words),
    });
    check(out.rax).map(|()| out)
}

/// The calling thread's message buffer (ABI: one page the kernel maps at
/// `MESSAGE_BUFFER_ADDRESS` and writes only during this thread's own IPC
/// system calls).
#[cfg(target_os = "none")]
fn message_buffer() -> *mut u64 {
    tessera_abi::MESSAGE_BUFFER_ADDRESS as *mut u64
}

/// Copies `words` to the start of the message buffer.
pub(crate) fn write_message_buffer(words: &[u64]) {
    assert!(
        words.len() <= tessera_abi::MESSAGE_BUFFER_WORDS,
        "checked by the caller"
    );
    #[cfg(target_os = "none")]
    #[allow(unsafe_code)]
    // the kernel maps the buffer, one page of 512 words, for the
    // thread's whole life; at most 512 words are written; the kernel only
    // touches it inside this thread's system calls, which are not running.
    // SAFETY: the buffer page is mapped for the thread's life; at most 512 words.
    unsafe {
        core::ptr::copy_nonoverlapping(words.as_ptr(), message_buffer(), words.len());
    }
    #[cfg(not(target_os = "none"))]
    panic!("the message buffer exists only inside a Tessera component")
}

/// Hands `read` the first `count` words of the message buffer where they
/// lie (at most 512), without copying them out. `read` must make no system
/// call: the kernel writes the buffer only during this thread's own IPC
/// system calls, so while none runs the words hold still.
#[inline]
pub(crate) fn with_message_buffer<R>(count: usize, read: impl FnOnce(&[u64]) -> R) -> R {
    let count = count.min(tessera_abi::MESSAGE_BUFFER_WORDS);
    #[cfg(target_os = "none")]
    {
        // The buffer page is mapped for the thread's life and holds 512
        // words; `count` fits; the slice lives only for `read`, during which
        // this thread makes no system call, so nothing writes them.
        #[allow(unsafe_code)]
        let words = {
            // SAFETY: by the argument just above.
            unsafe { core::slice::from_raw_parts(message_buffer().cast_const(), count) }
        };
        read(words)
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (count, read);
        panic!("the message buffer exists only inside a Tessera component")
    }
}

/// Copies the first `out.len()` words of the message buffer into `out`.
pub(crate) fn read_message_buffer(out: &mut [u64]) {
    assert!(
        out.len() <= tessera_abi::MESSAGE_BUFFER_WORDS,
        "checked by the caller"
    );
    #[cfg(target_os = "none")]
    #[allow(unsafe_code)]
    // SAFETY: as for `write_message_buffer`, reading instead.
    unsafe {
        core::ptr::copy_nonoverlapping(message_buffer(), out.as_mut_ptr(), out.len());
    }
    #[cfg(not(target_os = "none"))]
    panic!("the message buffer exists only inside a Tessera component")
}

/// Writes to address 0x10 and never returns: the kernel stops the component
/// with a page fault. See [`crate::testing::crash_with_page_fault`].
pub(crate) fn write_to_page_zero() -> ! {
    #[cfg(target_os = "none")]
    {
        #[allow(unsafe_code)]
        // page 0 is never mapped in a component (the ABI maps only
        // the image, linked at 0x200000, and the stack), so the store
        // changes no memory: it faults, and the kernel stops the component.
        // The `ud2` after it is never reached; it keeps `noreturn` honest
        // should the store ever succeed.
        // SAFETY: the store faults (page 0 is never mapped) and changes nothing.
        unsafe {
            core::arch::asm!(
                "mov eax, 0x10",
                "mov qword ptr [rax], 0",
                "ud2",
                options(noreturn, nostack),
            );
        }
    }
    #[cfg(not(target_os = "none"))]
    panic!("faults exist only inside a Tessera component")
}

/// Which fault `raise_fault` raises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `ud2`.
    InvalidOpcode,
    /// An unsigned division by zero.
    DivideError,
    /// `hlt`, a privileged instruction: #GP in ring 3.
    GeneralProtection,
}

/// Raises `fault` and never returns: the kernel stops the component.
pub(crate) fn raise_fault(fault: Fault) -> ! {
    #[cfg(target_os = "none")]
    {
        #[allow(unsafe_code)]
        // each sequence faults on its last instruction before it
        // changes any memory or register the compiler relies on (eax/ecx/edx
        // are scratch here); the kernel then stops the component. The
        // trailing ud2 keeps `noreturn` honest should one not fault.
        // SAFETY: each sequence faults before it changes anything relied on.
        unsafe {
            match fault {
                Fault::InvalidOpcode => core::arch::asm!("ud2", options(noreturn, nostack)),
                Fault::DivideError => core::arch::asm!(
                    "xor ecx, ecx",
                    "xor edx, edx",
                    "mov eax, 1",
                    "div ecx",
                    "ud2",
                    options(noreturn, nostack)
                ),
                Fault::GeneralProtection => {
                    core::arch::asm!("hlt", "ud2", options(noreturn, nostack))
                }
            }
        }
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = fault;
        panic!("faults exist only inside a Tessera component")
    }
}

/// The time-stamp counter. See [`crate::time::cycles`].
#[inline(always)]
pub(crate) fn read_time_stamp_counter() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        #[allow(unsafe_code)]
        // `rdtsc` reads a counter into edx:eax and touches no
        // memory. (Were the kernel to forbid it in ring 3 with CR4.TSD, it
        // would fault and the kernel would stop the component: no undefined
        // behaviour either way.)
        // SAFETY: rdtsc touches no memory (if forbidden, it faults: no UB).
        unsafe {
            core::arch::x86_64::_rdtsc()
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    panic!("the time-stamp counter exists only on x86-64")
}

/// The boot-information page the kernel gives init (ABI: `tessera_abi::init`):
/// its words, as far as the module count says. Empty if the page is absent
/// or does not start with the magic.
#[allow(unsafe_code)]
pub(crate) fn init_boot_words() -> alloc::vec::Vec<u64> {
    use tessera_abi::init::{BOOT_INFO_ADDRESS, MAGIC, MODULE_WORDS};
    #[cfg(target_os = "none")]
    {
        let page = BOOT_INFO_ADDRESS as *const u64;
        // only init calls this (it is the only component whose
        // manifest-less start maps this page); the kernel maps the page
        // read-only for init's whole life, and the reads stay inside it.
        // SAFETY: init's boot page is mapped read-only for its life; reads stay in it.
        let (magic, count) = unsafe { (page.read(), page.add(1).read()) };
        let words = 2 + (count as usize).min(32) * MODULE_WORDS;
        if magic != MAGIC {
            return alloc::vec::Vec::new();
        }
        // SAFETY: as above; at most 2 + 32 * 6 words, well inside the page.
        unsafe { core::slice::from_raw_parts(page, words) }.to_vec()
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (BOOT_INFO_ADDRESS, MAGIC, MODULE_WORDS);
        panic!("boot modules exist only inside init")
    }
}

/// A boot module's bytes where the kernel mapped them for init.
#[allow(unsafe_code)]
pub(crate) fn init_module_bytes(address: u64, size: u64) -> &'static [u8] {
    use tessera_abi::init::{BOOT_INFO_ADDRESS, MODULES_BASE};
    let end = address
        .checked_add(size)
        .expect("module range from the kernel");
    assert!(
        address >= MODULES_BASE && end > address,
        "module outside the module area"
    );
    let _ = BOOT_INFO_ADDRESS;
    #[cfg(target_os = "none")]
    {
        // the kernel maps each module read-only, page after page,
        // at the address and size it wrote in the boot page, for init's
        // whole life; nothing writes it.
        // SAFETY: the kernel maps each module read-only there for init's life.
        unsafe { core::slice::from_raw_parts(address as *const u8, size as usize) }
    }
    #[cfg(not(target_os = "none"))]
    panic!("boot modules exist only inside init")
}

/// Reads `out.len()` words at `address`, inside the region window (checked
/// by the caller). An unmapped address faults, which stops the component.
#[allow(unsafe_code)]
pub(crate) fn read_region(address: u64, out: &mut [u64]) {
    #[cfg(target_os = "none")]
    for (index, word) in out.iter_mut().enumerate() {
        let at = (address + index as u64 * 8) as *const u64;
        // the region window holds only memory regions the component
        // mapped (no Rust object lives there), so a volatile read aliases
        // nothing; if nothing is mapped, the read faults and the kernel stops
        // the component.
        // SAFETY: the window holds no Rust object; an unmapped page just faults.
        *word = unsafe { at.read_volatile() };
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (address, out);
        panic!("memory regions exist only inside a Tessera component")
    }
}

/// Writes `words` at `address`, inside the region window (checked by the
/// caller). An unmapped or read-only address faults.
#[allow(unsafe_code)]
pub(crate) fn write_region(address: u64, words: &[u64]) {
    #[cfg(target_os = "none")]
    for (index, &word) in words.iter().enumerate() {
        let at = (address + index as u64 * 8) as *mut u64;
        // SAFETY: as for `read_region`, writing.
        unsafe { at.write_volatile(word) };
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (address, words);
        panic!("memory regions exist only inside a Tessera component")
    }
}

/// `len` bytes at `address` as a slice: a memory region that
/// [`crate::vm::map_view`] mapped there read-only, inside the region
/// window (checked by the caller), and that nothing writes while the
/// component runs.
#[allow(unsafe_code)]
pub(crate) fn region_bytes(address: u64, len: usize) -> &'static [u8] {
    #[cfg(target_os = "none")]
    {
        // `map_view` mapped a region at `address`, read-only, in the
        // region window, where no Rust object lives; a read-only mapping
        // cannot be written through, and the regions viewed so (the
        // manager data) have no writer left. The caller keeps `len` within
        // the region (the data says its own length); should it not, or
        // should the mapping go (its capability deleted), a read of an
        // unmapped page faults and the kernel stops the component.
        // SAFETY: a read-only mapping that nothing writes, `len` within it.
        unsafe { core::slice::from_raw_parts(address as *const u8, len) }
    }
    #[cfg(not(target_os = "none"))]
    {
        let _ = (address, len);
        panic!("memory regions exist only inside a Tessera component")
    }
}
