//! The hypercall ABI: calling conventions, the input value's fields, status
//! codes, parameter placement, privilege-gated calls, and CPL.
//!
//! TLFS md `hypercall-interface.md` (§ Hypercall Inputs, § Hypercall
//! Register Conventions (x86/x64), § Volatile Registers (x86/x64), §
//! Alignment Requirements, § Common Hypercall Status Codes, § Legal
//! Hypercall Environments, § Extended Hypercall Interface) and the
//! `hypercalls/*.md` pages.

use tessera_guest_framework::exception::vector;
use tessera_guest_framework::{Outcome, Suite, cpu, ensure, fail};
use tlfs::hypercall::params::HvExtendedCapabilities;
use tlfs::{HvStatus, HypercallCode, HypercallInputValue};

use crate::config::Config;
use crate::expect::{self, refused, returned, status};
use crate::hypercall::{self, PROBE_PATTERNS, PROBED_REGISTERS, Status, control};
use crate::memory::{self, Mapping, PAGE, slot};
use crate::page_checks::spin_wait_fast;
use crate::pages::Pages;
use crate::ring3;
use crate::trap;

/// The spin count the HvCallNotifyLongSpinWait calls pass.
const SPIN_COUNT: u64 = 0x100;
/// A connection ID no deployment is expected to use (the largest 24-bit
/// ID).
const UNUSED_CONNECTION: u64 = 0x00FF_FFFF;

fn memory_call(code: HypercallCode) -> HypercallInputValue {
    control(code, false)
}

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    conventions(suite, pages);
    input_value(suite);
    placement(suite, config, pages);
    gated_calls(suite, config, pages);
}

fn conventions(suite: &mut Suite, pages: &Pages) {
    // § Legal Hypercall Environments: "All hypercalls should be invoked
    // through the architecturally-defined hypercall interface ... An
    // attempt to invoke a hypercall by any other means ... might result in
    // an undefined operation (#UD) exception. The hypervisor is not
    // guaranteed to deliver this exception." Both outcomes are allowed.
    let mut direct = None;
    suite.check(
        "VMMCALL outside the hypercall page: SUCCESS like the page, or UD (both allowed)",
        || {
            match hypercall::via_vmmcall(spin_wait_fast(), SPIN_COUNT, 0) {
                Err(caught) if caught.vector == vector::INVALID_OPCODE => {
                    direct = Some("raised #UD");
                }
                result => {
                    status(result, HvStatus::SUCCESS)?;
                    direct = Some("returned HV_STATUS_SUCCESS");
                }
            }
            Ok(())
        },
    );
    if let Some(direct) = direct {
        suite.note(format_args!("VMMCALL outside the hypercall page {direct}"));
    }
    // § Volatile Registers (x86/x64): only RAX (and RCX for rep calls) are
    // written; "RDX, R8, and XMM0 through XMM5, when used for fast
    // hypercall input, remain unmodified".
    suite.check(
        "a fast hypercall changes only RAX: RBX RBP RSI RDI R8-R15 RCX RDX keep their values",
        || {
            let (result, observed) = hypercall::register_probe(spin_wait_fast(), SPIN_COUNT)
                .map_err(|caught| tessera_guest_framework::failure!("raised {caught}"))?;
            status(Ok(result), HvStatus::SUCCESS)?;
            let mut expected = [0u64; 14];
            expected[..12].copy_from_slice(&PROBE_PATTERNS[..12]);
            expected[12] = spin_wait_fast();
            expected[13] = SPIN_COUNT;
            for ((name, got), want) in PROBED_REGISTERS.iter().zip(observed).zip(expected) {
                ensure!(got == want, "{name} changed from {want:#x} to {got:#x}");
            }
            Ok(())
        },
    );
    // § Hypercall Register Conventions: Fast 0 means RDX holds the input
    // parameters' GPA. HvCallNotifyLongSpinWait input: SpinCount (4 bytes),
    // RsvdZ (4).
    suite.check(
        "memory-based HvCallNotifyLongSpinWait (input block in RAM) returns SUCCESS",
        || {
            memory::write_u64(pages.input, SPIN_COUNT);
            let call = memory_call(HypercallCode::NOTIFY_LONG_SPIN_WAIT).into_bits();
            status(hypercall::via_page(call, pages.input, 0), HvStatus::SUCCESS).map(drop)
        },
    );
    ring3_checks(suite, pages);
}

