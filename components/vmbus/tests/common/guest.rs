//! The guest's messages, byte by byte at the offsets of Linux 6.1's
//! `__packed` structs (written independently of the crate's layouts), with
//! the values Linux puts there; and the host messages a test expects.

use vmbus::Version;
use vmbus::protocol::messages::{
    GpadlCreated, GpadlTorndown, ModifyChannelResponse, OpenResult, RescindOffer,
};
use vmbus::protocol::{HostMessage, MessageHeader, MessageType};
use vmbus::synic::MessageConnection;

fn put16(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

fn put32(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

fn put64(buf: &mut [u8], at: usize, value: u64) {
    buf[at..at + 8].copy_from_slice(&value.to_le_bytes());
}

/// A message of `size` bytes of type `msgtype`.
fn message(msgtype: u32, size: usize) -> Vec<u8> {
    let mut m = vec![0; size];
    put32(&mut m, 0, msgtype);
    m
}

/// The GPA Linux's interrupt page has in these tests.
pub const INTERRUPT_PAGE: u64 = 0x0123_4000;
/// The GPAs of Linux's monitor pages in these tests.
pub const MONITOR_PAGES: [u64; 2] = [0x0123_5000, 0x0123_6000];

/// INITIATE_CONTACT as `vmbus_negotiate_version` fills it.
pub fn initiate_contact(version: Version, target_vcpu: u32) -> Vec<u8> {
    let mut m = message(14, 40);
    put32(&mut m, 8, version.0);
    put32(&mut m, 12, target_vcpu);
    if version >= Version::WIN10_V5 {
        m[16] = 2; // msg_sint = VMBUS_MESSAGE_SINT
    } else {
        put64(&mut m, 16, INTERRUPT_PAGE);
    }
    put64(&mut m, 24, MONITOR_PAGES[0]);
    put64(&mut m, 32, MONITOR_PAGES[1]);
    m
}

/// The connection Linux posts INITIATE_CONTACT on for `version`.
pub fn contact_connection(version: Version) -> MessageConnection {
    if version >= Version::WIN10_V5 {
        MessageConnection::Contact
    } else {
        MessageConnection::Standard
    }
}

pub fn request_offers() -> Vec<u8> {
    message(3, 8)
}

pub fn unload() -> Vec<u8> {
    message(16, 8)
}

/// Page numbers in GPADL_HEADER (`create_gpadl_header`: what is left of
/// 240 bytes after the 20-byte header and one 8-byte range).
pub const HEADER_PFNS: usize = 26;
/// Page numbers in each GPADL_BODY (240 bytes less the 16-byte body
/// header).
pub const BODY_PFNS: usize = 28;

/// GPADL_HEADER and GPADL_BODYs for one range of whole pages, as
/// `create_gpadl_header` splits it (`msgnumber` left 0).
pub fn gpadl_messages(relid: u32, gpadl: u32, pfns: &[u64]) -> Vec<Vec<u8>> {
    let in_header = pfns.len().min(HEADER_PFNS);
    let mut header = message(8, 28 + 8 * in_header);
    put32(&mut header, 8, relid);
    put32(&mut header, 12, gpadl);
    put16(&mut header, 16, (8 + 8 * pfns.len()) as u16);
    put16(&mut header, 18, 1);
    put32(&mut header, 20, (pfns.len() * 4096) as u32);
    put32(&mut header, 24, 0);
    for (i, &pfn) in pfns[..in_header].iter().enumerate() {
        put64(&mut header, 28 + 8 * i, pfn);
    }
    let mut out = vec![header];
    for chunk in pfns[in_header..].chunks(BODY_PFNS) {
        let mut body = message(9, 16 + 8 * chunk.len());
        put32(&mut body, 12, gpadl);
        for (i, &pfn) in chunk.iter().enumerate() {
            put64(&mut body, 16 + 8 * i, pfn);
        }
        out.push(body);
    }
    out
}

/// A GPADL_HEADER with the given fields and raw range data.
pub fn gpadl_header(relid: u32, gpadl: u32, range_buflen: u16, rangecount: u16, data: &[u64]) -> Vec<u8> {
    let mut header = message(8, 20 + 8 * data.len());
    put32(&mut header, 8, relid);
    put32(&mut header, 12, gpadl);
    put16(&mut header, 16, range_buflen);
    put16(&mut header, 18, rangecount);
    for (i, &entry) in data.iter().enumerate() {
        put64(&mut header, 20 + 8 * i, entry);
    }
    header
}

/// A GPADL_BODY with raw entries.
pub fn gpadl_body(gpadl: u32, data: &[u64]) -> Vec<u8> {
    let mut body = message(9, 16 + 8 * data.len());
    put32(&mut body, 12, gpadl);
    for (i, &entry) in data.iter().enumerate() {
        put64(&mut body, 16 + 8 * i, entry);
    }
    body
}

/// A range entry: `byte_count` bytes from `byte_offset`.
pub const fn range(byte_count: u32, byte_offset: u32) -> u64 {
    (byte_offset as u64) << 32 | byte_count as u64
}

/// OPENCHANNEL as `__vmbus_open` fills it.
pub fn open(relid: u32, openid: u32, gpadl: u32, target_vp: u32, downstream_pages: u32) -> Vec<u8> {
    let mut m = message(5, 148);
    put32(&mut m, 8, relid);
    put32(&mut m, 12, openid);
    put32(&mut m, 16, gpadl);
    put32(&mut m, 20, target_vp);
    put32(&mut m, 24, downstream_pages);
    m
}

pub fn close(relid: u32) -> Vec<u8> {
    let mut m = message(7, 12);
    put32(&mut m, 8, relid);
    m
}

pub fn teardown(relid: u32, gpadl: u32) -> Vec<u8> {
    let mut m = message(11, 16);
    put32(&mut m, 8, relid);
    put32(&mut m, 12, gpadl);
    m
}

pub fn relid_released(relid: u32) -> Vec<u8> {
    let mut m = message(13, 12);
    put32(&mut m, 8, relid);
    m
}

pub fn modify_channel(relid: u32, target_vp: u32) -> Vec<u8> {
    let mut m = message(22, 16);
    put32(&mut m, 8, relid);
    put32(&mut m, 12, target_vp);
    m
}

pub fn tl_connect(endpoint: [u8; 16], service: [u8; 16]) -> Vec<u8> {
    let mut m = message(21, 40);
    m[8..24].copy_from_slice(&endpoint);
    m[24..40].copy_from_slice(&service);
    m
}

fn header(message_type: MessageType) -> MessageHeader {
    MessageHeader::new(message_type)
}

pub fn open_result(relid: u32, openid: u32, status: u32) -> HostMessage {
    HostMessage::OpenResult(OpenResult {
        header: header(MessageType::OPENCHANNEL_RESULT),
        child_relid: relid.into(),
        openid: openid.into(),
        status: status.into(),
    })
}

pub fn gpadl_created(relid: u32, gpadl: u32, status: u32) -> HostMessage {
    HostMessage::GpadlCreated(GpadlCreated {
        header: header(MessageType::GPADL_CREATED),
        child_relid: relid.into(),
        gpadl: gpadl.into(),
        creation_status: status.into(),
    })
}

pub fn torndown(gpadl: u32) -> HostMessage {
    HostMessage::GpadlTorndown(GpadlTorndown {
        header: header(MessageType::GPADL_TORNDOWN),
        gpadl: gpadl.into(),
    })
}

pub fn rescind(relid: u32) -> HostMessage {
    HostMessage::RescindOffer(RescindOffer {
        header: header(MessageType::RESCIND_CHANNELOFFER),
        child_relid: relid.into(),
    })
}

pub fn modify_response(relid: u32, status: u32) -> HostMessage {
    HostMessage::ModifyChannelResponse(ModifyChannelResponse {
        header: header(MessageType::MODIFYCHANNEL_RESPONSE),
        child_relid: relid.into(),
        status: status.into(),
    })
}

/// `STATUS_UNSUCCESSFUL`, the host's failure status.
pub const UNSUCCESSFUL: u32 = 0xC000_0001;
