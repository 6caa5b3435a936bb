//! The synthetic cluster IPI calls: HvCallSendSyntheticClusterIpi (0x000B,
//! a 64-bit processor mask) and HvCallSendSyntheticClusterIpiEx (0x0015,
//! an `HV_VP_SET`), which send "a virtual fixed interrupt to the specified
//! virtual processor set" (TLFS md `virtual-interrupts.md` § Synthetic
//! Cluster IPI, `hypercalls/HvCallSendSyntheticClusterIpi.md`,
//! `HvCallSendSyntheticClusterIpiEx.md`; TLFS 6.0b for the statuses).
//!
//! This guest has one VP, so the interrupt it can see is the one it sends
//! itself: each call is made with interrupts off, and what it requested is
//! taken when they are enabled for two instructions after it. The
//! receiving handler ends it through HV_X64_MSR_EOI, so the checks need
//! AccessIntrCtrlRegs (`hv-vapic`) too.

use core::sync::atomic::Ordering;

use tessera_guest_framework::{Failure, Suite, ensure_eq, failure};
use tlfs::hypercall::params::HvGenericSetFormat;
use tlfs::msr as m;
use tlfs::{HvStatus, HypercallCode};

use crate::apic;
use crate::call_checks::refused_check;
use crate::config::Config;
use crate::expect::{read, status};
use crate::hypercall::{self, control};
use crate::pages::Pages;
use crate::trap::{IPI_COUNT, IPI_VECTOR};

/// A VP index no partition of this size has.
const ABSENT_VP: u64 = 63;
/// `HV_INPUT_VTL` with its ReservedZ bits (7:5) set.
const VTL_RESERVED: u64 = 0xE0;
/// `HV_INPUT_VTL` naming VTL 1 with UseTargetVtl.
const VTL_1: u64 = 0x11;

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    let r = config.recommendations;
    if !r.use_synthetic_cluster_ipi() {
        refused_check(
            suite,
            "HvCallSendSyntheticClusterIpi without UseSyntheticClusterIpi",
            || hypercall::via_page(fast(), 0x40, 1),
        );
        return;
    }
    if !config.privileges.access_intr_ctrl_regs() {
        suite.note(format_args!(
            "skipped: the cluster IPI checks (the handler ends the interrupt through HV_X64_MSR_EOI, and AccessIntrCtrlRegs is not advertised)"
        ));
        return;
    }
    let Ok(me) = read(m::HV_X64_MSR_VP_INDEX) else {
        return;
    };
    let vector = u64::from(IPI_VECTOR);
    suite.check(
        "HvCallSendSyntheticClusterIpi, fast, to this VP: SUCCESS, and the vector is taken",
        || delivered(1, || hypercall::via_page(fast(), vector, 1 << me)),
    );
    suite.check(
        "HvCallSendSyntheticClusterIpi from memory to this VP and one that does not exist: SUCCESS, taken once",
        || {
            write_input(pages.input, vector, 0);
            crate::memory::write_u64(pages.input + 8, 1 << me | 1 << ABSENT_VP);
            delivered(1, || hypercall::via_page(slow(), pages.input, 0))
        },
    );
    suite.check(
        "HvCallSendSyntheticClusterIpi to a VP that does not exist only: SUCCESS, nothing taken",
        || delivered(0, || hypercall::via_page(fast(), vector, 1 << ABSENT_VP)),
    );
    suite.check(
        "HvCallSendSyntheticClusterIpi with vector 0xF, 0x100, reserved TargetVtl bits, VTL 1 or reserved bytes: INVALID_PARAMETER, nothing taken",
        || {
            for rdx in [
                0x0F,
                0x100,
                vector | VTL_RESERVED << 32,
                vector | VTL_1 << 32,
                vector | 1 << 40,
            ] {
                refused(|| hypercall::via_page(fast(), rdx, 1 << me))
                    .map_err(|f| failure!("input {rdx:#x}: {f}"))?;
            }
            Ok(())
        },
    );
    if !r.use_ex_processor_masks() {
        refused_check(
            suite,
            "HvCallSendSyntheticClusterIpiEx without UseExProcessorMasks",
            || hypercall::via_page(slow_ex(0), pages.input, 0),
        );
        return;
    }
    let input = pages.input;
    suite.check(
        "HvCallSendSyntheticClusterIpiEx, sparse HV_VP_SET of this VP: SUCCESS, taken",
        || {
            write_input(input, vector, 0);
            write_set(input, HvGenericSetFormat::SPARSE_4K, 1, &[1 << me]);
            delivered(1, || hypercall::via_page(slow_ex(1), input, 0))
        },
    );
    suite.check(
        "HvCallSendSyntheticClusterIpiEx, all-processors HV_VP_SET: SUCCESS, taken",
        || {
            write_input(input, vector, 0);
            write_set(input, HvGenericSetFormat::ALL, 0, &[]);
            delivered(1, || hypercall::via_page(slow_ex(0), input, 0))
        },
    );
    suite.check(
        "HvCallSendSyntheticClusterIpiEx with format 2, or banks that disagree with the variable header: INVALID_PARAMETER",
        || {
            write_input(input, vector, 0);
            write_set(input, HvGenericSetFormat(2), 0, &[]);
            refused(|| hypercall::via_page(slow_ex(0), input, 0))
                .map_err(|f| failure!("format 2: {f}"))?;
            write_set(input, HvGenericSetFormat::SPARSE_4K, 0b11, &[1 << me]);
            refused(|| hypercall::via_page(slow_ex(1), input, 0))
                .map_err(|f| failure!("2 banks, 1 QWORD: {f}"))
        },
    );
}

