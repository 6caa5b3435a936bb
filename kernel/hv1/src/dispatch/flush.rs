//! The virtual TLB flush hypercalls: `HvCallFlushVirtualAddressSpace`
//! (0x0002), `HvCallFlushVirtualAddressList` (0x0003),
//! `HvCallFlushVirtualAddressSpaceEx` (0x0013) and
//! `HvCallFlushVirtualAddressListEx` (0x0014).
//!
//! TLFS md `virtual-mmu.md` § Virtual TLB Enhancements and the four
//! `hypercalls/HvCallFlushVirtualAddress*.md` pages; TLFS 6.0b §9.4 for the
//! Return Values the Markdown pages lack.

use tlfs::hypercall::params::HvFlushFlags;
use tlfs::{HvStatus, HypercallCode};

use super::vp_set::{ProcessorSet, VpSet, VpSetError, qword, read_vp_set};
use crate::hypercall::{GuestMemory, Hypercall, ParamError};

/// The most GVA ranges one execution of a list call processes; the rest
/// are left to the continuation (TLFS md `hypercall-interface.md` §
/// Hypercall Continuation: "the hypervisor … is not required to process the
/// entire list before returning control back to the caller").
pub const MAX_FLUSH_RANGES: usize = 16;

/// One `GvaRange` list element, decoded.
///
/// TLFS md `hypercalls/HvCallFlushVirtualAddressList.md`: "the bottom 12
/// bits of the GVA can be used to define a range length. These bits encode
/// the number of additional pages (beyond the initial page) within the
/// range. This allows each entry to encode a range of 1 to 4096 pages."
/// The range is not checked against the GVA space: "Invalid GVAs (those
/// that specify addresses beyond the end of the partition's GVA space) are
/// ignored", so the kernel skips pages that are non-canonical or wrap past
/// 2⁶⁴.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GvaRange {
    /// The first page's GVA (bits 11:0 clear).
    pub base: u64,
    /// Number of pages, 1–4096.
    pub pages: u16,
}

impl GvaRange {
    /// Decodes a list element.
    #[must_use]
    pub const fn from_element(element: u64) -> Self {
        Self {
            base: element & !0xFFF,
            pages: (element & 0xFFF) as u16 + 1,
        }
    }
}

/// Up to [`MAX_FLUSH_RANGES`] ranges (kept as the raw list elements).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct GvaRanges {
    elements: [u64; MAX_FLUSH_RANGES],
    len: u8,
}

impl GvaRanges {
    /// No range.
    pub const EMPTY: Self = Self {
        elements: [0; MAX_FLUSH_RANGES],
        len: 0,
    };

    /// Appends the range list element `element`; `false` when full.
    pub const fn push(&mut self, element: u64) -> bool {
        if self.len as usize == MAX_FLUSH_RANGES {
            return false;
        }
        self.elements[self.len as usize] = element;
        self.len += 1;
        true
    }

    /// Range `index`, if there is one.
    #[must_use]
    pub const fn get(&self, index: usize) -> Option<GvaRange> {
        if index < self.len as usize {
            Some(GvaRange::from_element(self.elements[index]))
        } else {
            None
        }
    }

    /// The ranges, in list order.
    pub fn iter(&self) -> impl Iterator<Item = GvaRange> + '_ {
        self.elements[..self.len as usize]
            .iter()
            .map(|&element| GvaRange::from_element(element))
    }

    /// How many.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there are none.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Which VPs' TLBs to flush: all (`HV_FLUSH_ALL_PROCESSORS`, or an
/// `HV_VP_SET` in format `HvGenericSetAll`) or a set, never empty.
pub type FlushProcessors = ProcessorSet;

/// Which address spaces to flush.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressSpaces {
    /// All of them (`HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES`).
    All,
    /// The one whose CR3 is this value ("this value is the same as the
    /// value within the virtual processor's CR3 register", TLFS 6.0b §9.3).
    One(u64),
}

/// What part of the address space(s) to flush.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlushScope {
    /// Everything (the space calls, or a list call the hypervisor chose to
    /// widen).
    Entire,
    /// These GVA ranges (a large page containing a GVA is flushed whole:
    /// "A GVA that falls within a 'large page' mapping (2MB or 4MB) will
    /// cause the entire large page to be flushed").
    Ranges(GvaRanges),
}

