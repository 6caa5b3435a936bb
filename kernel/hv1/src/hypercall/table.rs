//! The per-call table: class, parameter block sizes and required privilege
//! of every hypercall Tessera implements.
//!
//! To add a call, append a [`CallSpec`] to [`CALLS`] with the sizes from
//! its `hypercalls/*.md` page ("Input Parameters", "Input List Element",
//! "Output Parameters", "Output List Element"), the class from its "Call
//! Code" line, and the privilege from its "Return Values" /
//! `HV_STATUS_ACCESS_DENIED` row. The tests check each entry against the
//! `tlfs` parameter types.

use tlfs::HypercallCode;
use tlfs::hypercall::HypercallClass;
use tlfs::privilege::HvPartitionPrivilegeMask;

/// What the decoder needs to know about one hypercall.
///
/// Sizes are in bytes. A memory (non-fast) call's input block is
/// `input_header_bytes + variable header + rep_count *
/// input_element_bytes`; its output block is `output_header_bytes +
/// rep_count * output_element_bytes` (TLFS md `hypercall-interface.md` §
/// Hypercall Classes, § Variable Sized Hypercall Input Headers; TLFS 6.0b
/// §3.10 for the header/list element split).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSpec {
    /// The call code.
    pub code: HypercallCode,
    /// Simple or rep.
    pub class: HypercallClass,
    /// Size of the fixed input header.
    pub input_header_bytes: u16,
    /// Whether the call accepts a variable-sized input header (the
    /// "Variable header size" field of the input value may be non-zero).
    pub variable_header: bool,
    /// Size of one input list element (rep calls).
    pub input_element_bytes: u16,
    /// Size of the fixed output header.
    pub output_header_bytes: u16,
    /// Size of one output list element (rep calls).
    pub output_element_bytes: u16,
    /// Privileges the caller must hold (`HV_STATUS_ACCESS_DENIED`
    /// otherwise); empty for none.
    pub required_privileges: HvPartitionPrivilegeMask,
}

const NONE: HvPartitionPrivilegeMask = HvPartitionPrivilegeMask::new();

/// A simple call with a fixed input header and no output.
const fn simple_in(code: HypercallCode, input_header_bytes: u16) -> CallSpec {
    CallSpec {
        code,
        class: HypercallClass::Simple,
        input_header_bytes,
        variable_header: false,
        input_element_bytes: 0,
        output_header_bytes: 0,
        output_element_bytes: 0,
        required_privileges: NONE,
    }
}

/// `HV_VP_SET` fixed part: `Format` and `ValidBanksMask` (TLFS md
/// `datatypes/hv_vp_set.md`). Its `BankContents[]` is the variable header.
const VP_SET_FIXED_BYTES: u16 = 16;

/// Every hypercall Tessera implements. Order is the bit order of
/// [`HypercallSet`](super::HypercallSet); at most
/// [`MAX_CALLS`] entries.
pub const CALLS: &[CallSpec] = &[
    // TLFS md `hypercalls/HvCallFlushVirtualAddressSpace.md`: 0x0002
    // (Simple); AddressSpace, Flags, ProcessorMask (8 bytes each); no
    // output. TLFS 6.0b §9.3 "Restrictions: None".
    simple_in(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE, 24),
    // TLFS md `hypercalls/HvCallFlushVirtualAddressList.md`: 0x0003 (Rep);
    // the same 24-byte header; list element GvaRange (8 bytes); no output.
    CallSpec {
        class: HypercallClass::Rep,
        input_element_bytes: 8,
        ..simple_in(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST, 24)
    },
    // TLFS md `hypercalls/HvCallNotifyLongSpinWait.md`: 0x0008 (Simple);
    // SpinCount (4) + RsvdZ (4); advisory, "only HV_STATUS_SUCCESS".
    simple_in(HypercallCode::NOTIFY_LONG_SPIN_WAIT, 8),
    // TLFS md `hypercalls/HvCallFlushVirtualAddressSpaceEx.md`: 0x0013
    // (Simple); AddressSpace (8), Flags (8), ProcessorSet (variable, at
    // offset 16). The fixed header runs to the end of the HV_VP_SET's
    // fixed part; BankContents[] is the variable header.
    CallSpec {
        variable_header: true,
        ..simple_in(
            HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX,
            16 + VP_SET_FIXED_BYTES,
        )
    },
    // TLFS md `hypercalls/HvCallFlushVirtualAddressListEx.md`: 0x0014
    // (Rep); header as 0x0013; list element GvaRange (8 bytes), after the
    // whole (fixed + variable) header.
    CallSpec {
        class: HypercallClass::Rep,
        variable_header: true,
        input_element_bytes: 8,
        ..simple_in(
            HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX,
            16 + VP_SET_FIXED_BYTES,
        )
    },
    // TLFS md `hypercalls/HvCallPostMessage.md`: 0x005C (Simple);
    // ConnectionId (4), RsvdZ (4), MessageType (4), PayloadSize (4),
    // Message (240) = 256; ACCESS_DENIED without PostMessages.
    CallSpec {
        required_privileges: NONE.with_post_messages(true),
        ..simple_in(HypercallCode::POST_MESSAGE, 256)
    },
    // TLFS md `hypercalls/HvCallSignalEvent.md`: 0x005D (Simple);
    // ConnectionId (4), FlagNumber (2), RsvdZ (2); ACCESS_DENIED without
    // SignalEvents.
    CallSpec {
        required_privileges: NONE.with_signal_events(true),
        ..simple_in(HypercallCode::SIGNAL_EVENT, 8)
    },
    // TLFS md `hypercalls/HvExtCallQueryCapabilities.md`: 0x8001 (Simple);
    // no input; output Capabilities (8). "The availability of this
    // hypercall must be queried using the EnableExtendedHypercalls
    // partition privilege flag."
    CallSpec {
        output_header_bytes: 8,
        required_privileges: NONE.with_enable_extended_hypercalls(true),
        ..simple_in(HypercallCode::EXT_QUERY_CAPABILITIES, 0)
    },
    // TLFS md `hypercalls/HvCallSendSyntheticClusterIpi.md`: 0x000B
    // (Simple); Vector (4), TargetVtl (1), padding (3), ProcessorMask (8);
    // no output, no privilege (its availability is the
    // UseSyntheticClusterIpi recommendation).
    simple_in(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI, 16),
    // TLFS md `hypercalls/HvCallSendSyntheticClusterIpiEx.md`: 0x0015
    // (Simple); Vector, TargetVtl, padding (8), ProcessorSet (HV_VP_SET,
    // variable: the fixed part ends the header, BankContents[] is the
    // variable header).
    CallSpec {
        variable_header: true,
        ..simple_in(
            HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX,
            8 + VP_SET_FIXED_BYTES,
        )
    },
];

