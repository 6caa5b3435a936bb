//! Reading and writing parameter blocks through guest memory, and what a
//! failed access returns.

use tessera_hv1::hypercall::{Access, GpaError, ParamError, ParamFailure};
use tlfs::{HvStatus, HypercallCode};

use crate::common::*;

#[test]
fn memory_input_header_and_elements() {
    let mut memory = TestMemory::new();
    // AddressSpace, Flags, ProcessorMask, then three GVA ranges.
    memory.put_qwords(IN_PAGE, &[0xC0DE_0000, 0x1, 0x51, 0xA000, 0xB000, 0xC003]);
    let value = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST)
        .with_rep_count(3)
        .with_rep_start_index(1);
    let call = decode_open(value, IN_PAGE, 0).unwrap();
    let mut header = [0; 24];
    call.read_header(&memory, &mut header).unwrap();
    assert_eq!(
        u64::from_le_bytes(header[0..8].try_into().unwrap()),
        0xC0DE_0000
    );
    // Element indices are absolute, like the rep start index.
    let mut element = [0; 8];
    for (index, want) in [(1_u16, 0xB000_u64), (2, 0xC003)] {
        call.read_element(&memory, index, &mut element).unwrap();
        assert_eq!(u64::from_le_bytes(element), want);
    }
    assert_eq!(
        call.read_element(&memory, 3, &mut element),
        Err(ParamError::OutsideBlock)
    );
    assert_eq!(
        call.read_element(&memory, 0, &mut [0; 4]),
        Err(ParamError::OutsideBlock)
    );
    assert_eq!(
        call.read_header(&memory, &mut [0; 32]),
        Err(ParamError::OutsideBlock)
    );
}

/// § Common Hypercall Status Codes: HV_STATUS_INVALID_ALIGNMENT, "The input
/// or output GPA pointer is not within the bounds of the GPA space."
#[test]
fn input_outside_the_gpa_space() {
    let memory = TestMemory::new();
    let beyond = memory.space_end;
    let call = decode_open(
        control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE),
        beyond,
        0,
    )
    .unwrap();
    let err = call.read_header(&memory, &mut [0; 24]).unwrap_err();
    assert_eq!(
        err,
        ParamError::Gpa {
            gpa: beyond,
            access: Access::Read,
            error: GpaError::OutOfBounds
        }
    );
    assert_eq!(
        err.failure(),
        ParamFailure::Status(HvStatus::INVALID_ALIGNMENT)
    );
}

/// § Alignment Requirements: "the specified GPA is mapped and the GPA is
/// marked readable. If either of these tests fails, the hypervisor
/// generates a memory intercept message."
#[test]
fn unmapped_input_is_a_memory_intercept() {
    let mut memory = TestMemory::new();
    memory.holes.push(IN_PAGE..IN_PAGE + 0x1000);
    let call = decode_open(control(HypercallCode::SIGNAL_EVENT), IN_PAGE + 8, 0).unwrap();
    let err = call.read_input(&memory, 0, &mut [0; 8]).unwrap_err();
    assert_eq!(
        err.failure(),
        ParamFailure::MemoryIntercept {
            gpa: IN_PAGE + 8,
            access: Access::Read
        }
    );
}

#[test]
fn memory_output() {
    let mut memory = TestMemory::new();
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
    let call = decode_open(caps, 0, OUT_PAGE + 0x10).unwrap();
    call.write_output(&mut memory, 0, &0x1F_u64.to_le_bytes())
        .unwrap();
    assert_eq!(
        &memory.bytes[(OUT_PAGE + 0x10) as usize..(OUT_PAGE + 0x18) as usize],
        &0x1F_u64.to_le_bytes()
    );
    assert_eq!(
        call.write_output(&mut memory, 4, &[0; 8]),
        Err(ParamError::OutsideBlock)
    );
    // An unwritable output page is a write memory intercept.
    memory.holes.push(OUT_PAGE..OUT_PAGE + 0x1000);
    let err = call.write_output(&mut memory, 0, &[0; 8]).unwrap_err();
    assert_eq!(
        err.failure(),
        ParamFailure::MemoryIntercept {
            gpa: OUT_PAGE + 0x10,
            access: Access::Write
        }
    );
    // A call without output has nothing to write.
    let flush = decode_open(
        control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE),
        IN_PAGE,
        0,
    )
    .unwrap();
    assert_eq!(flush.write_output(&mut memory, 0, &[]), Ok(()));
    assert_eq!(
        flush.write_output(&mut memory, 0, &[1]),
        Err(ParamError::OutsideBlock)
    );
    assert_eq!(
        flush.write_output_element(&mut memory, 0, &[]),
        Err(ParamError::OutsideBlock)
    );
}