/// A virtual TLB flush for the kernel to carry out before it resumes the
/// caller: "This call guarantees that by the time control returns back to
/// the caller, the observable effects of all flushes on the specified
/// virtual processors have occurred."
///
/// Flushing more than asked (the whole ASID, global entries too) is always
/// correct; less never is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlushRequest {
    /// Target VPs.
    pub processors: FlushProcessors,
    /// Target address spaces.
    pub address_spaces: AddressSpaces,
    /// `HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY`: global entries may be kept
    /// ("Global entries may be (but are not required to be) left unflushed
    /// by the hypervisor"). Never set for the list calls.
    pub non_global_only: bool,
    /// What to flush.
    pub scope: FlushScope,
}

/// Why a flush call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FlushError {
    Status(HvStatus),
    Param(ParamError),
}

impl From<ParamError> for FlushError {
    fn from(error: ParamError) -> Self {
        Self::Param(error)
    }
}

/// The flush a decoded flush call asks for (`None`: nothing to do) and
/// the rep elements this execution completed.
pub(super) struct Flush {
    pub request: Option<FlushRequest>,
    pub completed: u16,
}

/// What the flush handler needs from the partition configuration.
#[derive(Clone, Copy, Debug)]
pub(super) struct FlushPolicy {
    /// CPUID `0x40000003` EDX bit 14.
    pub extended_gva_ranges: bool,
    /// MAXPHYADDR for the address space check.
    pub physical_address_bits: u8,
}

const INVALID: FlushError = FlushError::Status(HvStatus::INVALID_PARAMETER);

/// Handles one execution of a flush call.
///
/// Status rules, TLFS 6.0b §9.4 Return Values (`HV_STATUS_INVALID_PARAMETER`
/// for each) and the Markdown pages:
///
/// - "One or more reserved bits within the flags register are set" — bits
///   63:4 of the 8-byte `Flags`. **Choice:**
///   `HV_FLUSH_USE_EXTENDED_RANGE_FORMAT` (bit 3) counts as reserved unless
///   `ExtendedGvaRangesForFlushVirtualAddressListAvailable` (CPUID
///   `0x40000003` EDX bit 14) is advertised.
/// - List calls: "HV_FLUSH_NON_GLOBAL_MAPPINGS_ONLY does not make sense for
///   this call and is treated as an invalid option."
/// - "All of the bits in the processor bit mask are set to zero, and the
///   'flush all processors' flag was not specified" (non-Ex calls).
/// - Ex calls ("A parameter is invalid"): an `HV_VP_SET` format other than
///   0 (sparse) or 1 (all); a sparse set whose `ValidBanksMask` has a
///   different number of bits than there are `BankContents` QWORDs in the
///   variable header ("For every bit that is set with ValidBanksMask, there
///   must be an element in the BanksContents array"). **Choice:** an empty
///   sparse set is valid ("it is valid state for the corresponding element
///   in BanksContents can be all 0s") and flushes nothing; the all-zero
///   rule is only written for the 64-bit mask. With
///   `HV_FLUSH_ALL_PROCESSORS` the set "is ignored", so it is not checked.
/// - "The specified address space ID is not a valid CR3 value … One or more
///   reserved bits in the specified address space ID (as defined by the x64
///   architecture) were set", unless `HV_FLUSH_ALL_VIRTUAL_ADDRESS_SPACES`:
///   bits at or above MAXPHYADDR (leaf `0x40000004` ECX, or 52 when not
///   reported) — the CR3 bits AMD64 defines as reserved, must-be-zero.
///
/// List calls process at most [`MAX_FLUSH_RANGES`] elements from the rep
/// start index; with the extended range format (whose element layout no
/// reference text gives) the whole address space is flushed and every
/// element completes at once.
pub(super) fn flush(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
    policy: FlushPolicy,
) -> Result<Flush, FlushError> {
    let code = call.code;
    let ex = code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX
        || code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX;
    let list = code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST
        || code == HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX;

    // AddressSpace (0), Flags (8), then ProcessorMask (16) or the
    // HV_VP_SET's Format (16) and ValidBanksMask (24).
    let mut header = [0_u8; 32];
    let fixed = usize::from(call.spec.input_header_bytes).min(header.len());
    call.read_header(memory, &mut header[..fixed])?;
    let address_space = qword(&header, 0);
    let raw_flags = qword(&header, 8);
    let flags = HvFlushFlags::from_bits(raw_flags);

    if raw_flags & HvFlushFlags::RESERVED_MASK != 0
        || (flags.use_extended_range_format() && !policy.extended_gva_ranges)
        || (list && flags.non_global_mappings_only())
    {
        return Err(INVALID);
    }

    let processors = if flags.all_processors() {
        FlushProcessors::All
    } else if !ex {
        let mask = qword(&header, 16);
        if mask == 0 {
            return Err(INVALID);
        }
        FlushProcessors::Set(VpSet::from_mask(mask))
    } else {
        read_vp_set(call, memory, qword(&header, 16), qword(&header, 24)).map_err(|e| match e {
            VpSetError::Invalid => INVALID,
            VpSetError::Param(error) => FlushError::Param(error),
        })?
    };

    let address_spaces = if flags.all_virtual_address_spaces() {
        AddressSpaces::All
    } else {
        let bits = match policy.physical_address_bits {
            0 => 52,
            bits => bits,
        };
        if bits < 64 && address_space >> bits != 0 {
            return Err(INVALID);
        }
        AddressSpaces::One(address_space)
    };

    let remaining = call.remaining();
    if matches!(processors, FlushProcessors::Set(set) if set.is_empty()) {
        // No VP to flush: every element is trivially done.
        return Ok(Flush {
            request: None,
            completed: remaining,
        });
    }

    let (scope, completed) = if !list {
        (FlushScope::Entire, 0)
    } else if flags.use_extended_range_format() {
        (FlushScope::Entire, remaining)
    } else {
        let (ranges, done) = read_ranges(call, memory)?;
        (FlushScope::Ranges(ranges), done)
    };
    Ok(Flush {
        request: Some(FlushRequest {
            processors,
            address_spaces,
            non_global_only: flags.non_global_mappings_only(),
            scope,
        }),
        completed,
    })
}

