//! Hypercalls: any code, random input values, fast (XMM) and memory
//! forms, parameters anywhere; judged against the TLFS
//! (`tessera_fuzz::hypercall`).
use tessera_fuzz::Draw;
use tessera_fuzz::guest::{HOTPLUG_GPA, stopped};
use tessera_fuzz::hypercall;
use tessera_guest_framework::guest_ports::probe;
use tlfs::hypercall::HypercallClass;
use tlfs::{HypercallCode, HypercallInputValue};

use super::{note_stop, stopped_by_host};
use crate::model::PAGE;
use crate::{BEYOND_RAM, Fuzz, machine};

/// The calls Tessera answers or forwards.
const KNOWN: [u16; 8] = [
    0x0002, 0x0003, 0x0008, 0x0013, 0x0014, 0x005C, 0x005D, 0x8001,
];

fn code(draw: &mut Draw) -> u16 {
    match draw.below(10) {
        0..=4 => draw.pick(&KNOWN),
        // Another code the TLFS defines (most below 0x100 are), or an
        // extended one.
        5 => draw.below(0x100) as u16,
        6 => 0x8000 + draw.below(8) as u16,
        _ => draw.word() as u16,
    }
}

fn input_value(draw: &mut Draw, code: u16) -> u64 {
    let call = HypercallCode(code);
    let mut value = HypercallInputValue::new()
        .with_call_code(call)
        .with_fast(draw.chance(1, 2));
    let (count, start) = match (call.class(), draw.below(10)) {
        (Some(HypercallClass::Rep), 0..=6) => {
            let count = draw.between(1, 16) as u16;
            let start = draw.below(u64::from(count)) as u16;
            (count, if draw.chance(1, 3) { start } else { 0 })
        }
        (Some(HypercallClass::Simple), 0..=7) => (0, 0),
        _ => {
            let any = [draw.below(4096) as u16, draw.below(4096) as u16];
            (
                draw.pick(&[0, 1, 2, 4095, any[0]]),
                draw.pick(&[0, 1, 4095, any[1]]),
            )
        }
    };
    value = value.with_rep_count(count).with_rep_start_index(start);
    if draw.chance(1, 6) {
        value = value.with_variable_header_size(draw.pick(&[1, 2, 3, 1023]));
    }
    if draw.chance(1, 20) {
        value = value.with_is_nested(true);
    }
    let mut bits = value.into_bits();
    if draw.chance(1, 12) {
        bits |=
            HypercallInputValue::RESERVED_MASK & (1 << draw.pick(&[27, 28, 30, 44, 47, 60, 63]));
    }
    bits
}

/// A parameter GPA: mostly the scratch page, else anywhere interesting.
fn gpa(fuzz: &Fuzz, draw: &mut Draw, page: u64) -> u64 {
    let scratch = fuzz.layout.scratch + page * PAGE;
    match draw.below(16) {
        0..=7 => scratch,
        8 => scratch + draw.pick(&[4, 8, 4088, 4092]),
        9 => fuzz.layout.pool_page(draw.below(8)),
        10 => probe::MMIO_BASE,
        11 => BEYOND_RAM + draw.below(16) * PAGE,
        12 => HOTPLUG_GPA + draw.below(16) * PAGE,
        13 => draw.pick(&[0, (1 << 40) - 8, 1 << 40, !7]),
        14 => fuzz.overlays.hypercall_page().unwrap_or(scratch),
        // Anywhere, but never the guest's own RAM outside its scratch and
        // pool pages: an output written there would hit its code or stack.
        _ => match draw.edgy() {
            gpa if gpa < fuzz.layout.ram_top && !fuzz.layout.in_pool(gpa) && gpa >= PAGE => {
                gpa + fuzz.layout.ram_top.next_power_of_two()
            }
            gpa => gpa,
        },
    }
}

/// Input parameters in the scratch page: a flush's header (address
/// space, flags, processor mask or set) and list, or random words.
fn fill_input(fuzz: &Fuzz, draw: &mut Draw) {
    let base = fuzz.layout.scratch;
    let structured = draw.chance(1, 2);
    for index in 0..64 {
        let edge = draw.edgy();
        let word = match (structured, index) {
            (true, 0) => draw.pick(&[0, 0x1000, edge & !0xFFF]),
            (true, 1) => draw.below(8) | u64::from(draw.chance(1, 8)) << draw.below(64),
            (true, 2) => draw.pick(&[0, 1, 3, u64::MAX]),
            (true, 3) => draw.pick(&[0, 1]),
            _ => edge,
        };
        machine::write(base + index * 8, word);
    }
}

pub fn one(fuzz: &mut Fuzz, draw: &mut Draw) {
    let code = code(draw);
    let control = input_value(draw, code);
    let fast = HypercallInputValue::from_bits(control).fast();
    let (input, output) = if fast {
        (draw.edgy(), draw.edgy())
    } else {
        fill_input(fuzz, draw);
        (gpa(fuzz, draw, 0), gpa(fuzz, draw, 1))
    };
    let xmm: [u64; 12] = core::array::from_fn(|_| draw.edgy());
    let page = fuzz.overlays.hypercall_page();
    let through_page =
        page.filter(|&page| fuzz.layout.in_pool(page) && fuzz.overlays.assist_page() != Some(page));
    let outcome = match through_page {
        Some(page) if draw.chance(1, 2) => machine::via_page(page, control, input, output),
        _ => machine::vmmcall(control, input, output, &xmm),
    };
    let described = |fuzz: &Fuzz| (fuzz.overlays.hypercalls_enabled(), through_page.is_some());
    match outcome {
        Ok(returned) => {
            fuzz.hypercalls += 1;
            if returned.rax & 0xFFFF == 0 {
                fuzz.successes += 1;
            }
            if let Err(violation) = hypercall::judge(control, returned.rax, &fuzz.partition) {
                fuzz.finding(format_args!(
                    "hypercall {code:#06x} (input value {control:#x}, {} form, RDX {input:#x}, R8 {output:#x}) returned {:#x} ({} reps): {}",
                    if fast { "fast" } else { "memory" },
                    violation.status.0,
                    violation.reps_completed,
                    violation.rule
                ));
            }
        }
        Err(caught) if stopped_by_host(&caught) => {
            note_stop(fuzz, &caught);
            let outside =
                !fast && (!fuzz.layout.plain_ram(input) || !fuzz.layout.plain_ram(output));
            if caught.vector != stopped::BY_EXIT || !outside {
                fuzz.finding(format_args!(
                    "hypercall {code:#06x} (input value {control:#x}, RDX {input:#x}, R8 {output:#x}) stopped the VP (message type {:#x}) with its parameters in the guest's own RAM",
                    caught.error_code.unwrap_or(0)
                ));
            }
        }
        Err(caught) if caught.vector == 6 && !described(fuzz).0 => {
            // The TLFS: a hypercall outside the hypercall interface "might
            // result in an undefined operation (#UD)".
        }
        Err(caught) => {
            let (enabled, via) = described(fuzz);
            fuzz.finding(format_args!(
                "hypercall {code:#06x} (input value {control:#x}{}) raised {caught} with the hypercall page {}",
                if via { ", through the hypercall page" } else { "" },
                if enabled { "enabled" } else { "disabled" },
            ));
            let now = crate::model::Overlays::read();
            tessera_guest_framework::println!("fuzz-guest: the MSRs: {:x?}", fuzz.overlays);
            tessera_guest_framework::println!("fuzz-guest: read now: {now:x?}");
        }
    }
}
