//! Rep hypercalls and variable-size headers, through the virtual TLB flush
//! calls: HvCallFlushVirtualAddressSpace (0x0002), …List (0x0003, rep),
//! …SpaceEx (0x0013, variable header), …ListEx (0x0014, rep and variable
//! header); and XMM fast input with the 24-byte flush input.
//!
//! TLFS md `hypercall-interface.md` § Hypercall Classes, § Variable Sized
//! Hypercall Input Headers, § Hypercall Outputs ("the reps complete field is
//! the total number of reps complete and not relative to the rep start
//! index"), § XMM Fast Hypercall Input; `virtual-mmu.md`; the
//! `hypercalls/HvCallFlush*.md` pages; TLFS 6.0b §9.3 for their status
//! codes; `datatypes/hv_vp_set.md`.
//!
//! Each successful flush is also checked for its effect: a scratch virtual
//! page is mapped to one physical page, read (so the TLB may hold the
//! translation), then pointed at another page *without* INVLPG. After the
//! flush returns, "the observable effects of all flushes on the specified
//! virtual processors have occurred", so a read must see the new page.

use tessera_guest_framework::exception::vector;
use tessera_guest_framework::{Outcome, Suite, cpu, fail, failure};
use tlfs::hypercall::params::{HvFlushFlags, HvGenericSetFormat};
use tlfs::{HvStatus, HypercallCode};

use crate::call_checks::refused_check;
use crate::config::Config;
use crate::expect::{self, status, success_with_reps};
use crate::hypercall::{self, Status, control};
use crate::memory::{self, Mapping, scratch_va, slot};
use crate::pages::{FLUSH_PAGES, Pages};

const OLD_MARK: u64 = 0x01D0_0000_0000_0000;
const NEW_MARK: u64 = 0x0E30_0000_0000_0000;
/// ProcessorMask / bank 0 contents selecting VP 0, this one.
const VP0: u64 = 1;

fn flags(all_processors: bool, all_spaces: bool) -> u64 {
    HvFlushFlags::new()
        .with_all_processors(all_processors)
        .with_all_virtual_address_spaces(all_spaces)
        .into_bits()
}

fn va(i: usize) -> u64 {
    scratch_va(slot::FLUSH + i as u64)
}

/// Maps the first `n` flush slots to their old pages, reads them, and
/// repoints them at the new pages without invalidating.
fn make_stale(pages: &Pages, n: usize) {
    for i in 0..n {
        memory::write_u64(pages.flush_old[i], OLD_MARK | i as u64);
        memory::write_u64(pages.flush_new[i], NEW_MARK | i as u64);
        memory::map(slot::FLUSH + i as u64, pages.flush_old[i], Mapping::Kernel);
        let _ = memory::read_u64(va(i));
        memory::set_entry_without_flush(
            slot::FLUSH + i as u64,
            pages.flush_new[i],
            Mapping::Kernel,
        );
    }
}

/// Slots `from..n` must now read their new pages; then all are unmapped.
fn expect_fresh(n: usize, from: usize) -> Outcome {
    let mut outcome = Ok(());
    for i in from..n {
        let found = memory::read_u64(va(i));
        if found != NEW_MARK | i as u64 && outcome.is_ok() {
            outcome = Err(if found == OLD_MARK | i as u64 {
                failure!(
                    "virtual page {:#x} still reads the old page after the flush",
                    va(i)
                )
            } else {
                failure!("virtual page {:#x} reads {found:#x}", va(i))
            });
        }
    }
    for i in 0..FLUSH_PAGES {
        memory::unmap(slot::FLUSH + i as u64);
    }
    outcome
}

/// The 24-byte header of HvCallFlushVirtualAddressSpace/List at `at`.
fn write_header(at: u64, flags: u64, mask: u64) {
    memory::write_u64(at, cpu::cr3());
    memory::write_u64(at + 8, flags);
    memory::write_u64(at + 16, mask);
}

/// The first `n` flush slots as GVA ranges of one page each (low 12 bits:
/// additional pages, 0) at `at`.
fn write_gva_list(at: u64, n: usize) {
    for i in 0..n {
        memory::write_u64(at + 8 * i as u64, va(i));
    }
}

