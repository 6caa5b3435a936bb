//! HV_X64_MSR_GUEST_OS_ID and HV_X64_MSR_HYPERCALL, and the hypercall page
//! they establish.
//!
//! TLFS md `hypercall-interface.md` § Reporting the Guest OS Identity and §
//! Establishing the Hypercall Interface (x86/x64); TLFS 6.0b §3.13 and
//! §5.2.1 (GPA Overlay Pages); Requirements § Hypercall Interface.

use tessera_guest_framework::exception::vector;
use tessera_guest_framework::{Failure, Outcome, Suite, ensure, ensure_eq, fail, failure, layout};
use tlfs::msr::{
    HV_X64_MSR_GUEST_OS_ID, HV_X64_MSR_HYPERCALL, HvGuestOsIdOpenSource, HvX64MsrHypercall,
};
use tlfs::{HvStatus, HypercallCode};

use crate::config::Config;
use crate::expect::{self, GP0, read, write};
use crate::hypercall::{self, Status, control};
use crate::memory::{self, Mapping, PAGE, slot};
use crate::pages::{Pages, pattern};

/// The tags of the patterns under the two hypercall page locations.
const TAG_P: u8 = 0x11;
const TAG_Q: u8 = 0x22;

/// This guest's identity: the open-source encoding (TLFS md § Guest OS
/// Identity MSR for Open Source Operating Systems), OS type 0 (none of the
/// allocated ones), version 1, build 1. Any non-zero value will do.
fn guest_os_id() -> u64 {
    HvGuestOsIdOpenSource::new()
        .with_open_source(true)
        .with_version(1)
        .with_build_number(1)
        .into_bits()
}

fn hypercall_msr(gpa: u64, enable: bool) -> u64 {
    HvX64MsrHypercall::new()
        .with_enable(enable)
        .with_gpn(gpa / PAGE)
        .into_bits()
}

fn read_hypercall_msr() -> Result<HvX64MsrHypercall, Failure> {
    read(HV_X64_MSR_HYPERCALL).map(HvX64MsrHypercall::from_bits)
}

/// The hypercall page is enabled at `gpa` (Locked as `locked`), reading
/// the MSR; RsvdP bits 11:2 are ignored on reads.
fn expect_enabled_at(gpa: u64, locked: bool) -> Outcome {
    let msr = read_hypercall_msr()?;
    ensure!(
        msr.enable() && msr.gpn() == gpa / PAGE && msr.locked() == locked,
        "HV_X64_MSR_HYPERCALL reads {:#x}, expected page {gpa:#x} enabled{}",
        msr.into_bits(),
        if locked { " and locked" } else { "" }
    );
    Ok(())
}

/// The page at `gpa` shows the guest's own bytes again.
fn expect_uncovered(gpa: u64, tag: u8) -> Outcome {
    if let Some((offset, found)) = memory::first_difference(gpa, pattern(tag)) {
        return fail!(
            "GPA {gpa:#x} + {offset:#x} reads {found:#x}, not the guest's byte {:#x}",
            pattern(tag)(offset)
        );
    }
    Ok(())
}

/// The page at `gpa` shows something other than the guest's bytes.
fn expect_covered(gpa: u64, tag: u8) -> Outcome {
    ensure!(
        memory::first_difference(gpa, pattern(tag)).is_some(),
        "GPA {gpa:#x} still holds exactly the guest's bytes"
    );
    Ok(())
}

/// A fast HvCallNotifyLongSpinWait: the cheapest call that must succeed.
pub fn spin_wait_fast() -> u64 {
    control(HypercallCode::NOTIFY_LONG_SPIN_WAIT, true).into_bits()
}

/// A fast HvCallNotifyLongSpinWait through the page mapped in the scratch
/// slot must return success.
pub fn call_works() -> Outcome {
    expect::status(
        hypercall::via_page(spin_wait_fast(), 0x100, 0),
        HvStatus::SUCCESS,
    )
    .map(drop)
}

/// Maps the hypercall page at `gpa` in the scratch slot the calls use.
fn use_page_at(gpa: u64) {
    hypercall::set_page(memory::map(slot::HYPERCALL, gpa, Mapping::Kernel));
}

