//! Parameter block sizes and the placement rules for them: GPA alignment,
//! page boundaries, overlap, and the fast-call register capacity.

use tlfs::HvStatus;
use tlfs::hypercall::{HV_HYPERCALL_PARAMETER_ALIGNMENT, HV_XMM_FAST_HYPERCALL_MAX_INPUT_BYTES};
use tlfs::types::HV_PAGE_SIZE;

use super::table::CallSpec;

/// Bytes of fast input that fit in the two general-purpose registers (RDX
/// and R8, or EBX:ECX and EDI:ESI) without XMM.
pub(crate) const GPR_FAST_BYTES: u32 = 16;

/// Bytes of the whole fast register block: RDX, R8 and XMM0–XMM5.
pub(crate) const FAST_BLOCK_BYTES: u32 = HV_XMM_FAST_HYPERCALL_MAX_INPUT_BYTES as u32;

/// Byte lengths of one call's parameter blocks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct BlockSizes {
    /// Fixed plus variable input header: the offset of input element 0.
    pub header: u32,
    /// Whole input block: header plus `rep_count` input elements.
    pub input: u32,
    /// Whole output block: output header plus `rep_count` output elements.
    pub output: u32,
}

impl BlockSizes {
    /// The sizes for `spec` with `variable_header_qwords` QWORDs of
    /// variable header and `rep_count` reps.
    ///
    /// TLFS md `hypercall-interface.md` § Variable Sized Hypercall Input
    /// Headers: "Variable Header Size = Variable Header Bytes / 8", and for
    /// a rep call "the rep elements lie after the header in the usual
    /// fashion, except that the header's total size includes both the fixed
    /// and variable portions". The whole list counts (elements before the
    /// rep start index are still part of the block the guest placed).
    pub(crate) const fn new(spec: &CallSpec, variable_header_qwords: u16, rep_count: u16) -> Self {
        let header = spec.input_header_bytes as u32 + variable_header_qwords as u32 * 8;
        Self {
            header,
            input: header + rep_count as u32 * spec.input_element_bytes as u32,
            output: spec.output_header_bytes as u32
                + rep_count as u32 * spec.output_element_bytes as u32,
        }
    }
}

/// Checks that a memory parameter block of `len` bytes at `gpa` is 8-byte
/// aligned and does not cross a page boundary. An empty block is not
/// checked ("If the hypercall involves no input or output parameters, the
/// hypervisor ignores the corresponding GPA pointer").
///
/// TLFS md `hypercall-interface.md` § Alignment Requirements ("GPA pointers
/// must be 8-byte aligned", "The input and output parameter lists cannot
/// overlap or cross page boundaries") and § Common Hypercall Status Codes:
/// both are `HV_STATUS_INVALID_ALIGNMENT` ("The specified input or output
/// GPA pointer is not aligned to 8 bytes. / The specified input or output
/// parameter lists span pages."); TLFS 6.0b §3.6, §3.12 and Appendix B say
/// the same.
pub(crate) const fn check_gpa_block(gpa: u64, len: u32) -> Result<(), HvStatus> {
    if len == 0 {
        return Ok(());
    }
    if !gpa.is_multiple_of(HV_HYPERCALL_PARAMETER_ALIGNMENT) {
        return Err(HvStatus::INVALID_ALIGNMENT);
    }
    // Offset within the page plus length: no overflow for any u64 GPA.
    let end_in_page = (gpa % HV_PAGE_SIZE as u64) + len as u64;
    if end_in_page > HV_PAGE_SIZE as u64 {
        return Err(HvStatus::INVALID_ALIGNMENT);
    }
    Ok(())
}

/// Whether two non-empty blocks overlap (both already checked to lie
/// within one page each, so the ends cannot overflow).
pub(crate) const fn overlap(a: u64, a_len: u32, b: u64, b_len: u32) -> bool {
    a_len != 0 && b_len != 0 && a < b.wrapping_add(b_len as u64) && b < a.wrapping_add(a_len as u64)
}