fn rep_call(code: HypercallCode, count: u16, start: u16, variable_header: u16) -> u64 {
    control(code, false)
        .with_rep_count(count)
        .with_rep_start_index(start)
        .with_variable_header_size(variable_header)
        .into_bits()
}

pub fn run(suite: &mut Suite, config: &Config, pages: &Pages) {
    if config.flush_calls() {
        plain(suite, pages);
        xmm(suite, config, pages);
    } else {
        write_header(pages.input, flags(true, true), 0);
        let space = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE, false).into_bits();
        refused_check(
            suite,
            "HvCallFlushVirtualAddressSpace without a flush recommendation is refused",
            || hypercall::via_page(space, pages.input, 0),
        );
        write_gva_list(pages.input + 24, 1);
        let list = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, 1, 0, 0);
        refused_check(
            suite,
            "HvCallFlushVirtualAddressList without a flush recommendation is refused",
            || hypercall::via_page(list, pages.input, 0),
        );
        suite.note(format_args!(
            "skipped: rep hypercall and XMM fast input checks (no flush hypercall is recommended)"
        ));
    }
    if config.ex_calls() {
        ex(suite, pages);
    } else {
        write_header(pages.input, flags(true, true), 0);
        memory::write_u64(pages.input + 16, HvGenericSetFormat::ALL.0);
        memory::write_u64(pages.input + 24, 0);
        let space = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX, false).into_bits();
        refused_check(
            suite,
            "HvCallFlushVirtualAddressSpaceEx without UseExProcessorMasks is refused",
            || hypercall::via_page(space, pages.input, 0),
        );
        write_gva_list(pages.input + 32, 1);
        let list = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX, 1, 0, 0);
        refused_check(
            suite,
            "HvCallFlushVirtualAddressListEx without UseExProcessorMasks is refused",
            || hypercall::via_page(list, pages.input, 0),
        );
    }
}

