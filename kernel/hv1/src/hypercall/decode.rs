//! Decoding a hypercall: from the caller and its registers to a validated
//! [`Hypercall`], or the fault or status that ends it at once.

use tlfs::hypercall::HypercallClass;
use tlfs::{HvStatus, HypercallInputValue};

use super::call::{Hypercall, Input, Output, XmmBlock};
use super::caller::{Caller, CallingConvention, Fault};
use super::layout::{
    BlockSizes, FAST_BLOCK_BYTES, GPR_FAST_BYTES, check_gpa_block, fast_output_offset, overlap,
};
use super::policy::HypercallPolicy;
use super::registers::{HypercallRegisters, XmmRegisters};
use super::table::{self, CallSpec};

/// Why a hypercall ends before its handler runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Inject this exception; RIP stays on the hypercall instruction.
    Fault(Fault),
    /// Return this status (reps completed 0) and advance RIP: see
    /// [`Writeback::status`](super::Writeback::status).
    Status(HvStatus),
}

impl From<Fault> for Reject {
    fn from(fault: Fault) -> Self {
        Self::Fault(fault)
    }
}

impl From<HvStatus> for Reject {
    fn from(status: HvStatus) -> Self {
        Self::Status(status)
    }
}

/// Decodes the hypercall the caller issued.
///
/// Checks, in this order (TLFS md `hypercall-interface.md` § Ordering of
/// Error Conditions leaves the order to the hypervisor but asks that
/// `HV_STATUS_ACCESS_DENIED` win over statuses that reveal more):
///
/// 1. the environment — #UD for CPL > 0, real and virtual-8086 mode
///    ([`Caller::convention`]);
/// 2. the call code, masked to bits 15:0 before the lookup —
///    `HV_STATUS_INVALID_HYPERCALL_CODE` if Tessera does not implement it
///    or the partition was not told about it;
/// 3. the privilege — `HV_STATUS_ACCESS_DENIED`;
/// 4. the input value — `HV_STATUS_INVALID_HYPERCALL_INPUT` for a RsvdZ
///    bit, a variable header on a call without one, a rep count or rep
///    start on a simple call, a zero rep count or a rep start ≥ rep count
///    on a rep call (§ Hypercall Inputs, § Variable Sized Hypercall Input
///    Headers, § Common Hypercall Status Codes);
/// 5. fast calls — the register capacity and the XMM features (#UD when
///    not advertised, § XMM Fast Hypercall Input / Output);
/// 6. memory calls — alignment, page boundaries and overlap of the input
///    and output blocks (`HV_STATUS_INVALID_ALIGNMENT`, § Alignment
///    Requirements, § Common Hypercall Status Codes).
///
/// Guest memory is not touched: whether the blocks are mapped is found out
/// when the handler reads them ([`Hypercall::read_input`]).
///
/// # Errors
///
/// The [`Reject`] that ends the call, as listed above.
pub fn decode(
    caller: Caller,
    regs: &HypercallRegisters,
    xmm: &(impl XmmRegisters + ?Sized),
    policy: &HypercallPolicy,
) -> Result<Hypercall, Reject> {
    let convention = caller.convention()?;
    let control = HypercallInputValue::from_bits(regs.control(convention));
    // The bitfield accessor masks to bits 15:0: garbage in bits 63:16
    // never reaches the lookup.
    let code = control.call_code();

    let (index, spec) = table::lookup(code).ok_or(HvStatus::INVALID_HYPERCALL_CODE)?;
    if !policy.advertised.contains_index(index) {
        return Err(HvStatus::INVALID_HYPERCALL_CODE.into());
    }
    let required = spec.required_privileges.into_bits();
    if policy.privileges.into_bits() & required != required {
        return Err(HvStatus::ACCESS_DENIED.into());
    }

    check_control(spec, control)?;
    let sizes = BlockSizes::new(spec, control.variable_header_size(), control.rep_count());

    let (input, output) = if control.fast() {
        fast_blocks(convention, regs, xmm, policy, sizes)?
    } else {
        memory_blocks(convention, regs, sizes)?
    };

    Ok(Hypercall {
        code,
        spec,
        control,
        convention,
        fast: control.fast(),
        variable_header_bytes: u32::from(control.variable_header_size()) * 8,
        rep_count: control.rep_count(),
        rep_start: control.rep_start_index(),
        input,
        input_len: sizes.input,
        output,
        output_len: sizes.output,
        is_nested: control.is_nested(),
    })
}

