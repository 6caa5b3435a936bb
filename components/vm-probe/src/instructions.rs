//! Issue 9, finding 7: what the kernel does with the exits that skip an
//! instruction and with the instructions and exceptions it now always
//! intercepts, seen from a guest.
//!
//! - Prefixed forms (CPUID with an operand-size, segment or REP prefix,
//!   WRMSR with an operand-size prefix, INVD with a segment prefix) move
//!   RIP past the whole instruction; before, RIP landed inside it.
//! - RDTSCP returns the guest's own TSC_AUX (WRMSR 0xC0000103, which #GPed
//!   before), WBINVD and INVD are skipped, RDPMC raises #GP (no PMU is
//!   virtualised).
//! - A single-step #DB, now intercepted, reaches the guest's handler.
//! - MOV to CR4 takes the bits the guest's CPUID offers (OSFXSR) and
//!   raises #GP for one it hides (OSXSAVE: the kernel hides XSAVE), which
//!   the processor itself would have taken.

use tessera_rt::Error;
use tessera_rt::vm::Register;
use tessera_rt::vm_exit::{Exit, ExitReply};
use tlfs::register::HvRegisterName;

use crate::lab::{Lab, LabVp};
use tessera_rt::testing::Tap;

/// What the guest writes to TSC_AUX and expects RDTSCP to return.
const TSC_AUX: u32 = 0x5A5A;

/// 16-bit real mode at `lab::CODE_GPA` (0x1000), with the #DB handler at
/// 0x1100 and the #GP handler at 0x1120 (the IVT points there).
fn code() -> alloc::vec::Vec<u8> {
    let main: &[u8] = &[
        0x66, 0x0F, 0xA2, //                   o32 cpuid
        0x2E, 0x0F, 0xA2, //                   cs: cpuid
        0xF3, 0x66, 0x0F, 0xA2, //             rep o32 cpuid
        0x66, 0xB9, 0x03, 0x01, 0x00, 0xC0, // mov ecx, 0xC0000103 (TSC_AUX)
        0x66, 0xB8, 0x5A, 0x5A, 0x00, 0x00, // mov eax, 0x5A5A
        0x66, 0x31, 0xD2, //                   xor edx, edx
        0x66, 0x0F, 0x30, //                   o32 wrmsr
        0x66, 0x31, 0xC9, //                   xor ecx, ecx
        0x0F, 0x01, 0xF9, //                   rdtscp
        0x66, 0x89, 0xC8, //                   mov eax, ecx
        0x66, 0xE7, 0x90, //                   out 0x90, eax: TSC_AUX
        0x0F, 0x09, //                         wbinvd
        0x3E, 0x0F, 0x08, //                   ds: invd
        0x9C, //                               pushf
        0x58, //                               pop ax
        0x80, 0xCC, 0x01, //                   or ah, 1: TF
        0x50, //                               push ax
        0x9D, //                               popf
        0x90, //                               nop: then the single-step #DB
        0xE6, 0x9F, //                         out 0x9f, al (only without #DB)
        0xF4, //                               hlt
    ];
    let debug_handler: &[u8] = &[
        0xE6, 0x91, // 0x1100: out 0x91, al: #DB delivered
        0x0F, 0x33, //         rdpmc: #GP
        0xE6, 0x9F, //         out 0x9f, al (only without #GP)
        0xF4, //               hlt
    ];
    let protection_handler: &[u8] = &[
        0xE6, 0x92, // 0x1120: out 0x92, al: #GP delivered
        0xF4, //               hlt
    ];
    let mut code = alloc::vec![0xF4u8; 0x130];
    code[..main.len()].copy_from_slice(main);
    code[0x100..0x100 + debug_handler.len()].copy_from_slice(debug_handler);
    code[0x120..0x120 + protection_handler.len()].copy_from_slice(protection_handler);
    code
}

