//! `routed-hypercall`: checks a hypercall route (`intercept::HYPERCALL`)
//! from inside the partition. The deployment routes call code `0x0008`
//! (`HvCallNotifyLongSpinWait`) to `probe-device`, which answers any
//! hypercall with success, 0 reps completed and RDX =
//! [`probe::HYPERCALL_SIGNATURE`]; the kernel would answer that code
//! itself, so only the probe puts the signature in RDX.
//!
//! It needs the Hv#1 interface (any `hv`). Checks:
//!
//! 1. CPUID `0x40000001` EAX is `Hv#1`.
//! 2. It sets `HV_X64_MSR_GUEST_OS_ID` and enables the hypercall page
//!    (`HV_X64_MSR_HYPERCALL` = page | 1); the enable bit reads back 1.
//! 3. A fast `HvCallNotifyLongSpinWait` (input value `0x0001_0008`, RDX 0,
//!    R8 0) returns result value 0 and RDX = the signature: the route took
//!    the code from the kernel's own handler.
//! 4. A fast call of the unknown code `0x7FFF`, which no route takes,
//!    returns `HV_STATUS_INVALID_HYPERCALL_CODE` from the kernel, with RDX
//!    not the signature.
//! 5. A fast `HvCallNotifyLongSpinWait` with a rep count of 3 (which the
//!    kernel would refuse for a simple call) still reaches the probe: the
//!    kernel decodes nothing but the call code of a routed hypercall.
//!
//! Every call is a direct `VMMCALL` ([`hypercall`]).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod hypercall;

use tessera_guest_framework::guest_ports::probe;
use tessera_guest_framework::{Suite, cpu, ensure, ensure_eq, failure};
use tlfs::hypercall::{HypercallCode, HypercallInputValue, HypercallResultValue};
use tlfs::msr::{HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL};
use tlfs::status::HvStatus;

tessera_guest_framework::entry!(main);

/// "Hv#1" in leaf 0x40000001 EAX.
const HV1_INTERFACE: u32 = 0x3123_7648;
/// The code no route takes and no hypercall has.
const UNKNOWN_CODE: u16 = 0x7FFF;
/// Enable (bit 0) of `HV_X64_MSR_HYPERCALL`.
const ENABLE: u64 = 1;

/// A page of guest memory for the hypercall page (the loader
/// identity-maps RAM, so its address is its GPA).
#[repr(C, align(4096))]
struct Page([u8; 4096]);
static mut HYPERCALL_PAGE: Page = Page([0; 4096]);

/// The input value of a fast call of `code` with `reps` reps.
fn fast_call(code: HypercallCode, reps: u16) -> u64 {
    HypercallInputValue::new()
        .with_call_code(code)
        .with_fast(true)
        .with_rep_count(reps)
        .into_bits()
}

fn main(suite: &mut Suite) {
    let hv1 = suite.check("CPUID 0x40000001 EAX: the Hv#1 interface", || {
        let eax = cpu::cpuid(0x4000_0001, 0).eax;
        ensure_eq!(eax, HV1_INTERFACE, "give the partition an `hv` key");
        Ok(())
    });
    if !hv1 {
        return;
    }
    let enabled = suite.check(
        "the guest OS ID is set and the hypercall page enabled",
        || {
            let page = (&raw const HYPERCALL_PAGE) as u64;
            cpu::wrmsr(HV_X64_MSR_GUEST_OS_ID, 0x8000_0000_0000_0001)
                .map_err(|c| failure!("guest OS ID: {c}"))?;
            cpu::wrmsr(HV_X64_MSR_HYPERCALL, page | ENABLE)
                .map_err(|c| failure!("hypercall MSR: {c}"))?;
            let msr = cpu::rdmsr(HV_X64_MSR_HYPERCALL).map_err(|c| failure!("{c}"))?;
            ensure_eq!(msr & ENABLE, ENABLE, "hypercall MSR enable bit");
            Ok(())
        },
    );
    if !enabled {
        return;
    }

    suite.check(
        "a fast HvCallNotifyLongSpinWait (0x0008) is answered by the probe: result value 0, RDX = its signature",
        || {
            let control = fast_call(HypercallCode::NOTIFY_LONG_SPIN_WAIT, 0);
            ensure_eq!(control, 0x0001_0008, "input value");
            let returned = hypercall::fast(control, 0, 0);
            ensure_eq!(returned.result, 0, "result value");
            ensure!(
                returned.rdx == probe::HYPERCALL_SIGNATURE,
                "RDX {:#x}, not the probe's signature: the kernel answered",
                returned.rdx
            );
            ensure_eq!(returned.r8, 0, "R8");
            Ok(())
        },
    );
    suite.check(
        "an unrouted unknown code (0x7FFF) gets HV_STATUS_INVALID_HYPERCALL_CODE from the kernel",
        || {
            let control = fast_call(HypercallCode(UNKNOWN_CODE), 0);
            let returned = hypercall::fast(control, 0, 0);
            let status = HypercallResultValue::from_bits(returned.result).result();
            ensure!(
                status == HvStatus::INVALID_HYPERCALL_CODE,
                "result value {:#x}: status {:#x}, expected {:#x}",
                returned.result,
                status.0,
                HvStatus::INVALID_HYPERCALL_CODE.0
            );
            ensure!(
                returned.rdx != probe::HYPERCALL_SIGNATURE,
                "RDX is the probe's signature: the probe answered an unrouted code"
            );
            Ok(())
        },
    );
    suite.check(
        "a routed code with a rep count (0x0008, 3 reps) still reaches the probe: the kernel decodes nothing",
        || {
            let control = fast_call(HypercallCode::NOTIFY_LONG_SPIN_WAIT, 3);
            ensure_eq!(control, 0x0003_0001_0008, "input value");
            let returned = hypercall::fast(control, 0, 0);
            ensure_eq!(returned.result, 0, "result value");
            ensure!(
                returned.rdx == probe::HYPERCALL_SIGNATURE,
                "RDX {:#x}, not the probe's signature: the kernel judged the call",
                returned.rdx
            );
            Ok(())
        },
    );
}