fn ring3_checks(suite: &mut Suite, pages: &Pages) {
    // User code at two offsets of one user page: a CPL probe (MOV from CR0
    // faults with #GP(0) outside ring 0; UD2 after it would mean ring 0),
    // and VMMCALL followed by the same probe.
    const MOV_RAX_CR0: [u8; 3] = [0x0F, 0x20, 0xC0];
    const UD2: [u8; 2] = [0x0F, 0x0B];
    const VMMCALL: [u8; 3] = [0x0F, 0x01, 0xD9];
    const VMMCALL_OFFSET: u64 = 16;
    let code = pages.user_code;
    for (i, byte) in MOV_RAX_CR0.iter().chain(&UD2).enumerate() {
        memory::write_u8(code + i as u64, *byte);
    }
    for (i, byte) in VMMCALL.iter().chain(&MOV_RAX_CR0).chain(&UD2).enumerate() {
        memory::write_u8(code + VMMCALL_OFFSET + i as u64, *byte);
    }
    let code_va = memory::map(slot::USER_CODE, code, Mapping::User);
    let stack_top = memory::map(slot::USER_STACK, pages.user_stack, Mapping::User) + PAGE;

    let session = match ring3::Session::begin() {
        Ok(session) => session,
        Err(why) => {
            suite.note(format_args!("skipped: the CPL 3 checks ({why})"));
            memory::unmap(slot::USER_CODE);
            memory::unmap(slot::USER_STACK);
            return;
        }
    };
    // Harness check: the guest really reaches CPL 3 and comes back.
    let in_ring3 = suite.check(
        "harness: code entered at CPL 3 faults with GP(0) on MOV from CR0 and returns to CPL 0",
        || {
            let result = session.run(code_va, stack_top, 0);
            let site = trap::last_fault_site();
            expect::expect_gp(result)?;
            ensure!(
                site.cpl() == 3 && site.rip == code_va,
                "fault at rip {:#x} cs {:#x}",
                site.rip,
                site.cs
            );
            Ok(())
        },
    );
    if in_ring3 {
        // § Legal Hypercall Environments: "Hypercalls can be invoked only
        // from the most privileged guest processor mode ... An attempt to
        // invoke a hypercall within an illegal processor mode will generate
        // a #UD".
        suite.check("VMMCALL at CPL 3 raises UD", || {
            let result = session.run(code_va + VMMCALL_OFFSET, stack_top, spin_wait_fast());
            let site = trap::last_fault_site();
            match result {
                Err(caught) if caught.vector == vector::INVALID_OPCODE => {
                    ensure!(
                        site.cpl() == 3 && site.rip == code_va + VMMCALL_OFFSET,
                        "UD at rip {:#x} cs {:#x}, not at the VMMCALL",
                        site.rip,
                        site.cs
                    );
                    Ok(())
                }
                Err(caught) if caught.vector == vector::GENERAL_PROTECTION => fail!(
                    "VMMCALL returned at CPL 3 (the next instruction raised {caught} at rip {:#x})",
                    site.rip
                ),
                Err(caught) => fail!("raised {caught} at rip {:#x}", site.rip),
                Ok(()) => fail!("ring 3 returned without an exception"),
            }
        });
    }
    session.end();
    memory::unmap(slot::USER_CODE);
    memory::unmap(slot::USER_STACK);
}

