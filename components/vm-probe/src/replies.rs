//! Issue 9, finding 3 (a VP gets another VP's reply): one handler — here
//! vm-probe, with `ReplyWait` — serves the exits of two VPs on two CPUs,
//! and answers each with a register value that belongs to its VP. Each
//! guest checks, after every exit, that it got its own.
//!
//! Before the fix the kernel checked a reply's message-buffer words when
//! the handler replied but copied them into the VP only when the VP's CPU
//! next ran it; by then `ReplyWait` had put the next exit message, or the
//! next reply, into the handler's buffer.

use tessera_rt::vm::Register;
use tessera_rt::vm_exit::{Exit, ExitReply};
use tlfs::register::HvRegisterName;

use crate::lab::{Lab, LabVp};
use tessera_rt::testing::Tap;

/// Exits each VP makes.
const ROUNDS: u64 = 3000;

/// The value VP `index` must find in RBX after each exit.
const fn mark(index: u64) -> u64 {
    0x5EED_0000 | index
}

/// 16-bit real mode, at `lab::CODE_GPA`: ECX exits, each followed by a
/// check that EBX holds ESI (the VP's own mark, set before it starts).
const CODE: &[u8] = &[
    0xE6, 0x99, //             0x1000: out 0x99, al: the handler sets RBX
    0x66, 0x39, 0xF3, //       0x1002: cmp ebx, esi
    0x75, 0x0A, //             0x1005: jne 0x1011
    0x66, 0x31, 0xDB, //       0x1007: xor ebx, ebx
    0x66, 0x49, //             0x100a: dec ecx
    0x75, 0xF2, //             0x100c: jnz 0x1000
    0xE6, 0x97, //             0x100e: out 0x97, al: all rounds right
    0xF4, //                   0x1010: hlt
    0xE6, 0x98, //             0x1011: out 0x98, al: EBX was not its own
    0xF4, //                   0x1013: hlt
];

pub fn run(lab: &mut Lab, tap: &mut Tap) {
    let registers = |index: u64| {
        [
            Register::u64(HvRegisterName::X64_RSI, mark(index)),
            Register::u64(HvRegisterName::X64_RCX, ROUNDS),
        ]
    };
    let (first, second) = (registers(0), registers(1));
    let vps = [
        LabVp {
            index: 0,
            cpu: 0,
            registers: &first,
        },
        LabVp {
            index: 1,
            cpu: 1,
            registers: &second,
        },
    ];
    let built = lab
        .build("replies", CODE, None, &vps)
        .and_then(|()| lab.start());
    tap.expect_ok(
        "two VPs on two CPUs start, each exiting 3000 times to vm-probe",
        built,
    );
    if built.is_ok() {
        let finished = serve(lab);
        tap.check(
            "each of the two VPs found its own RBX after every exit answered with ReplyWait",
            finished == Ok([Some(true), Some(true)]),
            format_args!("{finished:?}"),
        );
    }
    lab.tear_down();
}

/// Per VP: `Some(true)` when it finished its rounds, `Some(false)` when it
/// found another VP's value.
fn serve(lab: &Lab) -> Result<[Option<bool>; 2], tessera_rt::Error> {
    let mut finished = [None; 2];
    let mut answer = None;
    loop {
        let message = lab.next(answer.take())?;
        let vp = message.vp_index.min(1) as usize;
        let reply = match message.exit {
            Ok(Exit::IoPort { port: 0x99, .. }) => ExitReply::new()
                .set_register(HvRegisterName::X64_RBX, mark(message.vp_index))
                .advance_rip(),
            Ok(Exit::IoPort { port, .. }) => {
                finished[vp] = Some(port == 0x97);
                ExitReply::new().stop()
            }
            other => {
                log::info!("replies: VP {vp}: unexpected exit {other:?}");
                finished[vp] = Some(false);
                ExitReply::new().stop()
            }
        };
        if finished.iter().all(Option::is_some) {
            lab.answer(reply)?;
            return Ok(finished);
        }
        answer = Some(reply);
    }
}
