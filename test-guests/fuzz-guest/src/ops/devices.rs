//! Ports, MMIO, the overlay pages themselves, memory beyond RAM, and the
//! host's hot-plug region and audit.
use tessera_fuzz::Draw;
use tessera_fuzz::guest::{self, HOTPLUG_GPA, HOTPLUG_PAGES, command, stopped};
use tessera_guest_framework::guest_ports::{self, probe};

use super::{note_stop, stopped_by_host};
use crate::machine::{self, Mmio};
use crate::model::{PAGE, mask, merged};
use crate::{BEYOND_RAM, Fuzz, host};

/// Ports the fuzzer leaves alone: the serial port (the report), the exit
/// port (the end), the host's and the canary's control devices.
fn reserved(port: u16) -> bool {
    (guest_ports::COM1..guest_ports::COM1 + 8).contains(&port)
        || port == guest_ports::EXIT
        || (guest::ports::FIRST..=guest::ports::LAST).contains(&port)
        || (guest::CANARY_FIRST..=guest::CANARY_LAST).contains(&port)
}

pub fn port(fuzz: &mut Fuzz, draw: &mut Draw) {
    let port = if draw.chance(1, 3) {
        *probe::PORTS.start() + draw.below(16) as u16
    } else {
        draw.word() as u16
    };
    if reserved(port) {
        return;
    }
    let size = draw.pick(&[1u8, 2, 4]);
    let write = draw.chance(1, 2);
    if draw.chance(1, 10) {
        // String I/O goes to the lifecycle route: the VP stops.
        let count = draw.between(1, 16);
        match machine::string_port(write, port, fuzz.layout.scratch + 2 * PAGE, count) {
            Ok(()) => {}
            Err(caught) if caught.vector == stopped::BY_EXIT => note_stop(fuzz, &caught),
            Err(caught) => {
                fuzz.finding(format_args!("string I/O at port {port:#x} raised {caught}"))
            }
        }
        return;
    }
    let rax = draw.edgy();
    let value = draw.word() as u32;
    match machine::port(write, size, port, value, rax) {
        Ok(out) if !write && !probe::PORTS.contains(&port) => {
            // Nobody's port reads all ones, merged as IN merges.
            let expected = merged(rax, u64::MAX, size);
            if out != expected {
                fuzz.finding(format_args!(
                    "IN of {size} bytes from nobody's port {port:#x} left RAX {out:#x}, expected {expected:#x}"
                ));
            }
        }
        Ok(_) => {}
        Err(caught) if stopped_by_host(&caught) => {
            note_stop(fuzz, &caught);
            fuzz.finding(format_args!("port {port:#x} stopped the VP"));
        }
        Err(caught) => fuzz.finding(format_args!("port {port:#x} raised {caught}")),
    }
}

pub fn mmio(fuzz: &mut Fuzz, draw: &mut Draw) {
    if !fuzz.mmio_mapped || fuzz.overlays.covers(probe::MMIO_BASE) {
        return;
    }
    let offset = match draw.below(4) {
        0 | 1 => probe::MMIO_SCRATCH_OFFSET,
        2 => probe::MMIO_ID_OFFSET,
        _ => draw.below(probe::MMIO_SIZE - 8),
    };
    let size = draw.pick(&[1u8, 2, 4, 8]);
    let form = match draw.below(10) {
        0..=3 => Mmio::Load(size),
        4..=6 => Mmio::Store(size),
        7 => Mmio::StoreImmediate,
        8 => draw.pick(&[Mmio::Add, Mmio::LoadZeroExtend]),
        _ => Mmio::String,
    };
    let rax = draw.edgy();
    let address = probe::MMIO_BASE + offset;
    match machine::mmio(form, address, rax, fuzz.layout.scratch + 2 * PAGE) {
        Ok(out) => mmio_result(fuzz, form, offset, rax, out),
        // What the kernel cannot decode, the host stops and resumes.
        Err(caught)
            if caught.vector == stopped::BY_EXIT
                && matches!(form, Mmio::Add | Mmio::LoadZeroExtend | Mmio::String) =>
        {
            note_stop(fuzz, &caught);
        }
        Err(caught) => {
            if stopped_by_host(&caught) {
                note_stop(fuzz, &caught);
            }
            fuzz.finding(format_args!("MMIO {form:?} at {address:#x} gave {caught}"));
        }
    }
}