fn input_value(suite: &mut Suite) {
    // § Common Hypercall Status Codes: "HV_STATUS_INVALID_HYPERCALL_CODE —
    // The hypercall code is not recognized."
    suite.check(
        "unknown call codes 0x7FFF and 0x0000 return HV_STATUS_INVALID_HYPERCALL_CODE",
        || {
            for code in [0x7FFF, 0x0000] {
                let call = memory_call(HypercallCode(code)).into_bits();
                status(
                    hypercall::via_page(call, 0, 0),
                    HvStatus::INVALID_HYPERCALL_CODE,
                )
                .map_err(|f| tessera_guest_framework::failure!("code {code:#x}: {f}"))?;
            }
            Ok(())
        },
    );
    // § Hypercall Inputs: bits 30:27, 47:44 and 63:60 are RsvdZ; § Common
    // Hypercall Status Codes: "A reserved bit in the specified hypercall
    // input value is non-zero" gives HV_STATUS_INVALID_HYPERCALL_INPUT.
    suite.check(
        "a reserved bit (27, 44 or 60) in the input value returns HV_STATUS_INVALID_HYPERCALL_INPUT",
        || {
            for bit in [27, 44, 60] {
                let call = spin_wait_fast() | 1 << bit;
                status(
                    hypercall::via_page(call, SPIN_COUNT, 0),
                    HvStatus::INVALID_HYPERCALL_INPUT,
                )
                .map_err(|f| tessera_guest_framework::failure!("bit {bit}: {f}"))?;
            }
            Ok(())
        },
    );
    // § Hypercall Inputs: Rep Count and Rep Start Index "must be zero"
    // for a simple call; § Common Hypercall Status Codes: "a non-zero rep
    // count is passed to a non-rep call".
    suite.check(
        "a rep count or rep start index on a simple call returns HV_STATUS_INVALID_HYPERCALL_INPUT",
        || {
            let base = HypercallInputValue::from_bits(spin_wait_fast());
            for (what, call) in [
                ("rep count 1", base.with_rep_count(1)),
                ("rep start 1", base.with_rep_start_index(1)),
            ] {
                status(
                    hypercall::via_page(call.into_bits(), SPIN_COUNT, 0),
                    HvStatus::INVALID_HYPERCALL_INPUT,
                )
                .map_err(|f| tessera_guest_framework::failure!("{what}: {f}"))?;
            }
            Ok(())
        },
    );
    // § Variable Sized Hypercall Input Headers: "It is illegal to specify a
    // non-zero variable header size for a hypercall that is not explicitly
    // documented as accepting variable sized input headers ... a return
    // code of HV_STATUS_INVALID_HYPERCALL_INPUT."
    suite.check(
        "a variable header size on HvCallNotifyLongSpinWait returns HV_STATUS_INVALID_HYPERCALL_INPUT",
        || {
            let call = HypercallInputValue::from_bits(spin_wait_fast()).with_variable_header_size(1);
            status(
                hypercall::via_page(call.into_bits(), SPIN_COUNT, 0),
                HvStatus::INVALID_HYPERCALL_INPUT,
            )
            .map(drop)
        },
    );
    // Requirements, "CPUID.40000003:EBX": CreatePartitions "Must be clear";
    // the call is then not the guest's to make.
    let mut root_call = None;
    suite.check(
        "HvCallCreatePartition (0x0040) from a guest is refused: ACCESS_DENIED or INVALID_HYPERCALL_CODE",
        || {
            let call = memory_call(HypercallCode::CREATE_PARTITION).into_bits();
            root_call = Some(refused(hypercall::via_page(call, 0, 0))?);
            Ok(())
        },
    );
    if let Some(s) = root_call {
        suite.note(format_args!("HvCallCreatePartition returned {}", Status(s)));
    }
}

