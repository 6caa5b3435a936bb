//! Issue 9, finding 5: `VpSetRegisters` took CR3 bits above MAXPHYADDR and
//! CR4 bits the guest's CPUID does not offer, `VpStart` started the VP,
//! VMRUN refused it with VMEXIT_INVALID, and the lifecycle message and
//! `VpGetRegisters` then carried the host's RIP, RSP, CR3, GDTR and IDTR.
//! Now `VpStart` refuses every such state, judged against the guest's
//! CPUID; and a VP that did run gives back its own state.
//!
//! The guest's CPUID is the host's with some features hidden; UMIP and
//! MAXPHYADDR pass through, so vm-probe reads them from its own CPUID.

use alloc::string::String;
use alloc::vec::Vec;
use tessera_rt::vm::{self, Register};
use tessera_rt::vm_exit::{Exit, ExitReply};

use tessera_rt::Status;
use tlfs::register::HvRegisterName as Name;

use crate::lab::{CODE_GPA, Lab, LabVp};
use tessera_rt::testing::Tap;

/// 16-bit real mode: one exit, then nothing.
const CODE: &[u8] = &[
    0xE6, 0x90, // out 0x90, al
    0xF4, //       hlt
];

/// The real-mode state the scenario returns to, with table registers and a
/// CR3 of its own that VpGetRegisters must give back.
const CR3: u64 = 0x0012_3000;
const GDT_BASE: u64 = 0x5000;
const IDT_BASE: u64 = 0x6000;

fn good() -> [Register; 7] {
    [
        Register::u64(Name::X64_CR0, 0x10),
        Register::u64(Name::X64_CR3, CR3),
        Register::u64(Name::X64_CR4, 0),
        Register::u64(Name::X64_EFER, 0),
        Register::u64(Name::X64_RFLAGS, 0x2),
        Register {
            name: Name::X64_GDTR,
            low: 0x27 << 48,
            high: GDT_BASE,
        },
        Register {
            name: Name::X64_IDTR,
            low: 0x3FF << 48,
            high: IDT_BASE,
        },
    ]
}

/// A 64-bit state (no page tables: it never runs) with `cr3`, `cr4` and
/// `rflags`.
fn long_mode(cr3: u64, cr4: u64, rflags: u64) -> Vec<Register> {
    /// Present, code, readable, accessed; L (TLFS attribute bit 13).
    const CODE64: u64 = 0x9B | 1 << 13;
    alloc::vec![
        Register::u64(Name::X64_CR0, 1 << 31 | 1 << 4 | 1),
        Register::u64(Name::X64_CR4, cr4 | 1 << 5),
        Register::u64(Name::X64_EFER, 1 << 8 | 1 << 10),
        Register::u64(Name::X64_CR3, cr3),
        Register::u64(Name::X64_RFLAGS, rflags),
        Register {
            name: Name::X64_CS,
            low: 0,
            high: CODE64 << 48,
        },
    ]
}

pub fn run(lab: &mut Lab, tap: &mut Tap) {
    let vps = [LabVp {
        index: 0,
        cpu: 1,
        registers: &good(),
    }];
    let built = lab.build("states", CODE, None, &vps);
    tap.expect_ok("a guest for the state checks is made", built);
    if built.is_ok() {
        refused_states(lab, tap);
        own_state_back(lab, tap);
    }
    lab.tear_down();
}

fn refused_states(lab: &Lab, tap: &mut Tap) {
    let vp = lab.vp(0);
    let host = raw_cpuid::native_cpuid::cpuid_count(0x8000_0008, 0);
    let maxphyaddr = u64::from(host.eax & 0xFF);
    let umip = raw_cpuid::native_cpuid::cpuid_count(7, 0).ecx & 1 << 2 != 0;
    // LA57 is hidden from every guest; UMIP where the CPU lacks it.
    let (absent, absent_name) = if umip {
        (1 << 12, "LA57")
    } else {
        (1 << 11, "UMIP")
    };
    let cases: [(String, Vec<Register>); 4] = [
        (
            alloc::format!("CR3 with bit {maxphyaddr} set (MAXPHYADDR) in long mode"),
            long_mode(1 << maxphyaddr, 0, 0x2),
        ),
        (
            alloc::format!("CR4.{absent_name}, which the guest's CPUID does not offer"),
            alloc::vec![Register::u64(Name::X64_CR4, absent)],
        ),
        (
            "CR4.PCIDE outside long mode".into(),
            alloc::vec![Register::u64(Name::X64_CR4, 1 << 17)],
        ),
        (
            "RFLAGS.VM in long mode".into(),
            long_mode(0x1000, 0, 0x2 | 1 << 17),
        ),
    ];
    for (what, registers) in cases {
        let result = vm::vp_set_registers(vp, &registers)
            .map_err(|e| e.error)
            .and_then(|()| vm::vp_start(vp));
        let started = result.is_ok();
        tap.expect(
            &alloc::format!("VpStart of a VP given {what} fails with InvalidArgument"),
            result,
            Status::InvalidArgument,
        );
        if started {
            // The old kernel ran it: VMRUN refused it. Hear the VP out and
            // let it stop before the next case.
            let _ = lab.next(None).and_then(|message| {
                log::info!("states: the refused state ran: {:?}", message.exit);
                lab.answer(ExitReply::new().stop())
            });
            wait_stopped(vp);
        }
        let _ = vm::vp_set_registers(vp, &good());
    }
}

/// Runs the VP once in the good state and stops it at its first exit:
/// `VpGetRegisters` must give the guest's RIP, CR3 and tables.
fn own_state_back(lab: &Lab, tap: &mut Tap) {
    let vp = lab.vp(0);
    let ran = vm::vp_set_registers(vp, &good())
        .map_err(|e| e.error)
        .and_then(|()| vm::vp_start(vp))
        .and_then(|()| lab.next(None))
        .and_then(|message| {
            let exited = matches!(message.exit, Ok(Exit::IoPort { port: 0x90, .. }));
            lab.answer(ExitReply::new().stop())?;
            Ok(exited)
        });
    wait_stopped(vp);
    let mut read = [
        Register::named(Name::X64_RIP),
        Register::named(Name::X64_CR3),
        Register::named(Name::X64_GDTR),
        Register::named(Name::X64_IDTR),
    ];
    let state = ran.and_then(|exited| {
        vm::vp_get_registers(vp, &mut read).map_err(|e| e.error)?;
        Ok((
            exited,
            read.map(|r| if r.high != 0 { r.high } else { r.low }),
        ))
    });
    tap.check(
        "a VP stopped at its first exit reads back its own RIP, CR3, GDTR and IDTR",
        state == Ok((true, [CODE_GPA, CR3, GDT_BASE, IDT_BASE])),
        format_args!("{state:x?}"),
    );
}

/// A VP stops when its CPU takes the STOP reply; until then register
/// calls answer VpRunning.
fn wait_stopped(vp: u32) {
    let mut probe = [Register::named(Name::X64_RIP)];
    for _ in 0..10_000 {
        match vm::vp_get_registers(vp, &mut probe) {
            Err(e) if e.error == Status::VpRunning => tessera_rt::yield_now(),
            _ => return,
        }
    }
}