/// Up to [`MAX_FLUSH_RANGES`] list elements from the rep start index.
///
/// An element that cannot be read ends the batch; if it is the first, the
/// call fails with that error (TLFS md § Hypercall Classes: "an appropriate
/// status code is provided along with a reps completed count"), otherwise
/// the elements before it are flushed and the continuation re-reads it.
fn read_ranges(
    call: &Hypercall,
    memory: &(impl GuestMemory + ?Sized),
) -> Result<(GvaRanges, u16), FlushError> {
    let mut ranges = GvaRanges::EMPTY;
    let batch = call.remaining().min(MAX_FLUSH_RANGES as u16);
    for i in 0..batch {
        let mut q = [0_u8; 8];
        if let Err(error) = call.read_element(memory, call.rep_start + i, &mut q) {
            if i == 0 {
                return Err(error.into());
            }
            return Ok((ranges, i));
        }
        ranges.push(u64::from_le_bytes(q));
    }
    Ok((ranges, batch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gva_range_encoding() {
        // Bottom 12 bits: additional pages (1 to 4096 pages per entry).
        assert_eq!(
            GvaRange::from_element(0x7FFF_0000_1000),
            GvaRange {
                base: 0x7FFF_0000_1000,
                pages: 1
            }
        );
        assert_eq!(
            GvaRange::from_element(0xFFFF_8000_0000_0FFF),
            GvaRange {
                base: 0xFFFF_8000_0000_0000,
                pages: 4096
            }
        );
        assert_eq!(GvaRange::from_element(0x2003).pages, 4);
    }

    #[test]
    fn ranges_capacity() {
        let mut r = GvaRanges::EMPTY;
        assert!(r.is_empty());
        for i in 0..MAX_FLUSH_RANGES as u64 {
            assert!(r.push(i << 12 | 1));
        }
        assert!(!r.push(0));
        assert_eq!(r.len(), MAX_FLUSH_RANGES);
        assert_eq!(
            r.get(3),
            Some(GvaRange {
                base: 0x3000,
                pages: 2
            })
        );
        assert_eq!(r.get(MAX_FLUSH_RANGES), None);
        assert_eq!(r.iter().count(), MAX_FLUSH_RANGES);
    }
}
