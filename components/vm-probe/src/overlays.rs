//! Issue 9, finding 1 (guest escape through overlays): a guest lays its
//! hypercall page and its VP assist page on one RAM page, then disables
//! the hypercall page; vm-probe unmaps that RAM, frees it and makes a new
//! region. The guest must go on seeing its VP assist page there — never
//! the RAM, never the frames that went back to the pool — and once the
//! assist page goes too, nothing: the read ends the VP with an
//! unmapped-GPA exit.
//!
//! Before the fix the kernel matched overlays by GPA alone: disabling the
//! hypercall page mapped the RAM page again under the still-enabled assist
//! page, and unmapping the RAM skipped that GPA, so the guest kept the
//! freed frame.

use tessera_rt::abi::page;
use tessera_rt::vm_exit::{Exit, ExitMessage, ExitReply};
use tessera_rt::{Error, cap};
use tessera_rt::{memory, slot};

use crate::lab::{LabVp, MINIMAL_HV1, SPARE_REGIONS, window};
use tessera_rt::testing::Tap;

/// The page the overlays go on.
const OVERLAID: u64 = 0x8000;
/// What vm-probe writes into that RAM page, and into the region it makes
/// after freeing it.
const RAM_MARK: u64 = 0x5AFE_0001_0BAD_F00D;
const NEW_REGION_MARK: u64 = 0x5AFE_0002_0BAD_F00D;

/// 16-bit real mode, at `lab::CODE_GPA`.
const CODE: &[u8] = &[
    0x66, 0xB9, 0x00, 0x00, 0x00, 0x40, // mov ecx, 0x40000000 (GUEST_OS_ID)
    0x66, 0xB8, 0x01, 0x00, 0x00, 0x00, // mov eax, 1
    0x66, 0x31, 0xD2, //                   xor edx, edx
    0x0F, 0x30, //                         wrmsr
    0x66, 0xB9, 0x01, 0x00, 0x00, 0x40, // mov ecx, 0x40000001 (HYPERCALL)
    0x66, 0xB8, 0x01, 0x80, 0x00, 0x00, // mov eax, 0x8001: page 0x8000, enabled
    0x0F, 0x30, //                         wrmsr
    0x66, 0xB9, 0x73, 0x00, 0x00, 0x40, // mov ecx, 0x40000073 (VP_ASSIST_PAGE)
    0x0F, 0x30, //                         wrmsr: the same page
    0x66, 0xB9, 0x01, 0x00, 0x00, 0x40, // mov ecx, 0x40000001
    0x66, 0x31, 0xC0, //                   xor eax, eax
    0x0F, 0x30, //                         wrmsr: the hypercall page off
    0x66, 0xA1, 0x00, 0x80, //             mov eax, [0x8000]
    0x66, 0xE7, 0x90, //                   out 0x90, eax
    0x66, 0xA1, 0x04, 0x80, //             mov eax, [0x8004]
    0x66, 0xE7, 0x91, //                   out 0x91, eax: vm-probe frees the RAM
    0x66, 0xA1, 0x00, 0x80, //             mov eax, [0x8000]
    0x66, 0xE7, 0x92, //                   out 0x92, eax
    0x66, 0xB8, 0xEF, 0xBE, 0xAD, 0xDE, // mov eax, 0xDEADBEEF
    0x66, 0xA3, 0x00, 0x80, //             mov [0x8000], eax
    0x66, 0xA3, 0x04, 0x80, //             mov [0x8004], eax
    0x66, 0xB9, 0x73, 0x00, 0x00, 0x40, // mov ecx, 0x40000073
    0x66, 0x31, 0xC0, //                   xor eax, eax
    0x0F, 0x30, //                         wrmsr: the assist page off
    0x66, 0xA1, 0x00, 0x80, //             mov eax, [0x8000]: nothing is there
    0x66, 0xE7, 0x93, //                   out 0x93, eax (only if the read returned)
    0xF4, //                               hlt
];