/// Before the guest identifies itself, then the page enabled. Returns the
/// page's fingerprint if the page works.
pub fn establish(suite: &mut Suite, pages: &Pages) -> Option<u64> {
    memory::fill(pages.hypercall, pattern(TAG_P));
    memory::fill(pages.hypercall_moved, pattern(TAG_Q));

    // § Reporting the Guest OS Identity: "This register's value is
    // initially zero."
    suite.check("HV_X64_MSR_GUEST_OS_ID reads 0 at partition start", || {
        ensure_eq!(read(HV_X64_MSR_GUEST_OS_ID)?, 0, "guest OS ID");
        Ok(())
    });
    // § Establishing the Hypercall Interface, step 5: the guest checks
    // whether the page is already enabled; in a new partition it is not.
    suite.check(
        "HV_X64_MSR_HYPERCALL has the hypercall page disabled at partition start",
        || {
            let msr = read_hypercall_msr()?;
            ensure!(!msr.enable(), "HV_X64_MSR_HYPERCALL {:#x}", msr.into_bits());
            Ok(())
        },
    );
    // § Reporting the Guest OS Identity: the guest "must identify itself
    // ... before it can invoke hypercalls".
    let mut before_identity = None;
    suite.check(
        "VMMCALL before the guest OS ID is set does not succeed (UD or an error status)",
        || {
            match hypercall::via_vmmcall(spin_wait_fast(), 0x100, 0) {
                Err(caught) if caught.vector == vector::INVALID_OPCODE => {
                    before_identity = Some(None);
                }
                Err(caught) => return fail!("raised {caught}"),
                Ok(r) if r.status() == HvStatus::SUCCESS => {
                    return fail!("HvCallNotifyLongSpinWait succeeded (RAX {:#x})", r.rax);
                }
                Ok(r) => before_identity = Some(Some(r.status())),
            }
            Ok(())
        },
    );
    match before_identity {
        Some(None) => suite.note(format_args!("VMMCALL without a guest OS ID raised #UD")),
        Some(Some(status)) => suite.note(format_args!(
            "VMMCALL without a guest OS ID returned {}",
            Status(status)
        )),
        None => {}
    }
    // § Establishing the Hypercall Interface: "If no Guest OS identity has
    // been specified, attempts to enable the hypercall will fail. The
    // enable bit will remain zero even when writing a one to it."
    suite.check(
        "enabling the hypercall page with guest OS ID 0: no fault, Enable stays 0, the page is untouched",
        || {
            write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
            let msr = read_hypercall_msr()?;
            ensure!(!msr.enable(), "Enable reads 1: {:#x}", msr.into_bits());
            expect_uncovered(pages.hypercall, TAG_P)?;
            write(HV_X64_MSR_HYPERCALL, 0)
        },
    );

    suite.check("HV_X64_MSR_GUEST_OS_ID keeps the identity written", || {
        write(HV_X64_MSR_GUEST_OS_ID, guest_os_id())?;
        ensure_eq!(read(HV_X64_MSR_GUEST_OS_ID)?, guest_os_id(), "guest OS ID");
        Ok(())
    });
    let enabled = suite.check(
        "HV_X64_MSR_HYPERCALL enables the hypercall page at a RAM page and reads it back",
        || {
            write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
            expect_enabled_at(pages.hypercall, false)
        },
    );
    if !enabled {
        return None;
    }
    // "Its contents are readable and executable by the guest"; an overlay
    // "covers whatever else is mapped to the GPA range".
    suite.check(
        "the hypercall page is readable and covers the RAM underneath",
        || expect_covered(pages.hypercall, TAG_P),
    );
    // Tessera's page on AMD: VMMCALL, then RET. (The Requirements allow a
    // page that returns without any transition; this is what Tessera does.)
    let mut code = [0u8; 16];
    suite.check(
        "the hypercall page's code is VMMCALL followed by a RET (Tessera on AMD)",
        || {
            for (i, byte) in code.iter_mut().enumerate() {
                *byte = memory::read_u8(pages.hypercall + i as u64);
            }
            let Some(at) = (0..256).find(|&i| {
                [0x0F, 0x01, 0xD9]
                    .iter()
                    .enumerate()
                    .all(|(k, &b)| memory::read_u8(pages.hypercall + i + k as u64) == b)
            }) else {
                return fail!("no VMMCALL (0f 01 d9) in the first 256 bytes; starts {code:02x?}");
            };
            ensure!(
                (at + 3..at + 19).any(|i| memory::read_u8(pages.hypercall + i) == 0xC3),
                "no RET within 16 bytes after the VMMCALL at {at:#x}; starts {code:02x?}"
            );
            Ok(())
        },
    );
    use_page_at(pages.hypercall);
    // "invoking a hypercall simply involves a call to the start of the
    // page"; HvCallNotifyLongSpinWait "only HV_STATUS_SUCCESS will be
    // returned".
    let works = suite.check(
        "a call to the hypercall page performs a hypercall (fast HvCallNotifyLongSpinWait: SUCCESS)",
        call_works,
    );
    works.then(|| memory::fingerprint(pages.hypercall))
}

