//! MSR accesses: the synthetic MSRs (the hypercall and VP assist pages
//! among them, laid at colliding GPAs), the architectural ones the
//! partition keeps, and MSRs nobody has.
use tessera_fuzz::Draw;
use tessera_fuzz::guest::{HOTPLUG_GPA, stopped};
use tessera_guest_framework::Caught;
use tessera_guest_framework::cpu::{self, msr as arch};
use tessera_guest_framework::guest_ports::probe;

use super::{note_stop, stopped_by_host};
use crate::model::{PAGE, msr};
use crate::{BEYOND_RAM, Fuzz};

const GP: u8 = 13;

/// Synthetic MSRs (TLFS md `feature-discovery.md`, the MSR index).
const SYNTHETIC: [u32; 22] = [
    msr::GUEST_OS_ID,
    msr::HYPERCALL,
    msr::VP_INDEX,
    msr::RESET,
    0x4000_0010,
    msr::TIME_REF_COUNT,
    0x4000_0021,
    0x4000_0022,
    0x4000_0023,
    0x4000_0070,
    0x4000_0071,
    0x4000_0072,
    msr::VP_ASSIST_PAGE,
    0x4000_0080,
    0x4000_0083,
    0x4000_0090,
    0x4000_00B0,
    0x4000_0100,
    0x4000_0103,
    0x4000_0104,
    msr::CRASH_CTL,
    0x4000_00FF,
];

/// A value for the hypercall or VP assist MSR: a GPA where an overlay is
/// interesting (a pool page, the other overlay's page, a device window,
/// beyond RAM, the hot-plug region, the edge of the GPA space), enabled
/// mostly, with a locked or reserved bit now and then.
fn overlay_value(fuzz: &Fuzz, draw: &mut Draw, which: u32) -> u64 {
    let other = if which == msr::HYPERCALL {
        fuzz.overlays.assist_page()
    } else {
        fuzz.overlays.hypercall_page()
    };
    let pool = fuzz.layout.pool_page(draw.below(3));
    let gpa = match draw.below(12) {
        0..=4 => pool,
        5..=6 => other.unwrap_or(pool),
        7 => probe::MMIO_BASE,
        8 => BEYOND_RAM + draw.below(4) * PAGE,
        9 => HOTPLUG_GPA + draw.below(4) * PAGE,
        10 => draw.pick(&[(1 << 40) - PAGE, 1 << 40, 1 << 52]),
        // Anywhere, but never on the guest's own RAM outside its pool (an
        // overlay there hides its code, stack or page tables).
        _ => match draw.edgy() & !0xFFF {
            gpa if gpa < fuzz.layout.ram_top => gpa + fuzz.layout.ram_top.next_power_of_two(),
            gpa => gpa,
        },
    };
    let mut value = gpa | u64::from(draw.chance(3, 4));
    if which == msr::HYPERCALL && draw.chance(1, 40) {
        value |= 1 << 1; // Locked.
    }
    if draw.chance(1, 16) {
        value |= 1 << draw.between(2, 11);
    }
    value
}

fn synthetic_value(fuzz: &Fuzz, draw: &mut Draw, which: u32) -> u64 {
    match which {
        msr::HYPERCALL | msr::VP_ASSIST_PAGE => overlay_value(fuzz, draw, which),
        msr::GUEST_OS_ID => {
            let edge = draw.edgy() | 1;
            draw.pick(&[0, 0x8100_0000_0000_0001, 1, edge])
        }
        // A reset or a crash report only now and then: each stops the VP.
        msr::RESET => u64::from(draw.chance(1, 8)) | (draw.edgy() & !1),
        msr::CRASH_CTL => {
            let notify = if draw.chance(1, 8) { 1 << 63 } else { 0 };
            notify | (draw.edgy() & !(1 << 63))
        }
        _ => draw.edgy(),
    }
}

/// A stop the write may cause: a crash report or a reset request.
fn expected_stop(which: u32, value: u64) -> Option<u8> {
    match which {
        msr::CRASH_CTL if value & 1 << 63 != 0 => Some(stopped::CRASH),
        msr::RESET if value & 1 != 0 => Some(stopped::RESET),
        _ => None,
    }
}

