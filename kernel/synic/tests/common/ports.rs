//! Two VPs; VP 1 receives messages on SINT 2 and events (flags 8..12) on
//! SINT 3 through ports the partition connects to itself.

use tessera_synic::Owner;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};

use super::{World, s};

pub const MESSAGE_PORT: u32 = 0x100;
pub const EVENT_PORT: u32 = 0x200;
pub const MESSAGE_CONNECTION: u32 = 0x11;
pub const EVENT_CONNECTION: u32 = 0x22;
pub const SINT_MESSAGES: u32 = 2;
pub const SINT_EVENTS: u32 = 3;

/// Two VPs; VP 1 receives messages on SINT 2 and events (flags 8..12) on
/// SINT 3 through ports the partition connects to itself.
pub fn world() -> World {
    let mut world = World::new(2);
    world.enable(1);
    world.unmask(1, SINT_MESSAGES, 0x50);
    world.unmask(1, SINT_EVENTS, 0x51);
    let p = world.partition;
    for (port, kind, sint, connection) in [
        (
            MESSAGE_PORT,
            PortKind::Message,
            SINT_MESSAGES,
            MESSAGE_CONNECTION,
        ),
        (
            EVENT_PORT,
            PortKind::Event {
                base_flag: 8,
                flag_count: 4,
            },
            SINT_EVENTS,
            EVENT_CONNECTION,
        ),
    ] {
        let spec = PortSpec {
            id: port,
            kind,
            vp: 1,
            sint: s(sint),
        };
        world.synic.create_port(p, spec, Owner::Manifest).unwrap();
        let connect = ConnectSpec {
            id: connection,
            port,
            port_type: kind.port_type(),
        };
        world.synic.connect(p, connect, p, Owner::Manifest).unwrap();
    }
    world
}