/// Step 4: the input value's own rules.
fn check_control(spec: &CallSpec, control: HypercallInputValue) -> Result<(), HvStatus> {
    // § Hypercall Inputs: RsvdZ 30:27, 47:44, 63:60 "Must be zero";
    // § Common Hypercall Status Codes: "A reserved bit in the specified
    // hypercall input value is non-zero."
    if control.has_reserved_bits() {
        return Err(HvStatus::INVALID_HYPERCALL_INPUT);
    }
    // § Variable Sized Hypercall Input Headers: "It is illegal to specify a
    // non-zero variable header size for a hypercall that is not explicitly
    // documented as accepting variable sized input headers. In such a case
    // the hypercall will result in a return code of
    // HV_STATUS_INVALID_HYPERCALL_INPUT."
    if control.variable_header_size() != 0 && !spec.variable_header {
        return Err(HvStatus::INVALID_HYPERCALL_INPUT);
    }
    let (count, start) = (control.rep_count(), control.rep_start_index());
    let valid = match spec.class {
        // § Hypercall Inputs: Rep Count and Rep Start Index "must be zero
        // otherwise" (for a non-rep call).
        HypercallClass::Simple => count == 0 && start == 0,
        // § Hypercall Inputs: "the rep count value must always be greater
        // than the rep start index"; § Common Hypercall Status Codes: "a
        // zero rep count is passed to a rep call" / "The rep start index is
        // not less than the rep count."
        HypercallClass::Rep => start < count,
    };
    if valid {
        Ok(())
    } else {
        Err(HvStatus::INVALID_HYPERCALL_INPUT)
    }
}

/// Step 5: a fast call's input registers and output placement.
fn fast_blocks(
    convention: CallingConvention,
    regs: &HypercallRegisters,
    xmm: &(impl XmmRegisters + ?Sized),
    policy: &HypercallPolicy,
    sizes: BlockSizes,
) -> Result<(Input, Output), Reject> {
    let first = regs.input_param(convention);
    let second = regs.output_param(convention);
    let input = match sizes.input {
        0 => Input::None,
        1..=GPR_FAST_BYTES => Input::Registers([first, second]),
        // § XMM Fast Hypercall Input: "Any attempt to use this interface
        // when the hypervisor does not indicate availability will result in
        // a #UD fault."
        _ if sizes.input <= FAST_BLOCK_BYTES && !policy.xmm_fast_input => {
            return Err(Fault::InvalidOpcode.into());
        }
        _ if sizes.input <= FAST_BLOCK_BYTES => Input::Xmm(XmmBlock::gather(first, second, xmm)),
        // Choice: more input than the 112-byte register block can carry.
        // The TLFS names no status; the input value (rep count or variable
        // header size) is what is wrong.
        _ => return Err(HvStatus::INVALID_HYPERCALL_INPUT.into()),
    };
    if sizes.output == 0 {
        return Ok((input, Output::None));
    }
    // § XMM Fast Hypercall Output: "This is only supported on x64
    // platforms" (its register table has no x86 column) and "Any attempt
    // to use this interface when the hypervisor does not indicate
    // availability will result in a #UD fault." A plain fast call has "no
    // output parameters" (§ introduction), so any fast output is XMM
    // output.
    if !policy.xmm_fast_output || convention != CallingConvention::X64 {
        return Err(Fault::InvalidOpcode.into());
    }
    let offset = fast_output_offset(sizes.input);
    if sizes.output > FAST_BLOCK_BYTES - offset {
        // Choice, as for oversized input.
        return Err(HvStatus::INVALID_HYPERCALL_INPUT.into());
    }
    // offset ≤ 112 here, so it fits a u8.
    Ok((
        input,
        Output::Registers {
            offset: offset as u8,
        },
    ))
}

/// Step 6: a memory call's input and output blocks.
fn memory_blocks(
    convention: CallingConvention,
    regs: &HypercallRegisters,
    sizes: BlockSizes,
) -> Result<(Input, Output), HvStatus> {
    let in_gpa = regs.input_param(convention);
    let out_gpa = regs.output_param(convention);
    check_gpa_block(in_gpa, sizes.input)?;
    check_gpa_block(out_gpa, sizes.output)?;
    // § Alignment Requirements: "The input and output parameter lists
    // cannot overlap". Choice: the status of its sibling rule (page
    // crossing) in the same sentence.
    if overlap(in_gpa, sizes.input, out_gpa, sizes.output) {
        return Err(HvStatus::INVALID_ALIGNMENT);
    }
    let input = if sizes.input == 0 {
        Input::None
    } else {
        Input::Gpa(in_gpa)
    };
    let output = if sizes.output == 0 {
        Output::None
    } else {
        Output::Gpa(out_gpa)
    };
    Ok((input, output))
}
