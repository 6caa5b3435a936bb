//! Page boundaries: a parameter list may end exactly at the end of its page,
//! never past it.
//!
//! TLFS md `hypercall-interface.md` § Alignment Requirements: "The input and
//! output parameter lists cannot overlap or cross page boundaries"; §
//! Common Hypercall Status Codes: HV_STATUS_INVALID_ALIGNMENT, "The
//! specified input or output parameter lists span pages."

use tlfs::{HvStatus, HypercallCode};

use crate::common::*;

const PAGE: u64 = 4096;

#[test]
fn fixed_header_at_the_end_of_a_page() {
    let flush = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE);
    // 24 bytes ending exactly at the page end.
    assert!(decode_open(flush, IN_PAGE + PAGE - 24, 0).is_ok());
    // One byte over (and therefore also misaligned).
    assert_eq!(
        status_of(decode_open(flush, IN_PAGE + PAGE - 23, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
    // One QWORD over: aligned, but spans two pages.
    assert_eq!(
        status_of(decode_open(flush, IN_PAGE + PAGE - 16, 0)),
        HvStatus::INVALID_ALIGNMENT
    );

    let post = control(HypercallCode::POST_MESSAGE);
    assert!(decode_open(post, IN_PAGE + PAGE - 256, 0).is_ok());
    assert_eq!(
        status_of(decode_open(post, IN_PAGE + PAGE - 248, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
}

#[test]
fn rep_list_counts_every_element() {
    let list = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST);
    // 24 + 509 * 8 = 4096: the largest list that fits a page.
    assert!(decode_open(list.with_rep_count(509), IN_PAGE, 0).is_ok());
    assert_eq!(
        status_of(decode_open(list.with_rep_count(510), IN_PAGE, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
    // Elements before the rep start index are still part of the list.
    let resumed = list.with_rep_count(510).with_rep_start_index(509);
    assert_eq!(
        status_of(decode_open(resumed, IN_PAGE, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
    // A shorter list placed so that it ends exactly at the page end.
    assert!(decode_open(list.with_rep_count(3), IN_PAGE + PAGE - 48, 0).is_ok());
    assert_eq!(
        status_of(decode_open(list.with_rep_count(4), IN_PAGE + PAGE - 48, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
}

/// § Variable Sized Hypercall Input Headers: the rep elements follow "the
/// header's total size includes both the fixed and variable portions".
#[test]
fn variable_header_counts() {
    let list_ex = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_LIST_EX).with_rep_count(3);
    // 32 fixed + 2 * 8 variable + 3 * 8 elements = 72 bytes.
    let at = IN_PAGE + PAGE - 72;
    let call = decode_open(list_ex.with_variable_header_size(2), at, 0).unwrap();
    assert_eq!((call.header_len(), call.input_len), (48, 72));
    assert_eq!(
        status_of(decode_open(list_ex.with_variable_header_size(3), at, 0)),
        HvStatus::INVALID_ALIGNMENT
    );
    // The largest variable header size the field can hold never fits.
    let space_ex = control(HypercallCode::FLUSH_VIRTUAL_ADDRESS_SPACE_EX);
    assert_eq!(
        status_of(decode_open(
            space_ex.with_variable_header_size(0x3FF),
            IN_PAGE,
            0
        )),
        HvStatus::INVALID_ALIGNMENT
    );
    // (4096 - 32) / 8 = 508 QWORDs of variable header fill the page.
    assert!(decode_open(space_ex.with_variable_header_size(508), IN_PAGE, 0).is_ok());
    assert_eq!(
        status_of(decode_open(
            space_ex.with_variable_header_size(509),
            IN_PAGE,
            0
        )),
        HvStatus::INVALID_ALIGNMENT
    );
}

#[test]
fn output_block_at_the_end_of_a_page() {
    let caps = control(HypercallCode::EXT_QUERY_CAPABILITIES);
    assert!(decode_open(caps, 0, OUT_PAGE + PAGE - 8).is_ok());
    assert_eq!(
        status_of(decode_open(caps, 0, OUT_PAGE + PAGE - 7)),
        HvStatus::INVALID_ALIGNMENT
    );
}
