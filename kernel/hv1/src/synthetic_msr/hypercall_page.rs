//! The contents of the hypercall page.
//!
//! TLFS md `hypercall-interface.md` § Establishing the Hypercall Interface
//! (x86/x64); TLFS 6.0b §3.13: "invoking a hypercall simply involves a call
//! to the start of the page", and "The guest should assume the hypercall
//! page performs the equivalent of a near return (0xC3) to return to the
//! caller."
//!
//! Tessera runs on AMD SVM, so the hypervisor-specific opcode the page
//! abstracts is `VMMCALL` (`0F 01 D9`, AMD APM vol. 3). The same four bytes
//! serve both calling conventions of § Hypercall Register Conventions
//! (x86/x64): `VMMCALL` has no operands and behaves the same in 32-bit
//! protected, compatibility and 64-bit mode (the hypervisor reads EDX:EAX
//! or RCX according to the caller's mode, see
//! [`Caller`](crate::hypercall::Caller)), and `RET` (`C3`) pops a return
//! address of the current operand size — 4 bytes for a 32-bit caller, 8
//! for a 64-bit one — matching the near `CALL` that got there.
//!
//! Requirements § Hypercall Interface: "the contents of the mapped
//! hypercall code page must not change without an un-map/map transition"
//! (Windows PatchGuard checks them), so the page is the same constant for
//! every partition and every mode.

use tlfs::types::HV_PAGE_SIZE;

/// `VMMCALL` (`0F 01 D9`) followed by a near `RET` (`C3`): the code at
/// offset 0 of the hypercall page, for 64-bit and 32-bit callers alike.
pub const HYPERCALL_CODE: [u8; 4] = [0x0F, 0x01, 0xD9, 0xC3];

/// The filler after [`HYPERCALL_CODE`]: `INT3` (`CC`), so that a stray
/// jump into the rest of the page traps instead of running whatever zero
/// bytes decode to (`00 00` is `add [rax], al`).
pub const HYPERCALL_PAGE_FILL: u8 = 0xCC;

/// The code at the start of the hypercall page (the same for 64-bit and
/// 32-bit callers; see the module docs).
#[must_use]
pub const fn hypercall_page_code() -> [u8; 4] {
    HYPERCALL_CODE
}

/// The whole 4 KiB hypercall page: [`HYPERCALL_CODE`] at offset 0, then
/// [`HYPERCALL_PAGE_FILL`].
///
/// The kernel maps it as the overlay page the hypercall MSR names, readable
/// and executable but not writable: "Its contents are readable and
/// executable by the guest. Attempts to write to the hypercall page will
/// result in a protection (#GP) exception" (TLFS md § Establishing the
/// Hypercall Interface), so a nested-page write fault on it becomes #GP.
#[must_use]
pub const fn hypercall_page() -> [u8; HV_PAGE_SIZE] {
    let mut page = [HYPERCALL_PAGE_FILL; HV_PAGE_SIZE];
    let mut i = 0;
    while i < HYPERCALL_CODE.len() {
        page[i] = HYPERCALL_CODE[i];
        i += 1;
    }
    page
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_bytes() {
        // AMD APM vol. 3, VMMCALL: 0F 01 D9; RET (near): C3.
        assert_eq!(hypercall_page_code(), [0x0F, 0x01, 0xD9, 0xC3]);
        let page = hypercall_page();
        assert_eq!(page.len(), 4096);
        assert_eq!(page[..4], HYPERCALL_CODE);
        assert!(page[4..].iter().all(|&b| b == 0xCC));
        // The TLFS promises "the equivalent of a near return (0xC3)".
        assert_eq!(page[3], 0xC3);
    }
}