pub fn run(lab: &mut crate::lab::Lab, tap: &mut Tap) {
    let [ram, fresh] = SPARE_REGIONS;
    let built = lab
        .build(
            "overlays",
            CODE,
            Some(&MINIMAL_HV1),
            &[LabVp {
                index: 0,
                cpu: 1,
                registers: &[],
            }],
        )
        .and_then(|()| memory::create(ram, 1))
        .and_then(|()| memory::map(ram, slot::DOMAIN, window(1), page::WRITE))
        .and_then(|()| {
            memory::write(window(1), &[RAM_MARK]);
            lab.map(ram, OVERLAID)
        })
        .and_then(|()| lab.start());
    tap.expect_ok(
        "a guest with a marked RAM page at 0x8000 starts (hypercall page and VP assist page go there)",
        built,
    );
    if built.is_ok() {
        let outcome = serve(lab, ram, fresh);
        let seen = outcome.as_ref().map(|o| o.assist_page_seen);
        tap.check(
            "with the hypercall page disabled, 0x8000 shows the VP assist page (zeros), not the RAM under it",
            seen == Ok([0, 0]),
            format_args!("{seen:x?}"),
        );
        let kept = outcome.as_ref().map(|o| (o.after_free, o.new_region));
        tap.check(
            "after vm-probe unmaps and frees that RAM, 0x8000 still shows the assist page, and the guest's writes miss the new region",
            kept == Ok((0, NEW_REGION_MARK)),
            format_args!("{kept:x?}"),
        );
        let end = outcome.map(|o| o.end);
        tap.check(
            "with the assist page gone too, reading 0x8000 ends the VP with an unmapped-GPA exit",
            end == Ok(Some(OVERLAID)),
            format_args!("{end:x?}"),
        );
    }
    lab.tear_down();
}

#[derive(Debug)]
struct Outcome {
    /// The two words the guest read at 0x8000 with only the assist page on.
    assist_page_seen: [u32; 2],
    /// What it read there after the RAM was freed.
    after_free: u32,
    /// The first word of the region made after the free, at the end.
    new_region: u64,
    /// The GPA of the unmapped-GPA exit that ended the VP.
    end: Option<u64>,
}

fn serve(lab: &crate::lab::Lab, ram: u32, fresh: u32) -> Result<Outcome, Error> {
    let mut outcome = Outcome {
        assist_page_seen: [u32::MAX; 2],
        after_free: u32::MAX,
        new_region: 0,
        end: None,
    };
    let mut answer = None;
    loop {
        let message: ExitMessage = lab.next(answer.take())?;
        match message.exit {
            Ok(Exit::IoPort { port, value, .. }) => {
                match port {
                    0x90 => outcome.assist_page_seen[0] = value,
                    0x91 => {
                        outcome.assist_page_seen[1] = value;
                        lab.unmap(OVERLAID)?;
                        cap::delete(ram)?;
                        memory::create(fresh, 1)?;
                        memory::map(fresh, slot::DOMAIN, window(2), page::WRITE)?;
                        memory::write(window(2), &[NEW_REGION_MARK]);
                    }
                    0x92 => outcome.after_free = value,
                    _ => {
                        log::info!(
                            "overlays: the guest read {value:#x} at 0x8000 with nothing mapped"
                        );
                        lab.answer(ExitReply::new().stop())?;
                        break;
                    }
                }
                answer = Some(ExitReply::new().advance_rip());
            }
            Ok(Exit::Memory { gpa, unmapped, .. }) => {
                outcome.end = unmapped.then_some(gpa);
                lab.answer(ExitReply::new().stop())?;
                break;
            }
            other => {
                log::info!("overlays: unexpected exit {other:?}");
                lab.answer(ExitReply::new().stop())?;
                break;
            }
        }
    }
    let mut word = [0u64];
    memory::read(window(2), &mut word);
    outcome.new_region = word[0];
    Ok(outcome)
}