fn fast() -> u64 {
    control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI, true).into_bits()
}

/// 0x000B from memory.
fn slow() -> u64 {
    control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI, false).into_bits()
}

/// 0x0015 with `variable` QWORDs of bank contents.
fn slow_ex(variable: u16) -> u64 {
    control(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX, false)
        .with_variable_header_size(variable)
        .into_bits()
}

/// Vector (4 bytes), TargetVtl (1), three reserved bytes.
fn write_input(at: u64, vector: u64, target_vtl: u64) {
    crate::memory::write_u64(at, vector | target_vtl << 32);
}

/// The `HV_VP_SET` after the 8-byte fixed part: Format, ValidBanksMask,
/// then the bank contents (the variable header).
fn write_set(at: u64, format: HvGenericSetFormat, banks_mask: u64, banks: &[u64]) {
    crate::memory::write_u64(at + 8, format.0);
    crate::memory::write_u64(at + 16, banks_mask);
    for (i, bank) in banks.iter().enumerate() {
        crate::memory::write_u64(at + 24 + 8 * i as u64, *bank);
    }
}

/// Makes `call` with interrupts off (SUCCESS expected), then lets what it
/// requested be taken: `expected` interrupts on the IPI vector.
fn delivered(
    expected: u64,
    call: impl FnOnce() -> Result<hypercall::Returned, tessera_guest_framework::Caught>,
) -> Result<(), Failure> {
    apic::with_enabled_apic(|_| {
        let before = IPI_COUNT.load(Ordering::SeqCst);
        status(call(), HvStatus::SUCCESS)?;
        apic::take_pending().map_err(|caught| failure!("enabling interrupts raised {caught}"))?;
        ensure_eq!(
            IPI_COUNT.load(Ordering::SeqCst) - before,
            expected,
            "interrupts taken on the IPI vector"
        );
        Ok(())
    })
}

/// `call` returns INVALID_PARAMETER and nothing is taken.
fn refused(
    call: impl FnOnce() -> Result<hypercall::Returned, tessera_guest_framework::Caught>,
) -> Result<(), Failure> {
    apic::with_enabled_apic(|_| {
        let before = IPI_COUNT.load(Ordering::SeqCst);
        status(call(), HvStatus::INVALID_PARAMETER)?;
        apic::take_pending().map_err(|caught| failure!("enabling interrupts raised {caught}"))?;
        ensure_eq!(
            IPI_COUNT.load(Ordering::SeqCst) - before,
            0,
            "interrupts taken after a refused call"
        );
        Ok(())
    })
}
