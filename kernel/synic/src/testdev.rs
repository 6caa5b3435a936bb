//! QEMU's `hyperv-testdev` protocol, so SynIC tests written for QEMU (the
//! `hyperv_synic`, `hyperv_stimer` and `hyperv_connections` tests of
//! kvm-unit-tests) run unchanged.
//!
//! The device is one 32-bit I/O port at [`TESTDEV_PORT`] (`0x3000`); reads
//! return 0. A 32-bit write carries `conn_id << 24 | op << 16 | vp_index
//! << 8 | sint`, and the operations are:
//!
//! | op | QEMU name | what it does here |
//! | --- | --- | --- |
//! | 1 | `HV_TEST_DEV_SINT_ROUTE_CREATE` | a route that may raise (vp, sint) |
//! | 2 | `HV_TEST_DEV_SINT_ROUTE_DESTROY` | removes it |
//! | 3 | `HV_TEST_DEV_SINT_ROUTE_SET_SINT` | raises (vp, sint) through its route: its vector, if unmasked |
//! | 4 | `HV_TEST_DEV_MSG_CONN_CREATE` | connection `conn_id`: what the guest posts on it comes back into (vp, sint)'s slot |
//! | 5 | `HV_TEST_DEV_MSG_CONN_DESTROY` | removes connection `conn_id` |
//! | 6 | `HV_TEST_DEV_EVT_CONN_CREATE` | connection `conn_id`: `HvCallSignalEvent` on it (flag 0) sets flag `conn_id` of (vp, sint) |
//! | 7 | `HV_TEST_DEV_EVT_CONN_DESTROY` | removes connection `conn_id` |
//!
//! QEMU's device echoes a posted message from its own code; here a message
//! connection is simply a connection to a message port of the guest's own
//! partition targeting (vp, sint), which delivers the same message to the
//! same slot, and an event connection one to an event port whose single
//! flag is `conn_id`. The ports the device creates take IDs from a range of
//! their own ([`message_port_id`], [`event_port_id`]), derived from
//! `conn_id`, so every operation can be repeated (after a restart of the
//! SynIC component, the guest's write is handled again from the start).
//! QEMU aborts on a write it cannot honour (an unknown route, a duplicate
//! connection); here such a write does nothing and is reported by the
//! caller, never taking the partition down.

use crate::sint::Sint;

/// The device's I/O port.
pub const TESTDEV_PORT: u16 = 0x3000;

/// One decoded write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestDevOp {
    /// Op 1.
    SintRouteCreate {
        /// The VP index.
        vp: u32,
        /// The SINT.
        sint: Sint,
    },
    /// Op 2.
    SintRouteDestroy {
        /// The VP index.
        vp: u32,
        /// The SINT.
        sint: Sint,
    },
    /// Op 3.
    SintSet {
        /// The VP index.
        vp: u32,
        /// The SINT.
        sint: Sint,
    },
    /// Op 4.
    MessageConnectionCreate {
        /// The VP index.
        vp: u32,
        /// The SINT.
        sint: Sint,
        /// The connection ID.
        connection: u32,
    },
    /// Op 5.
    MessageConnectionDestroy {
        /// The connection ID.
        connection: u32,
    },
    /// Op 6.
    EventConnectionCreate {
        /// The VP index.
        vp: u32,
        /// The SINT.
        sint: Sint,
        /// The connection ID (and the flag it sets).
        connection: u32,
    },
    /// Op 7.
    EventConnectionDestroy {
        /// The connection ID.
        connection: u32,
    },
}

/// Why a write was ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TestDevError {
    /// Op 0 or above 7 (QEMU ignores those too).
    UnknownOperation(u8),
    /// A SINT field above 15.
    InvalidSint(u8),
}

/// The ID of the message port behind test connection `connection`.
#[must_use]
pub const fn message_port_id(connection: u32) -> u32 {
    0xFF_0000 | (connection & 0xFF)
}

/// The ID of the event port behind test connection `connection`.
#[must_use]
pub const fn event_port_id(connection: u32) -> u32 {
    0xFE_0000 | (connection & 0xFF)
}

/// Decodes a 32-bit write to [`TESTDEV_PORT`].
///
/// # Errors
///
/// [`TestDevError`] for a write that asks for nothing.
pub fn decode(value: u32) -> Result<TestDevOp, TestDevError> {
    let [sint, vp, op, connection] = value.to_le_bytes();
    let vp = u32::from(vp);
    let connection = u32::from(connection);
    let sint = || Sint::new(u32::from(sint)).ok_or(TestDevError::InvalidSint(sint));
    Ok(match op {
        1 => TestDevOp::SintRouteCreate { vp, sint: sint()? },
        2 => TestDevOp::SintRouteDestroy { vp, sint: sint()? },
        3 => TestDevOp::SintSet { vp, sint: sint()? },
        4 => TestDevOp::MessageConnectionCreate {
            vp,
            sint: sint()?,
            connection,
        },
        5 => TestDevOp::MessageConnectionDestroy { connection },
        6 => TestDevOp::EventConnectionCreate {
            vp,
            sint: sint()?,
            connection,
        },
        7 => TestDevOp::EventConnectionDestroy { connection },
        other => return Err(TestDevError::UnknownOperation(other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(connection: u32, op: u32, vp: u32, sint: u32) -> u32 {
        connection << 24 | op << 16 | vp << 8 | sint
    }

    #[test]
    fn every_operation() {
        let s = |n| Sint::new(n).unwrap();
        assert_eq!(
            decode(write(0, 1, 1, 2)),
            Ok(TestDevOp::SintRouteCreate { vp: 1, sint: s(2) })
        );
        assert_eq!(
            decode(write(0, 2, 3, 15)),
            Ok(TestDevOp::SintRouteDestroy { vp: 3, sint: s(15) })
        );
        assert_eq!(
            decode(write(0, 3, 0, 0)),
            Ok(TestDevOp::SintSet { vp: 0, sint: s(0) })
        );
        assert_eq!(
            decode(write(0x10, 4, 1, 8)),
            Ok(TestDevOp::MessageConnectionCreate {
                vp: 1,
                sint: s(8),
                connection: 0x10
            })
        );
        assert_eq!(
            decode(write(0x10, 5, 1, 8)),
            Ok(TestDevOp::MessageConnectionDestroy { connection: 0x10 })
        );
        assert_eq!(
            decode(write(0x21, 6, 1, 9)),
            Ok(TestDevOp::EventConnectionCreate {
                vp: 1,
                sint: s(9),
                connection: 0x21
            })
        );
        assert_eq!(
            decode(write(0x21, 7, 0, 0)),
            Ok(TestDevOp::EventConnectionDestroy { connection: 0x21 })
        );
    }

    #[test]
    fn ignored_writes() {
        assert_eq!(
            decode(write(0, 0, 0, 0)),
            Err(TestDevError::UnknownOperation(0))
        );
        assert_eq!(
            decode(write(0, 8, 0, 0)),
            Err(TestDevError::UnknownOperation(8))
        );
        assert_eq!(
            decode(write(0, 1, 0, 16)),
            Err(TestDevError::InvalidSint(16))
        );
        // Destroying a connection does not look at the SINT field.
        assert!(decode(write(1, 5, 0, 0xFF)).is_ok());
    }

    #[test]
    fn port_ranges_do_not_meet() {
        for connection in 0..=0xFF {
            assert_ne!(message_port_id(connection), event_port_id(connection));
            assert_eq!(message_port_id(connection) >> 16, 0xFF);
            assert_eq!(event_port_id(connection) >> 16, 0xFE);
        }
    }
}