fn placement(suite: &mut Suite, config: &Config, pages: &Pages) {
    let spin_memory = memory_call(HypercallCode::NOTIFY_LONG_SPIN_WAIT).into_bits();
    memory::write_u64(pages.input, SPIN_COUNT);
    // § Alignment Requirements: "GPA pointers must be 8-byte aligned";
    // § Common Hypercall Status Codes: HV_STATUS_INVALID_ALIGNMENT.
    suite.check(
        "an input GPA not 8-byte aligned returns HV_STATUS_INVALID_ALIGNMENT",
        || {
            status(
                hypercall::via_page(spin_memory, pages.input + 4, 0),
                HvStatus::INVALID_ALIGNMENT,
            )
            .map(drop)
        },
    );
    // § Common Hypercall Status Codes, HV_STATUS_INVALID_ALIGNMENT: "The
    // input or output GPA pointer is not within the bounds of the GPA
    // space."
    let beyond = config.beyond_gpa_space();
    suite.check(
        format_args!(
            "an input GPA beyond the {}-bit GPA space returns HV_STATUS_INVALID_ALIGNMENT",
            config.physical_address_bits
        ),
        || {
            status(
                hypercall::via_page(spin_memory, beyond, 0),
                HvStatus::INVALID_ALIGNMENT,
            )
            .map(drop)
        },
    );
    // § Alignment Requirements: "The input and output parameter lists
    // cannot overlap or cross page boundaries"; § Common Hypercall Status
    // Codes: "The specified input or output parameter lists span pages."
    // Needs a call whose input is longer than 8 bytes.
    let crossing: Option<(&str, u64, u64)> = if config.flush_calls() {
        // HvCallFlushVirtualAddressSpace: 24 bytes, 16 before the boundary.
        let at = pages.output - 16;
        memory::write_u64(at, cpu::cr3());
        memory::write_u64(at + 8, 0b11);
        memory::write_u64(at + 16, 1);
        Some((
            "HvCallFlushVirtualAddressSpace",
            memory_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).into_bits(),
            at,
        ))
    } else if config.privileges.post_messages() {
        // HvCallPostMessage: 256 bytes, 128 before the boundary.
        let at = pages.output - 128;
        post_message_input(at);
        Some((
            "HvCallPostMessage",
            memory_call(HypercallCode::POST_MESSAGE).into_bits(),
            at,
        ))
    } else {
        None
    };
    match crossing {
        Some((name, call, at)) => {
            suite.check(
                format_args!(
                    "an input block crossing a page boundary ({name}) returns HV_STATUS_INVALID_ALIGNMENT"
                ),
                || {
                    status(hypercall::via_page(call, at, 0), HvStatus::INVALID_ALIGNMENT).map(drop)
                },
            );
        }
        None => suite.note(format_args!(
            "skipped: an input block crossing a page (no advertised call takes more than 8 bytes of input)"
        )),
    }
    memory::write_u64(pages.input, SPIN_COUNT);
}

/// An HvCallPostMessage input block at `at` for [`UNUSED_CONNECTION`], type
/// 1, no payload (TLFS md `hypercalls/HvCallPostMessage.md`).
fn post_message_input(at: u64) {
    for offset in (0..256).step_by(8) {
        memory::write_u64(at + offset, 0);
    }
    memory::write_u64(at, UNUSED_CONNECTION);
    memory::write_u64(at + 8, 1);
}