pub fn synthetic(fuzz: &mut Fuzz, draw: &mut Draw) {
    let which = match draw.below(10) {
        0..=5 => draw.pick(&[msr::GUEST_OS_ID, msr::HYPERCALL, msr::VP_ASSIST_PAGE]),
        6..=8 => draw.pick(&SYNTHETIC),
        _ => 0x4000_0000 + draw.below(0x200) as u32,
    };
    if draw.chance(1, 3) {
        match cpu::rdmsr(which) {
            Ok(value) if which == msr::VP_INDEX && value != 0 => {
                fuzz.finding(format_args!("VP 0 reads VP_INDEX as {value}"));
            }
            Ok(value) if which == msr::TIME_REF_COUNT => {
                let last = fuzz.time_ref;
                if value < last {
                    fuzz.finding(format_args!(
                        "TIME_REF_COUNT went back from {last} to {value}"
                    ));
                }
                fuzz.time_ref = value;
            }
            Ok(_) => {}
            Err(caught) => unexpected(fuzz, caught, which, None),
        }
        return;
    }
    let value = synthetic_value(fuzz, draw, which);
    match cpu::wrmsr(which, value) {
        Ok(()) if which == msr::VP_INDEX => fuzz.finding(format_args!(
            "WRMSR VP_INDEX ({value:#x}) succeeded; the TLFS makes it read-only"
        )),
        Ok(()) if which == msr::GUEST_OS_ID => match cpu::rdmsr(which) {
            Ok(read) if read == value => {}
            other => fuzz.finding(format_args!(
                "GUEST_OS_ID written {value:#x} reads back {other:x?}"
            )),
        },
        Ok(()) => {}
        Err(caught) if stopped_by_host(&caught) => {
            note_stop(fuzz, &caught);
            if expected_stop(which, value) != Some(caught.vector) {
                fuzz.finding(format_args!(
                    "WRMSR {which:#x} ({value:#x}) stopped the VP ({caught})"
                ));
            }
        }
        Err(caught) => unexpected(fuzz, caught, which, Some(value)),
    }
    if matches!(
        which,
        msr::GUEST_OS_ID | msr::HYPERCALL | msr::VP_ASSIST_PAGE | msr::RESET
    ) {
        fuzz.check_overlays("an overlay MSR write");
    }
}

/// Anything but #GP from an MSR access is a finding.
fn unexpected(fuzz: &mut Fuzz, caught: Caught, which: u32, value: Option<u64>) {
    if caught.vector == GP {
        return;
    }
    match value {
        Some(value) => fuzz.finding(format_args!(
            "WRMSR {which:#x} ({value:#x}) raised {caught}; only #GP is architectural"
        )),
        None => fuzz.finding(format_args!(
            "RDMSR {which:#x} raised {caught}; only #GP is architectural"
        )),
    }
}

fn canonical(address: u64) -> bool {
    (address as i64) >> 47 == 0 || (address as i64) >> 47 == -1
}

/// `address` with bits 63:48 copied from bit 47.
fn canonicalized(address: u64) -> u64 {
    (((address as i64) << 16) >> 16) as u64
}

/// What a write of `value` to `which` may read back where the processor
/// took it: the value itself; or, for a non-canonical KERNEL_GS_BASE,
/// the value made canonical. Real processors refuse that write with #GP;
/// QEMU's TCG takes it, and its VMLOAD makes KERNEL_GS_BASE canonical
/// (`svm_canonicalization` in `helper_vmload`), so any exit between the
/// write and the read (a host interrupt) changes it. That is the
/// processor's doing, not the partition's: the guest's VMCB copy holds
/// what VMSAVE stored.
fn reads_back(which: u32, value: u64, read: u64) -> bool {
    read == value || (which == arch::KERNEL_GS_BASE && read == canonicalized(value))
}

/// MSRs the partition keeps (VMSAVE/VMLOAD swap them): what is written
/// reads back. Those holding an address refuse a non-canonical one with
/// #GP (AMD64 APM vol. 2, 6.1.1 and 4.5.3).
const KEPT: [(u32, bool); 6] = [
    (arch::STAR, false),
    (arch::LSTAR, true),
    (arch::CSTAR, true),
    (arch::KERNEL_GS_BASE, true),
    (arch::SYSENTER_CS, false),
    (arch::SYSENTER_EIP, false),
];

