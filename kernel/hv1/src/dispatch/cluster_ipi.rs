//! `HvCallSendSyntheticClusterIpi` (`0x000B`) and
//! `HvCallSendSyntheticClusterIpiEx` (`0x0015`): "sends a virtual fixed
//! interrupt to the specified virtual processor set. It does not support
//! NMIs."
//!
//! TLFS md `hypercalls/HvCallSendSyntheticClusterIpi.md`,
//! `HvCallSendSyntheticClusterIpiEx.md`, `virtual-interrupts.md` §
//! Synthetic Cluster IPI, `datatypes/hv_input_vtl.md`,
//! `datatypes/hv_vp_set.md`; TLFS 6.0b §10.5.x ("Return Values" — the
//! Markdown pages have none).
//!
//! Input: `Vector` (4 bytes), `TargetVtl` (`HV_INPUT_VTL`, 1 byte), 3
//! reserved bytes, then a 64-bit `ProcessorMask` (`0x000B`) or an
//! `HV_VP_SET` (`0x0015`, whose `BankContents[]` is the variable header).
//!
//! The decision here is pure; the kernel delivers the vector as a fixed,
//! edge-triggered interrupt to each named VP that exists
//! (`tessera_lapic::LocalApic::accept`) and then applies the completion.

use tlfs::HvStatus;

use super::vp_set::{ProcessorSet, VpSet, VpSetError, qword, read_vp_set};
use super::{Completion, Outcome, fail, param_failure};
use crate::hypercall::{GuestMemory, Hypercall};
use tlfs::HypercallCode;

/// The lowest and highest vector the calls accept: "Must be between >=
/// 0x10 and <= 0xFF".
pub const CLUSTER_IPI_VECTORS: core::ops::RangeInclusive<u32> = 0x10..=0xFF;

/// A decoded cluster IPI: send `vector` to `targets`.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClusterIpi {
    /// The vector, `0x10`–`0xFF`.
    pub vector: u8,
    /// The VPs (indices of VPs that do not exist are skipped: the TLFS
    /// names no error for them; an empty set sends nothing and succeeds).
    pub targets: ProcessorSet,
}

/// `HV_INPUT_VTL`: bits 3:0 `TargetVtl`, bit 4 `UseTargetVtl`, bits 7:5
/// ReservedZ.
const INPUT_VTL_RESERVED: u8 = 0xE0;
const USE_TARGET_VTL: u8 = 0x10;

/// Checks and decodes a cluster-IPI call (`call.code` is `0x000B` or
/// `0x0015`, already accepted by [`decode`](crate::hypercall::decode)).
/// `Ok` carries the IPI and the success completion to apply after
/// delivering it; `Err` the finished outcome (a status or a memory
/// intercept).
///
/// `HV_STATUS_INVALID_PARAMETER` ("One or more fields of the specified
/// interrupt control are invalid or reserved bits within the interrupt
/// control are set", TLFS 6.0b) for:
///
/// - a vector outside `0x10`–`0xFF` (the pages' "Must be" rule);
/// - `TargetVtl` with ReservedZ bits set, or naming a VTL other than 0
///   with `UseTargetVtl` (Tessera's partitions have only VTL 0);
/// - the three reserved bytes non-zero (**Choice**: reserved input is
///   RsvdZ, as everywhere in the TLFS);
/// - (`Ex`) an `HV_VP_SET` format other than sparse or all, or a
///   `ValidBanksMask` that disagrees with the variable header's size —
///   the rule the flush calls apply, read by the same code.
///
/// **Choice:** an empty mask or set succeeds and sends nothing (the TLFS
/// names no error; Linux's KVM does the same).
// No allocator in the kernel: the outcome travels by value, as
// `dispatch`'s does.
#[allow(clippy::result_large_err)]
pub fn cluster_ipi(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
) -> Result<(ClusterIpi, Completion), Outcome> {
    let ex = call.code == HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX;
    // Vector (0), TargetVtl (4), reserved (5..8), then ProcessorMask (8)
    // or the HV_VP_SET's Format (8) and ValidBanksMask (16).
    let mut header = [0_u8; 24];
    let fixed = usize::from(call.spec.input_header_bytes).min(header.len());
    if let Err(error) = call.read_header(memory, &mut header[..fixed]) {
        return Err(param_failure(*call, error));
    }
    let vector = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let target_vtl = header[4];
    let invalid = !CLUSTER_IPI_VECTORS.contains(&vector)
        || target_vtl & INPUT_VTL_RESERVED != 0
        || (target_vtl & USE_TARGET_VTL != 0 && target_vtl & 0xF != 0)
        || header[5..8] != [0; 3];
    if invalid {
        return Err(fail(call, HvStatus::INVALID_PARAMETER));
    }
    let targets = if ex {
        match read_vp_set(call, memory, qword(&header, 8), qword(&header, 16)) {
            Ok(set) => set,
            Err(VpSetError::Invalid) => return Err(fail(call, HvStatus::INVALID_PARAMETER)),
            Err(VpSetError::Param(error)) => return Err(param_failure(*call, error)),
        }
    } else {
        ProcessorSet::Set(VpSet::from_mask(qword(&header, 8)))
    };
    Ok((
        ClusterIpi {
            vector: vector as u8,
            targets,
        },
        Completion::status(call.convention, HvStatus::SUCCESS),
    ))
}