fn gated_calls(suite: &mut Suite, config: &Config, pages: &Pages) {
    let privileges = config.privileges;
    // TLFS md `hypercalls/HvExtCallQueryCapabilities.md`: "The availability
    // of this hypercall must be queried using the EnableExtendedHypercalls
    // partition privilege flag." Output: Capabilities (8 bytes), bits 63:5
    // reserved.
    let query = memory_call(HypercallCode::EXT_QUERY_CAPABILITIES).into_bits();
    if privileges.enable_extended_hypercalls() {
        let mut capabilities = None;
        suite.check(
            "HvExtCallQueryCapabilities returns SUCCESS and writes its output (reserved bits 63:5 clear)",
            || {
                memory::write_u64(pages.output, u64::MAX);
                status(hypercall::via_page(query, 0, pages.output), HvStatus::SUCCESS)?;
                let value = memory::read_u64(pages.output);
                capabilities = Some(value);
                let reserved = value & !HvExtendedCapabilities::from_bits(0x1F).into_bits();
                ensure!(reserved == 0, "capabilities {value:#x}: reserved bits set");
                Ok(())
            },
        );
        if let Some(value) = capabilities {
            suite.note(format_args!("extended capabilities {value:#x}"));
        }
        suite.check(
            "HvExtCallQueryCapabilities with a misaligned output GPA returns HV_STATUS_INVALID_ALIGNMENT",
            || {
                status(
                    hypercall::via_page(query, 0, pages.output + 4),
                    HvStatus::INVALID_ALIGNMENT,
                )
                .map(drop)
            },
        );
        suite.check(
            "HvExtCallQueryCapabilities with an output GPA beyond the GPA space returns HV_STATUS_INVALID_ALIGNMENT",
            || {
                status(
                    hypercall::via_page(query, 0, config.beyond_gpa_space()),
                    HvStatus::INVALID_ALIGNMENT,
                )
                .map(drop)
            },
        );
    } else {
        refused_check(
            suite,
            "HvExtCallQueryCapabilities without EnableExtendedHypercalls is refused",
            || hypercall::via_page(query, 0, pages.output),
        );
    }

    // TLFS md `hypercalls/HvCallPostMessage.md` Return Values:
    // HV_STATUS_ACCESS_DENIED "The caller's partition does not possess the
    // PostMessages privilege."
    let post = memory_call(HypercallCode::POST_MESSAGE).into_bits();
    post_message_input(pages.input);
    if privileges.post_messages() {
        implemented_check(
            suite,
            "HvCallPostMessage with PostMessages is implemented (connection 0xFFFFFF)",
            || hypercall::via_page(post, pages.input, 0),
        );
    } else {
        refused_check(
            suite,
            "HvCallPostMessage (SynIC) without PostMessages is refused",
            || hypercall::via_page(post, pages.input, 0),
        );
    }
    // `hypercalls/HvCallSignalEvent.md`: ConnectionId (4), FlagNumber (2),
    // RsvdZ (2) — one register as a fast call; ACCESS_DENIED without
    // SignalEvents.
    let signal = control(HypercallCode::SIGNAL_EVENT, true).into_bits();
    if privileges.signal_events() {
        implemented_check(
            suite,
            "fast HvCallSignalEvent with SignalEvents is implemented (connection 0xFFFFFF)",
            || hypercall::via_page(signal, UNUSED_CONNECTION, 0),
        );
    } else {
        refused_check(
            suite,
            "fast HvCallSignalEvent (SynIC) without SignalEvents is refused",
            || hypercall::via_page(signal, UNUSED_CONNECTION, 0),
        );
    }

    // TLFS md `virtual-mmu.md` § Virtual TLB Enhancements:
    // UseHypercallForAddressSpaceSwitch recommends HvCallSwitchVirtualAddressSpace
    // (0x0001, one 8-byte parameter: the new CR3).
    let switch = control(HypercallCode::SWITCH_VIRTUAL_ADDRESS_SPACE, true).into_bits();
    if config
        .recommendations
        .use_hypercall_for_address_space_switch()
    {
        suite.check(
            "fast HvCallSwitchVirtualAddressSpace to the current CR3 returns SUCCESS",
            || {
                status(
                    hypercall::via_page(switch, cpu::cr3(), 0),
                    HvStatus::SUCCESS,
                )
                .map(drop)
            },
        );
    } else {
        refused_check(
            suite,
            "HvCallSwitchVirtualAddressSpace without UseHypercallForAddressSpaceSwitch is refused",
            || hypercall::via_page(switch, cpu::cr3(), 0),
        );
    }
}

/// A check that the call is refused with ACCESS_DENIED or
/// INVALID_HYPERCALL_CODE, and a note saying which.
pub fn refused_check(
    suite: &mut Suite,
    name: &str,
    call: impl FnOnce() -> Result<hypercall::Returned, tessera_guest_framework::Caught>,
) {
    let mut seen = None;
    suite.check(
        format_args!("{name}: ACCESS_DENIED or INVALID_HYPERCALL_CODE"),
        || {
            seen = Some(refused(call())?);
            Ok(())
        },
    );
    if let Some(s) = seen {
        suite.note(format_args!("{name}: {}", Status(s)));
    }
}

/// A check that an advertised call is there: it returns without fault and
/// not with ACCESS_DENIED or INVALID_HYPERCALL_CODE; a note says what.
fn implemented_check(
    suite: &mut Suite,
    name: &str,
    call: impl FnOnce() -> Result<hypercall::Returned, tessera_guest_framework::Caught>,
) {
    let mut seen = None;
    suite.check(name, || -> Outcome {
        let r = returned(call())?;
        seen = Some(r.status());
        ensure!(
            !matches!(
                r.status(),
                HvStatus::ACCESS_DENIED | HvStatus::INVALID_HYPERCALL_CODE
            ),
            "status {}",
            Status(r.status())
        );
        Ok(())
    });
    if let Some(s) = seen {
        suite.note(format_args!("{name}: {}", Status(s)));
    }
}