/// Where fast output starts in the register block: after the input,
/// rounded up to a 16-byte chunk.
///
/// TLFS md `hypercall-interface.md` § XMM Fast Hypercall Output: "if the
/// input parameter block is smaller than 112 bytes (rounded up to the
/// nearest 16 byte aligned chunk), the remaining registers will return
/// hypercall output. For example, if the input parameter block is 20 bytes
/// in size, the hypervisor would ignore the following 12 bytes. The
/// remaining 80 bytes would contain hypercall output".
pub(crate) const fn fast_output_offset(input_len: u32) -> u32 {
    input_len.div_ceil(16) * 16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hypercall::table::lookup;
    use tlfs::HypercallCode;

    #[test]
    fn sizes() {
        let list = lookup(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX)
            .unwrap()
            .1;
        // 32-byte fixed header, 2 banks, 3 GVA ranges.
        assert_eq!(
            BlockSizes::new(list, 2, 3),
            BlockSizes {
                header: 48,
                input: 72,
                output: 0
            }
        );
        let caps = lookup(HypercallCode::EXT_QUERY_CAPABILITIES).unwrap().1;
        assert_eq!(
            BlockSizes::new(caps, 0, 0),
            BlockSizes {
                header: 0,
                input: 0,
                output: 8
            }
        );
        // The largest values the input value can encode do not overflow.
        let max = BlockSizes::new(list, 0x3FF, 0xFFF);
        assert_eq!(max.input, 32 + 0x3FF * 8 + 0xFFF * 8);
    }

    #[test]
    fn alignment() {
        assert_eq!(check_gpa_block(0x1000, 24), Ok(()));
        for misaligned in 1..8 {
            assert_eq!(
                check_gpa_block(0x1000 + misaligned, 8),
                Err(HvStatus::INVALID_ALIGNMENT)
            );
        }
        // Empty blocks are ignored, whatever the pointer.
        assert_eq!(check_gpa_block(0x1003, 0), Ok(()));
    }

    #[test]
    fn page_boundary() {
        // Ends exactly at the end of the page.
        assert_eq!(check_gpa_block(0x1FE8, 24), Ok(()));
        assert_eq!(check_gpa_block(0x1000, 4096), Ok(()));
        // One QWORD (the smallest aligned step) over.
        assert_eq!(
            check_gpa_block(0x1FF0, 24),
            Err(HvStatus::INVALID_ALIGNMENT)
        );
        assert_eq!(
            check_gpa_block(0x1000, 4097),
            Err(HvStatus::INVALID_ALIGNMENT)
        );
        assert_eq!(
            check_gpa_block(0x1008, 4096),
            Err(HvStatus::INVALID_ALIGNMENT)
        );
        // The very last page of the address space.
        assert_eq!(check_gpa_block(u64::MAX - 7, 8), Ok(()));
        assert_eq!(
            check_gpa_block(u64::MAX - 7, 16),
            Err(HvStatus::INVALID_ALIGNMENT)
        );
    }

    #[test]
    fn overlapping() {
        assert!(overlap(0x1000, 16, 0x1008, 8));
        assert!(!overlap(0x1000, 16, 0x1010, 8));
        assert!(!overlap(0x1010, 8, 0x1000, 16));
        assert!(!overlap(0x1000, 0, 0x1000, 8));
    }

    #[test]
    fn output_offset() {
        assert_eq!(fast_output_offset(0), 0);
        assert_eq!(fast_output_offset(8), 16);
        assert_eq!(fast_output_offset(16), 16);
        // The TLFS example: 20 bytes of input, output from byte 32 (80
        // bytes left).
        assert_eq!(fast_output_offset(20), 32);
        assert_eq!(FAST_BLOCK_BYTES - fast_output_offset(20), 80);
        assert_eq!(fast_output_offset(112), 112);
    }
}