/// Capacity of [`HypercallSet`](super::HypercallSet).
pub const MAX_CALLS: usize = 128;

const _: () = assert!(CALLS.len() <= MAX_CALLS);

/// The table entry for `code` and its index in [`CALLS`], or `None` for a
/// call Tessera does not implement.
#[must_use]
pub fn lookup(code: HypercallCode) -> Option<(usize, &'static CallSpec)> {
    CALLS.iter().enumerate().find(|(_, spec)| spec.code == code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tlfs::hypercall::params::{
        HvInputFlushVirtualAddressSpace, HvInputFlushVirtualAddressSpaceExHeader,
        HvInputNotifyLongSpinWait, HvInputPostMessage, HvInputSignalEvent, HvVpSetHeader,
    };
    use tlfs::types::HvGva;

    fn spec(code: HypercallCode) -> &'static CallSpec {
        lookup(code).expect("in the table").1
    }

    #[test]
    fn sizes_match_tlfs_types() {
        let fva = size_of::<HvInputFlushVirtualAddressSpace>() as u16;
        let ex = (size_of::<HvInputFlushVirtualAddressSpaceExHeader>() + size_of::<HvVpSetHeader>())
            as u16;
        let gva = size_of::<HvGva>() as u16;
        assert_eq!(
            spec(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).input_header_bytes,
            fva
        );
        let list = spec(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST);
        assert_eq!(
            (list.input_header_bytes, list.input_element_bytes),
            (fva, gva)
        );
        assert_eq!(
            spec(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX).input_header_bytes,
            ex
        );
        let list_ex = spec(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX);
        assert_eq!(
            (list_ex.input_header_bytes, list_ex.input_element_bytes),
            (ex, gva)
        );
        assert_eq!(
            spec(HypercallCode::NOTIFY_LONG_SPIN_WAIT).input_header_bytes as usize,
            size_of::<HvInputNotifyLongSpinWait>()
        );
        assert_eq!(
            spec(HypercallCode::POST_MESSAGE).input_header_bytes as usize,
            size_of::<HvInputPostMessage>()
        );
        assert_eq!(
            spec(HypercallCode::SIGNAL_EVENT).input_header_bytes as usize,
            size_of::<HvInputSignalEvent>()
        );
        let caps = spec(HypercallCode::EXT_QUERY_CAPABILITIES);
        assert_eq!((caps.input_header_bytes, caps.output_header_bytes), (0, 8));
        // Vector, TargetVtl, 3 padding bytes, then the mask or the VP set.
        assert_eq!(
            spec(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI).input_header_bytes,
            16
        );
        let ipi_ex = spec(HypercallCode::SEND_SYNTHETIC_CLUSTER_IPI_EX);
        assert_eq!(
            (ipi_ex.input_header_bytes, ipi_ex.variable_header),
            (8 + size_of::<HvVpSetHeader>() as u16, true)
        );
    }

    #[test]
    fn classes_match_tlfs() {
        for spec in CALLS {
            assert_eq!(Some(spec.class), spec.code.class(), "{:?}", spec.code);
            // Rep calls have a list; simple calls do not.
            let has_list = spec.input_element_bytes != 0 || spec.output_element_bytes != 0;
            assert_eq!(has_list, spec.class == HypercallClass::Rep);
        }
    }

    #[test]
    fn blocks_are_qword_multiples() {
        // TLFS md `hypercall-interface.md`: "padded to a multiple of 8
        // bytes in size", and "the first rep element must be 8 byte
        // aligned".
        for spec in CALLS {
            for size in [
                spec.input_header_bytes,
                spec.input_element_bytes,
                spec.output_header_bytes,
                spec.output_element_bytes,
            ] {
                assert_eq!(size % 8, 0, "{:?}", spec.code);
            }
        }
    }

    #[test]
    fn privileges() {
        assert!(
            spec(HypercallCode::POST_MESSAGE)
                .required_privileges
                .post_messages()
        );
        assert!(
            spec(HypercallCode::SIGNAL_EVENT)
                .required_privileges
                .signal_events()
        );
        assert!(
            spec(HypercallCode::EXT_QUERY_CAPABILITIES)
                .required_privileges
                .enable_extended_hypercalls()
        );
        assert_eq!(
            spec(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE).required_privileges,
            NONE
        );
    }

    #[test]
    fn unique_and_lookup() {
        for (i, a) in CALLS.iter().enumerate() {
            assert_eq!(lookup(a.code).map(|(index, _)| index), Some(i));
            for b in &CALLS[i + 1..] {
                assert_ne!(a.code, b.code);
            }
        }
        assert!(lookup(HypercallCode(0x0001)).is_none());
        assert!(lookup(HypercallCode(0xFFFF)).is_none());
    }
}
