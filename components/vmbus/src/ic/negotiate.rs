//! IC version negotiation (`ICMSGTYPE_NEGOTIATE`).
//!
//! The host's request body: `icframe_vercnt` framework versions, then
//! `icmsg_vercnt` message versions ([`NegotiateHeader`], then the
//! versions). Linux's answer (`vmbus_prep_negotiate_resp`) walks its own
//! lists, newest first, and takes the first version the host listed; it
//! writes back counts 1 and 1 and the two versions it took — or counts 0
//! and 0 when it found none, and `icmsgsize` 16 either way. It refuses to
//! look at more than 100 versions of either kind.

use alloc::vec::Vec;

use zerocopy::byteorder::little_endian::{U16, U32};
use zerocopy::{FromBytes, IntoBytes};

use super::{FRAMEWORK_VERSIONS, IcVersion, NegotiateHeader};

/// The versions both sides use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The framework version.
    pub framework: IcVersion,
    /// The message version.
    pub message: IcVersion,
}

/// Why a negotiation answer is not usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NegotiateError {
    /// The guest found no version in common (counts 0).
    NoCommonVersion,
    /// The answer is too short or its counts are not 1 and 1.
    Malformed,
    /// The guest picked a version the host did not offer.
    NotOffered(IcVersion),
}

/// The body of the host's negotiation request offering `message_versions`.
#[must_use]
pub fn request_body(message_versions: &[IcVersion]) -> Vec<u8> {
    let header = NegotiateHeader {
        icframe_vercnt: U16::new(FRAMEWORK_VERSIONS.len() as u16),
        icmsg_vercnt: U16::new(message_versions.len() as u16),
        reserved: U32::ZERO,
    };
    let mut body = header.as_bytes().to_vec();
    body.extend_from_slice(FRAMEWORK_VERSIONS.as_bytes());
    body.extend_from_slice(message_versions.as_bytes());
    body
}

/// Reads the guest's answer body, checking that it picked versions the host
/// offered (`message_versions` and the framework versions).
///
/// # Errors
///
/// [`NegotiateError`].
pub fn read_answer(body: &[u8], message_versions: &[IcVersion]) -> Result<Negotiated, NegotiateError> {
    let (header, rest) =
        NegotiateHeader::read_from_prefix(body).map_err(|_| NegotiateError::Malformed)?;
    match (header.icframe_vercnt.get(), header.icmsg_vercnt.get()) {
        (0, 0) => return Err(NegotiateError::NoCommonVersion),
        (1, 1) => {}
        _ => return Err(NegotiateError::Malformed),
    }
    let (versions, _) =
        <[IcVersion; 2]>::read_from_prefix(rest).map_err(|_| NegotiateError::Malformed)?;
    let [framework, message] = versions;
    if !FRAMEWORK_VERSIONS.contains(&framework) {
        return Err(NegotiateError::NotOffered(framework));
    }
    if !message_versions.contains(&message) {
        return Err(NegotiateError::NotOffered(message));
    }
    Ok(Negotiated { framework, message })
}