pub fn architectural(fuzz: &mut Fuzz, draw: &mut Draw) {
    match draw.below(6) {
        0 | 1 => {
            let (which, address) = draw.pick(&KEPT);
            let value = match which {
                arch::SYSENTER_CS => draw.below(0x1_0000),
                arch::SYSENTER_EIP => draw.below(1 << 32),
                _ => draw.edgy(),
            };
            match cpu::wrmsr(which, value) {
                Ok(()) => match cpu::rdmsr(which) {
                    Ok(read) if reads_back(which, value, read) => {}
                    other => fuzz.finding(format_args!(
                        "MSR {which:#x} written {value:#x} reads back {other:x?}"
                    )),
                },
                Err(caught) if caught.vector == GP && address && !canonical(value) => {}
                Err(caught) => fuzz.finding(format_args!(
                    "WRMSR {which:#x} ({value:#x}) raised {caught}"
                )),
            }
            if address && draw.chance(1, 2) && canonical(value) {
                let _ = cpu::wrmsr(which, 0);
            }
        }
        2 => pat(fuzz, draw),
        3 => efer(fuzz, draw),
        4 => {
            let any = [
                draw.below(0x2000) as u32,
                0xC001_0000 + draw.below(0x2000) as u32,
                draw.word() as u32,
            ];
            let which = draw.pick(&[
                arch::TSC,
                arch::APIC_BASE,
                0xFE,
                0x2FF,
                0xC000_0103,
                0xC001_0114,
                0xC001_0117,
                arch::FS_BASE,
                arch::GS_BASE,
                any[0],
                any[1],
                any[2],
            ]);
            if let Err(caught) = cpu::rdmsr(which) {
                unexpected(fuzz, caught, which, None);
            }
        }
        _ => {
            let any = [
                0x200 + draw.below(16) as u32,
                probe::MSRS.start() + draw.below(16) as u32,
                0xC001_0000 + draw.below(0x2000) as u32,
                0x4B00_0000 + draw.below(0x100_0000) as u32,
            ];
            let which = draw.pick(&[
                arch::APIC_BASE,
                0xC000_0103,
                0xC001_0114,
                0xC001_0117,
                any[0],
                any[1],
                any[1],
                any[2],
                any[3],
            ]);
            let value = draw.edgy();
            match cpu::wrmsr(which, value) {
                Ok(()) if probe::MSRS.contains(&which) => {
                    let read = cpu::rdmsr(which);
                    if which == probe::MSR_READ_ONLY || read != Ok(value) {
                        fuzz.finding(format_args!(
                            "probe MSR {which:#x} written {value:#x} reads back {read:x?}"
                        ));
                    }
                }
                Ok(()) => {}
                Err(caught) => unexpected(fuzz, caught, which, Some(value)),
            }
        }
    }
}

/// PAT: valid memory types are 0, 1, 4, 5, 6, 7; a reserved type or bit
/// is #GP (AMD64 APM vol. 2, 7.8.1). Put back after.
fn pat(fuzz: &mut Fuzz, draw: &mut Draw) {
    let Ok(original) = cpu::rdmsr(arch::PAT) else {
        fuzz.finding(format_args!("RDMSR PAT raised an exception"));
        return;
    };
    let entry = draw.below(8) * 8;
    let kind = draw.below(8);
    let mut value = (original & !(0xFF << entry)) | kind << entry;
    if draw.chance(1, 8) {
        value |= 1 << (entry + draw.between(3, 7));
    }
    let valid = (0..8).all(|i| {
        let t = (value >> (i * 8)) & 0xFF;
        matches!(t, 0 | 1 | 4 | 5 | 6 | 7)
    });
    match (cpu::wrmsr(arch::PAT, value), valid) {
        (Ok(()), true) | (Err(Caught { vector: GP, .. }), false) => {}
        (result, _) => fuzz.finding(format_args!(
            "WRMSR PAT ({value:#x}, {}) gave {result:?}",
            if valid { "valid" } else { "a reserved type" }
        )),
    }
    let _ = cpu::wrmsr(arch::PAT, original);
}

/// EFER: the same value again, SCE toggled (and back), or a reserved bit
/// (#GP; AMD64 APM vol. 2, 3.1.7). Never LME, LMA, NXE: the guest lives
/// on them.
fn efer(fuzz: &mut Fuzz, draw: &mut Draw) {
    let Ok(original) = cpu::rdmsr(arch::EFER) else {
        fuzz.finding(format_args!("RDMSR EFER raised an exception"));
        return;
    };
    let (value, valid) = match draw.below(3) {
        0 => (original, true),
        1 => (original ^ cpu::efer::SCE, true),
        _ => (original | 1 << draw.pick(&[1, 2, 7, 9, 16, 20, 63]), false),
    };
    match (cpu::wrmsr(arch::EFER, value), valid) {
        (Ok(()), true) | (Err(Caught { vector: GP, .. }), false) => {}
        (result, _) => fuzz.finding(format_args!(
            "WRMSR EFER ({value:#x} from {original:#x}) gave {result:?}"
        )),
    }
    let _ = cpu::wrmsr(arch::EFER, original);
}