/// Disable, move, identity cleared, reserved and out-of-range values; the
/// page ends enabled at `pages.hypercall` again.
pub fn transitions(suite: &mut Suite, config: &Config, pages: &Pages, fingerprint: u64) {
    // Requirements § Hypercall Interface: "the contents of the mapped
    // hypercall code page must not change without an un-map/map
    // transition".
    suite.check(
        "the hypercall page is unchanged after all the hypercalls made",
        || {
            ensure_eq!(
                memory::fingerprint(pages.hypercall),
                fingerprint,
                "page fingerprint"
            );
            Ok(())
        },
    );
    // TLFS 6.0b §5.2.1: "If an overlay page is disabled or is moved to a
    // new location in the GPA space, the underlying GPA page is
    // uncovered".
    suite.check(
        "disabling the hypercall page uncovers the RAM underneath",
        || {
            write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, false))?;
            let msr = read_hypercall_msr()?;
            ensure!(
                !msr.enable(),
                "Enable still reads 1: {:#x}",
                msr.into_bits()
            );
            expect_uncovered(pages.hypercall, TAG_P)
        },
    );
    suite.check(
        "the hypercall page moves to another GPA: code there, RAM back at the old one, calls work",
        || {
            write(
                HV_X64_MSR_HYPERCALL,
                hypercall_msr(pages.hypercall_moved, true),
            )?;
            expect_enabled_at(pages.hypercall_moved, false)?;
            expect_covered(pages.hypercall_moved, TAG_Q)?;
            expect_uncovered(pages.hypercall, TAG_P)?;
            use_page_at(pages.hypercall_moved);
            call_works()
        },
    );
    // TLFS md § Establishing the Hypercall Interface: "if the Guest OS
    // identity is cleared to zero after the hypercall page has been
    // enabled, it will become disabled."
    suite.check(
        "clearing HV_X64_MSR_GUEST_OS_ID disables the hypercall page",
        || {
            write(HV_X64_MSR_GUEST_OS_ID, 0)?;
            let msr = read_hypercall_msr()?;
            write(HV_X64_MSR_GUEST_OS_ID, guest_os_id())?;
            ensure!(
                !msr.enable(),
                "HV_X64_MSR_HYPERCALL reads {:#x} with guest OS ID 0",
                msr.into_bits()
            );
            expect_uncovered(pages.hypercall_moved, TAG_Q)
        },
    );
    let restored = suite.check(
        "the hypercall page is enabled again at the first GPA and calls work",
        || {
            write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
            expect_enabled_at(pages.hypercall, false)?;
            use_page_at(pages.hypercall);
            call_works()
        },
    );
    if !restored {
        return;
    }
    // Bits 11:2 are RsvdP: "Bits should be ignored on reads and preserved
    // on writes" — a rule for the guest; what the hypervisor does with ones
    // there is not said. Either outcome is accepted if it is whole.
    let mut reserved_outcome = None;
    suite.check(
        "HV_X64_MSR_HYPERCALL with RsvdP bits 11:2 set: ignored or refused with GP(0), never half-applied",
        || {
            let before = read(HV_X64_MSR_HYPERCALL)?;
            match tessera_guest_framework::cpu::wrmsr(
                HV_X64_MSR_HYPERCALL,
                hypercall_msr(pages.hypercall, true) | 0xFFC,
            ) {
                Ok(()) => {
                    reserved_outcome = Some("accepted (bits ignored)");
                    expect_enabled_at(pages.hypercall, false)?;
                }
                Err(caught) if caught == GP0 => {
                    reserved_outcome = Some("refused with #GP(0)");
                    ensure_eq!(read(HV_X64_MSR_HYPERCALL)?, before, "MSR after the #GP");
                }
                Err(caught) => return fail!("raised {caught}"),
            }
            write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
            call_works()
        },
    );
    if let Some(outcome) = reserved_outcome {
        suite.note(format_args!("HV_X64_MSR_HYPERCALL RsvdP bits: {outcome}"));
    }
    // "If the guest attempts to move the hypercall page beyond the bounds of
    // the GPA space, a #GP fault will result when the MSR is written."
    let beyond = config.beyond_gpa_space();
    suite.check(
        format_args!(
            "HV_X64_MSR_HYPERCALL with a GPA beyond the {}-bit GPA space raises GP(0), MSR unchanged",
            config.physical_address_bits
        ),
        || {
            let before = read(HV_X64_MSR_HYPERCALL)?;
            expect::expect_gp(tessera_guest_framework::cpu::wrmsr(
                HV_X64_MSR_HYPERCALL,
                hypercall_msr(beyond, true),
            ))?;
            ensure_eq!(read(HV_X64_MSR_HYPERCALL)?, before, "MSR afterwards");
            call_works()
        },
    );
    // "The hypercall page can be placed anywhere within the guest's GPA
    // space"; step 6 prefers "a page ... that is not occupied by RAM".
    let ram_top = layout::ram_top().unwrap_or(0);
    let outside = ram_top.next_multiple_of(1 << 30);
    if outside < beyond {
        suite.check(
            format_args!(
                "HV_X64_MSR_HYPERCALL accepts a GPA outside RAM ({outside:#x}) and reads it back"
            ),
            || {
                let placed = write(HV_X64_MSR_HYPERCALL, hypercall_msr(outside, true))
                    .and_then(|()| expect_enabled_at(outside, false));
                write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
                placed?;
                expect_enabled_at(pages.hypercall, false)?;
                call_works()
            },
        );
    }
}