fn plain(suite: &mut Suite, pages: &Pages) {
    let input = pages.input;
    let space = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE, false).into_bits();
    suite.check(
        "HvCallFlushVirtualAddressSpace (CR3, VP 0) returns SUCCESS and leaves no stale translation",
        || {
            make_stale(pages, 1);
            write_header(input, 0, VP0);
            let result = status(hypercall::via_page(space, input, 0), HvStatus::SUCCESS);
            let fresh = expect_fresh(1, 0);
            result?;
            fresh
        },
    );
    // § Hypercall Classes: a rep call processes `rep count` elements; the
    // result's reps completed is the total.
    suite.check(
        "HvCallFlushVirtualAddressList with 4 reps returns SUCCESS, 4 reps completed, no stale translation",
        || {
            make_stale(pages, 4);
            write_header(input, 0, VP0);
            write_gva_list(input + 24, 4);
            let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, 4, 0, 0);
            let result = success_with_reps(hypercall::via_page(call, input, 0), 4);
            let fresh = expect_fresh(4, 0);
            result?;
            fresh
        },
    );
    // § Hypercall Classes: "For subsequent invocations of the rep
    // hypercall, the rep start index indicates how many elements have been
    // completed"; § Hypercall Outputs: "if the caller specified a rep start
    // index of 5, and a rep count of 10, the reps complete field would
    // indicate 10 upon successful completion."
    suite.check(
        "HvCallFlushVirtualAddressList restarted at rep start 2 of 4: SUCCESS, 4 reps completed, reps 2-3 flushed",
        || {
            make_stale(pages, 4);
            write_header(input, 0, VP0);
            write_gva_list(input + 24, 4);
            let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, 4, 2, 0);
            let result = success_with_reps(hypercall::via_page(call, input, 0), 4);
            let fresh = expect_fresh(4, 2);
            result?;
            fresh
        },
    );
    // § Hypercall Inputs: "the rep count value must always be greater than
    // the rep start index"; § Common Hypercall Status Codes: "a zero rep
    // count is passed to a rep call" / "The rep start index is not less
    // than the rep count."
    suite.check(
        "HvCallFlushVirtualAddressList with rep start = rep count, or rep count 0: INVALID_HYPERCALL_INPUT",
        || {
            write_header(input, flags(true, true), 0);
            write_gva_list(input + 24, 4);
            for (count, start) in [(4, 4), (0, 0)] {
                let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, count, start, 0);
                status(
                    hypercall::via_page(call, input, 0),
                    HvStatus::INVALID_HYPERCALL_INPUT,
                )
                .map_err(|f| failure!("rep count {count}, start {start}: {f}"))?;
            }
            Ok(())
        },
    );
    // TLFS 6.0b §9.3 HvFlushVirtualAddressSpace Return Values:
    // HV_STATUS_INVALID_PARAMETER for "One or more reserved bits within the
    // flags register are set" and "All of the bits in the processor bit mask
    // are set to zero, and the "flush all processors" flag was not
    // specified".
    suite.check(
        "HvCallFlushVirtualAddressSpace with a reserved flag (bit 4) returns HV_STATUS_INVALID_PARAMETER",
        || {
            write_header(input, 1 << 4, VP0);
            status(hypercall::via_page(space, input, 0), HvStatus::INVALID_PARAMETER).map(drop)
        },
    );
    suite.check(
        "HvCallFlushVirtualAddressSpace with an empty processor mask returns HV_STATUS_INVALID_PARAMETER",
        || {
            write_header(input, 0, 0);
            status(hypercall::via_page(space, input, 0), HvStatus::INVALID_PARAMETER).map(drop)
        },
    );
    // `hypercalls/HvCallFlushVirtualAddressList.md`:
    // "HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY does not make sense for this call
    // and is treated as an invalid option."
    suite.check(
        "HvCallFlushVirtualAddressList with HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY returns HV_STATUS_INVALID_PARAMETER",
        || {
            let non_global = HvFlushFlags::new().with_non_global_mappings_only(true).into_bits();
            write_header(input, non_global, VP0);
            write_gva_list(input + 24, 1);
            let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, 1, 0, 0);
            status(hypercall::via_page(call, input, 0), HvStatus::INVALID_PARAMETER).map(drop)
        },
    );
}

/// HV_VP_SET after the 16-byte Ex header: Format, ValidBanksMask, then the
/// bank contents, which are the variable header.
fn write_ex_header(at: u64, format: HvGenericSetFormat, banks_mask: u64, banks: &[u64]) {
    write_header(at, 0, 0);
    memory::write_u64(at + 16, format.0);
    memory::write_u64(at + 24, banks_mask);
    for (i, bank) in banks.iter().enumerate() {
        memory::write_u64(at + 32 + 8 * i as u64, *bank);
    }
}