/// The probe's MMIO registers (`guest_ports::probe`), through MOV.
fn mmio_result(fuzz: &mut Fuzz, form: Mmio, offset: u64, rax: u64, out: u64) {
    // The fuzz partition is the deployment's first: badge 1.
    let register = |fuzz: &Fuzz, size: u8| match offset {
        probe::MMIO_SCRATCH_OFFSET => Some(fuzz.probe.scratch & mask(size)),
        probe::MMIO_ID_OFFSET => Some(1),
        _ => Some(mask(size)),
    };
    match form {
        Mmio::Load(size) => {
            let Some(value) = register(fuzz, size) else {
                return;
            };
            let expected = merged(rax, value, size);
            if out != expected {
                fuzz.finding(format_args!(
                    "MMIO load of {size} bytes at offset {offset:#x}: RAX {out:#x}, expected {expected:#x}"
                ));
            }
        }
        Mmio::Store(size) if offset == probe::MMIO_SCRATCH_OFFSET => {
            fuzz.probe.scratch = (fuzz.probe.scratch & !mask(size)) | (rax & mask(size));
        }
        Mmio::StoreImmediate if offset == probe::MMIO_SCRATCH_OFFSET => {
            fuzz.probe.scratch = (fuzz.probe.scratch & !mask(4)) | 0x5A5A_1234;
        }
        // Forms the kernel decoded against expectation change what the
        // guest knows of the register: learn it again.
        Mmio::Add | Mmio::LoadZeroExtend | Mmio::String => {
            if let Ok(value) = machine::mmio(Mmio::Load(8), probe::MMIO_BASE, 0, 0) {
                fuzz.probe.scratch = value;
            }
        }
        _ => {}
    }
}

/// Reads and writes the overlay pages themselves: the VP assist page
/// takes writes (the RAM below must not see them), the hypercall page
/// refuses them with #GP (TLFS md `hypercall-interface.md`: "Attempts to
/// write to the hypercall page will result in a protection (#GP)
/// exception").
pub fn overlay_access(fuzz: &mut Fuzz, draw: &mut Draw) {
    let overlays = fuzz.overlays;
    let (hypercall, assist) = (overlays.hypercall_page(), overlays.assist_page());
    let index = draw.below(PAGE / 8);
    match (hypercall, assist) {
        (Some(page), other)
            if fuzz.layout.in_pool(page) && other != Some(page) && draw.chance(1, 2) =>
        {
            match machine::write_guarded(page + index * 8, draw.word()) {
                Err(caught) if caught.vector == 13 => {}
                other => fuzz.finding(format_args!(
                    "a write to the hypercall page at {page:#x} gave {other:?}, expected #GP"
                )),
            }
        }
        (_, Some(page)) if fuzz.layout.in_pool(page) && hypercall != Some(page) => {
            let value = draw.word();
            if let Err(caught) = machine::write_guarded(page + index * 8, value) {
                fuzz.finding(format_args!(
                    "a write to the VP assist page at {page:#x} raised {caught}"
                ));
            } else if machine::read(page + index * 8) != value {
                fuzz.finding(format_args!(
                    "the VP assist page at {page:#x} does not keep what was written"
                ));
            }
        }
        _ => fuzz.check_overlays("a look at the overlay pool"),
    }
}

/// A read of a GPA beyond RAM that nothing serves: the VP stops (the
/// lifecycle route hears of it) unless an overlay lies there.
pub fn beyond_ram(fuzz: &mut Fuzz) {
    if !fuzz.beyond_mapped {
        return;
    }
    match machine::read_guarded(BEYOND_RAM) {
        Err(caught) if caught.vector == stopped::BY_EXIT => note_stop(fuzz, &caught),
        Ok(_) if fuzz.overlays.covers(BEYOND_RAM) => {}
        other => fuzz.finding(format_args!(
            "a read at {BEYOND_RAM:#x}, beyond RAM, gave {other:x?}"
        )),
    }
}

/// The host replaces the hot-plug region and audits the kernel at once
/// (a nested table still mapping a freed frame shows there); then the
/// guest reads the new region where no overlay hides it.
pub fn hotplug(fuzz: &mut Fuzz, draw: &mut Draw) {
    let result = host::command(command::HOTPLUG, 0);
    let (generation, problems) = (result & 0xFFFF_FFFF, result >> 32);
    if problems != 0 {
        fuzz.finding(format_args!(
            "the kernel audit after replacing the hot-plug region finds problems {problems:#x}"
        ));
    }
    fuzz.hotplug_generation = generation;
    if !fuzz.hotplug_mapped || generation == 0 {
        return;
    }
    let page = draw.below(HOTPLUG_PAGES);
    let address = HOTPLUG_GPA + page * PAGE;
    if fuzz.overlays.covers(address) {
        return;
    }
    let index = page * PAGE / 8;
    match machine::read_guarded(address) {
        Ok(found) if found == guest::hotplug_word(generation, index) => {}
        other => fuzz.finding(format_args!(
            "the hot-plug region's generation {generation} reads {other:x?} at {address:#x}, expected {:#x}",
            guest::hotplug_word(generation, index)
        )),
    }
}

pub fn audit(fuzz: &mut Fuzz) {
    let problems = host::command(command::AUDIT, 0);
    if problems != 0 {
        fuzz.finding(format_args!(
            "the kernel audit finds problems {problems:#x}"
        ));
    }
}