/// Builds and starts the one-VP real-mode guest `name` with `code`, a
/// stack, and the IVT `words` (GPA, word) it needs.
fn start(lab: &mut Lab, name: &str, code: &[u8], words: &[(u64, u64)]) -> Result<(), Error> {
    let registers = [Register::u64(HvRegisterName::X64_RSP, 0x7000)];
    let vps = [LabVp {
        index: 0,
        cpu: 1,
        registers: &registers,
    }];
    lab.build(name, code, None, &vps)?;
    for &(gpa, word) in words {
        lab.write(gpa, &[word]);
    }
    lab.start()
}

pub fn run(lab: &mut Lab, tap: &mut Tap) {
    // Real-mode IVT: #DB (1) → 0000:1100, #GP (13) → 0000:1120.
    let ivt = [(0x0, 0x0000_1100 << 32), (0x30, 0x0000_1120 << 32)];
    let built = start(lab, "instructions", &code(), &ivt);
    tap.expect_ok(
        "a guest of prefixed and intercepted instructions starts",
        built,
    );
    if built.is_ok() {
        let seen = serve(lab);
        tap.check(
            "prefixed CPUID, WRMSR and INVD complete, and RDTSCP returns the guest's own TSC_AUX",
            seen.as_ref().ok().and_then(|s| s.first()) == Some(&(0x90, TSC_AUX)),
            format_args!("{seen:x?}"),
        );
        tap.check(
            "a single step raises #DB in the guest's own handler, and RDPMC raises #GP there",
            seen.as_ref().ok().map(|s| &s[1..]) == Some(&[(0x91, 0), (0x92, 0)][..]),
            format_args!("{seen:x?}"),
        );
    }
    lab.tear_down();
}

/// 16-bit real mode: a CR4 bit the guest has, then one it does not; the
/// #GP handler at 0x1120.
fn cr4_code() -> alloc::vec::Vec<u8> {
    let main: &[u8] = &[
        0x66, 0xB8, 0x00, 0x02, 0x00, 0x00, // mov eax, 0x200 (OSFXSR)
        0x0F, 0x22, 0xE0, //                   mov cr4, eax
        0x0F, 0x20, 0xE0, //                   mov eax, cr4
        0x66, 0xE7, 0x90, //                   out 0x90, eax
        0x66, 0xB8, 0x00, 0x00, 0x04, 0x00, // mov eax, 0x40000 (OSXSAVE)
        0x0F, 0x22, 0xE0, //                   mov cr4, eax: #GP
        0xE6, 0x9F, //                         out 0x9f, al (only without #GP)
        0xF4, //                               hlt
    ];
    let mut code = alloc::vec![0xF4u8; 0x130];
    code[..main.len()].copy_from_slice(main);
    code[0x120..0x123].copy_from_slice(&[0xE6, 0x92, 0xF4]); // out 0x92, al; hlt
    code
}

/// The CR4 guest: OSFXSR sticks, OSXSAVE raises #GP.
pub fn run_cr4(lab: &mut Lab, tap: &mut Tap) {
    let seen =
        start(lab, "cr4", &cr4_code(), &[(0x30, 0x0000_1120 << 32)]).and_then(|()| serve(lab));
    tap.check(
        "MOV to CR4 keeps OSFXSR, which the guest's CPUID offers, and raises #GP for OSXSAVE, which it hides",
        seen == Ok(alloc::vec![(0x90, 0x200), (0x92, 0)]),
        format_args!("{seen:x?}"),
    );
    lab.tear_down();
}

/// The ports the guest wrote, with the values of port 0x90 (masked to 32
/// bits): reports on 0x90 and 0x91 go on, any other port or exit ends it.
fn serve(lab: &Lab) -> Result<alloc::vec::Vec<(u16, u32)>, Error> {
    let mut seen = alloc::vec::Vec::new();
    let mut answer = None;
    loop {
        let message = lab.next(answer.take())?;
        let Ok(Exit::IoPort { port, value, .. }) = message.exit else {
            log::info!("instructions: unexpected exit {:?}", message.exit);
            lab.answer(ExitReply::new().stop())?;
            return Ok(seen);
        };
        seen.push((port, if port == 0x90 { value } else { 0 }));
        if !matches!(port, 0x90 | 0x91) {
            lab.answer(ExitReply::new().stop())?;
            return Ok(seen);
        }
        answer = Some(ExitReply::new().advance_rip());
    }
}