fn ex(suite: &mut Suite, pages: &Pages) {
    let input = pages.input;
    let space = |variable_header: u16| {
        control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX, false)
            .with_variable_header_size(variable_header)
            .into_bits()
    };
    // `datatypes/hv_vp_set.md`: format 0 is a sparse set, one bank per bit
    // of ValidBanksMask; the variable header holds the bank contents
    // (Variable Header Size = (total header - fixed header) / 8).
    suite.check(
        "HvCallFlushVirtualAddressSpaceEx, sparse HV_VP_SET of VP 0 (1 QWORD variable header): SUCCESS, flushed",
        || {
            make_stale(pages, 1);
            write_ex_header(input, HvGenericSetFormat::SPARSE_4K, 1, &[VP0]);
            let result = status(hypercall::via_page(space(1), input, 0), HvStatus::SUCCESS);
            let fresh = expect_fresh(1, 0);
            result?;
            fresh
        },
    );
    // Format 1: "All VPs (belonging to a partition)"; no bank contents, so
    // no variable header ("the corresponding bits in the hypercall input
    // should be set to zero").
    suite.check(
        "HvCallFlushVirtualAddressSpaceEx, all-processors HV_VP_SET (no variable header): SUCCESS, flushed",
        || {
            make_stale(pages, 1);
            write_ex_header(input, HvGenericSetFormat::ALL, 0, &[]);
            let result = status(hypercall::via_page(space(0), input, 0), HvStatus::SUCCESS);
            let fresh = expect_fresh(1, 0);
            result?;
            fresh
        },
    );
    // § Variable Sized Hypercall Input Headers: for a rep call "the rep
    // elements lie after the header in the usual fashion, except that the
    // header's total size includes both the fixed and variable portions".
    suite.check(
        "HvCallFlushVirtualAddressListEx, sparse set, 3 reps after the variable header: SUCCESS, 3 completed, flushed",
        || {
            make_stale(pages, 3);
            write_ex_header(input, HvGenericSetFormat::SPARSE_4K, 1, &[VP0]);
            write_gva_list(input + 40, 3);
            let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX, 3, 0, 1);
            let result = success_with_reps(hypercall::via_page(call, input, 0), 3);
            let fresh = expect_fresh(3, 0);
            result?;
            fresh
        },
    );
    suite.check(
        "HvCallFlushVirtualAddressListEx, all-processors set, restarted at rep start 1 of 3: SUCCESS, 3 completed",
        || {
            make_stale(pages, 3);
            write_ex_header(input, HvGenericSetFormat::ALL, 0, &[]);
            write_gva_list(input + 32, 3);
            let call = rep_call(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX, 3, 1, 0);
            let result = success_with_reps(hypercall::via_page(call, input, 0), 3);
            let fresh = expect_fresh(3, 1);
            result?;
            fresh
        },
    );
    // `hv_vp_set.md`: "For every bit that is set with ValidBanksMask, there
    // must be an element in the BanksContents array." Two banks with one
    // QWORD of variable header is malformed; no status is named.
    let mut malformed = None;
    suite.check(
        "HvCallFlushVirtualAddressSpaceEx with more banks than variable header QWORDs does not succeed",
        || {
            write_ex_header(input, HvGenericSetFormat::SPARSE_4K, 0b11, &[VP0]);
            malformed = Some(expect::not_success(hypercall::via_page(space(1), input, 0))?);
            Ok(())
        },
    );
    if let Some(s) = malformed {
        suite.note(format_args!(
            "the malformed HV_VP_SET returned {}",
            Status(s)
        ));
    }
}

fn xmm(suite: &mut Suite, config: &Config, pages: &Pages) {
    // HvCallFlushVirtualAddressSpace has 24 bytes of input: RDX
    // (AddressSpace), R8 (Flags), XMM0 (ProcessorMask) as an XMM fast call.
    let call = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE, true).into_bits();
    let cr4 = match hypercall::enable_sse() {
        Ok(cr4) => cr4,
        Err(why) => {
            suite.note(format_args!("skipped: the XMM fast call checks ({why})"));
            return;
        }
    };
    if config.features.xmm_registers_for_fast_hypercall_available() {
        // § XMM Fast Hypercall Input (x86/x64), CPUID 0x40000003 EDX bit 4.
        suite.check(
            "an XMM fast HvCallFlushVirtualAddressSpace (mask in XMM0) returns SUCCESS and flushes",
            || {
                make_stale(pages, 1);
                let result = status(
                    hypercall::via_page_xmm(call, cpu::cr3(), 0, VP0),
                    HvStatus::SUCCESS,
                );
                let fresh = expect_fresh(1, 0);
                result?;
                fresh
            },
        );
    } else {
        // "Any attempt to use this interface when the hypervisor does not
        // indicate availability will result in a #UD fault."
        suite.check(
            "an XMM fast call (24-byte HvCallFlushVirtualAddressSpace) without XMM input available raises UD",
            || match hypercall::via_page_xmm(call, cpu::cr3(), flags(true, true), VP0) {
                Err(caught) if caught.vector == vector::INVALID_OPCODE => Ok(()),
                Err(caught) => fail!("raised {caught}"),
                Ok(r) => fail!("returned {} (RAX {:#x})", Status(r.status()), r.rax),
            },
        );
    }
    hypercall::restore_cr4(cr4);
}