/// The Locked bit (bit 1). Last of the hypercall page checks: a locked MSR
/// stays locked until reset.
pub fn lock(suite: &mut Suite, config: &Config, pages: &Pages) {
    let locked = hypercall_msr(pages.hypercall, true) | 0b10;
    if config.features.hypercall_msr_lock_available() {
        // TLFS md § Establishing the Hypercall Interface: "Locked. Indicates
        // if the MSR is immutable. If set, this MSR is locked thereby
        // preventing the relocation of the hypercall page. Once set, only a
        // system reset can clear the bit." (Availability: CPUID 0x40000003
        // EDX bit 18, HypercallMsrLockAvailable.)
        let mut refusal = None;
        suite.check(
            "a locked HV_X64_MSR_HYPERCALL keeps its page: moving or disabling it changes nothing",
            || {
                write(HV_X64_MSR_HYPERCALL, locked)?;
                expect_enabled_at(pages.hypercall, true)?;
                for attempt in [hypercall_msr(pages.hypercall_moved, true), 0] {
                    match tessera_guest_framework::cpu::wrmsr(HV_X64_MSR_HYPERCALL, attempt) {
                        Ok(()) => refusal = Some("ignored"),
                        Err(caught) if caught == GP0 => refusal = Some("refused with #GP(0)"),
                        Err(caught) => return fail!("writing {attempt:#x} raised {caught}"),
                    }
                    expect_enabled_at(pages.hypercall, true)?;
                }
                call_works()
            },
        );
        if let Some(refusal) = refusal {
            suite.note(format_args!(
                "writes to the locked HV_X64_MSR_HYPERCALL are {refusal}"
            ));
        }
    } else {
        let mut outcome = None;
        suite.check(
            "without HypercallMsrLockAvailable, writing the Locked bit does not lock the MSR",
            || {
                match tessera_guest_framework::cpu::wrmsr(HV_X64_MSR_HYPERCALL, locked) {
                    Err(caught) if caught == GP0 => {
                        outcome = Some("refused with #GP(0)");
                        expect_enabled_at(pages.hypercall, false)?;
                    }
                    Err(caught) => return fail!("raised {caught}"),
                    Ok(()) => {
                        outcome = Some("ignored");
                        let msr = read_hypercall_msr()?;
                        ensure!(
                            !msr.locked(),
                            "Locked reads 1 without the feature: {:#x}",
                            msr.into_bits()
                        );
                        // Still movable.
                        write(
                            HV_X64_MSR_HYPERCALL,
                            hypercall_msr(pages.hypercall_moved, true),
                        )?;
                        expect_enabled_at(pages.hypercall_moved, false)?;
                        write(HV_X64_MSR_HYPERCALL, hypercall_msr(pages.hypercall, true))?;
                        expect_enabled_at(pages.hypercall, false)?;
                    }
                }
                use_page_at(pages.hypercall);
                call_works()
            },
        );
        if let Some(outcome) = outcome {
            suite.note(format_args!(
                "the Locked bit without the feature was {outcome}"
            ));
        }
    }
}

/// TLFS md § Establishing the Hypercall Interface: "Attempts to write to
/// the hypercall page will result in a protection (#GP) exception." Risky:
/// a host that answers the write with an unhandled memory exit stops the
/// partition here, so this runs at the very end.
pub fn write_faults(suite: &mut Suite, pages: &Pages) {
    suite.check(
        "a store to the hypercall page raises GP (the page is not written)",
        || {
            let address = pages.hypercall;
            let byte = memory::read_u8(address);
            match memory::guarded_store_u8(address, byte) {
                Err(caught) if caught.vector == vector::GENERAL_PROTECTION => {}
                Err(caught) => return fail!("raised {caught}"),
                Ok(()) => return fail!("the store completed"),
            }
            call_works().map_err(|f| failure!("after the store: {f}"))
        },
    );
}
