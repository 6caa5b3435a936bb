//! The device's state and its answer to each exit (see the crate docs).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use log::Level;
use tessera_rt::abi::vm::sint_route;
use tessera_rt::vm::ports::{OwnedKind, Taken};
use tessera_rt::vm_exit::{Exit, ExitMessage, ExitReply, Handled};
use tessera_synic::Sint;
use tessera_synic::ports::{ConnectSpec, PortKind, PortSpec};
use tessera_synic::testdev::{TestDevOp, decode, event_port_id, message_port_id};
use tlfs::synic::HvPortType;
use tlfs::{HvMessageType, HvStatus};

use crate::{ECHO_OFFSET, OWNED_EVENT_BASE, OWNED_MESSAGE_BASE, PortKernel, TESTDEV_PORT};

/// Where the partitions' capabilities go (doorbells go past them).
pub const PARTITION_SLOTS: core::ops::Range<u32> = 16..40;

/// A message or event connection the guest made through the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Connection {
    Message,
    Event,
}

/// One partition the device serves.
#[derive(Clone, Debug, Default)]
struct Partition {
    slot: u32,
    /// The capability its ports ring, made at the first connection.
    doorbell: Option<u32>,
    connections: BTreeMap<u8, Connection>,
}

/// Every partition that attached, by badge.
#[derive(Clone, Debug, Default)]
pub struct Device {
    partitions: BTreeMap<u64, Partition>,
}

/// Lines to log, gathered while an exit is handled.
type Log = Vec<(Level, String)>;

fn status_of(result: Result<HvStatus, u64>) -> Result<(), String> {
    match result {
        Ok(HvStatus::SUCCESS) => Ok(()),
        Ok(status) => Err(format!("{status:?}")),
        Err(code) => Err(format!("kernel error {code:#x}")),
    }
}

impl Device {
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot for the next capability (an attach's, or a doorbell).
    #[must_use]
    pub fn free_slot(&self) -> Option<u32> {
        PARTITION_SLOTS.clone().find(|slot| {
            !self
                .partitions
                .values()
                .any(|p| p.slot == *slot || p.doorbell == Some(*slot))
        })
    }

    /// Answers one exit of the partition behind `badge`; `cap`: the slot of
    /// a capability that came with it. Returns the answer and a slot to
    /// free (a capability not kept).
    pub fn exit(
        &mut self,
        badge: u64,
        message: &ExitMessage,
        cap: Option<u32>,
        kernel: &mut impl PortKernel,
    ) -> (Handled, Option<u32>) {
        let mut log = Log::new();
        let (reply, unused) = match message.exit {
            Ok(Exit::PartitionAttach { name }) => match cap {
                Some(slot) => {
                    log.push((Level::Info, format!("partition {name}: test device ready")));
                    let old = self.partitions.insert(
                        badge,
                        Partition {
                            slot,
                            ..Partition::default()
                        },
                    );
                    (ExitReply::accept_attach(), old.map(|p| p.slot))
                }
                None => {
                    log.push((Level::Warn, format!("partition {name}: no capability")));
                    (ExitReply::new().stop(), None)
                }
            },
            Ok(Exit::IoPort {
                port: TESTDEV_PORT,
                size,
                write,
                value,
            }) => {
                if !write {
                    (ExitReply::new().io_read_result(0).advance_rip(), cap)
                } else {
                    if size == 4 {
                        self.write(badge, value, kernel, &mut log);
                    } else {
                        log.push((Level::Warn, format!("a {size}-byte write: ignored")));
                    }
                    (ExitReply::new().advance_rip(), cap)
                }
            }
            Ok(Exit::PortArrival { port }) => {
                self.arrival(badge, port, kernel, &mut log);
                (ExitReply::new(), cap)
            }
            _ => {
                log.push((
                    Level::Warn,
                    format!("partition {badge}: an exit the device does not serve"),
                ));
                (ExitReply::new().stop(), cap)
            }
        };
        (Handled { reply, log }, unused)
    }

    /// A 32-bit write to the device's port.
    fn write(&mut self, badge: u64, value: u32, kernel: &mut impl PortKernel, log: &mut Log) {
        let Some(partition) = self.partitions.get_mut(&badge) else {
            log.push((Level::Warn, format!("partition {badge} never attached")));
            return;
        };
        let op = match decode(value) {
            Ok(op) => op,
            Err(why) => {
                log.push((
                    Level::Warn,
                    format!("write {value:#010x}: {why:?}: ignored"),
                ));
                return;
            }
        };
        let slot = partition.slot;
        let done = match op {
            TestDevOp::SintRouteCreate { vp, sint } => {
                status_of(kernel.sint_route(slot, vp, sint.index() as u32, sint_route::ADD))
            }
            TestDevOp::SintRouteDestroy { vp, sint } => {
                status_of(kernel.sint_route(slot, vp, sint.index() as u32, sint_route::REMOVE))
            }
            TestDevOp::SintSet { vp, sint } => {
                status_of(kernel.sint_route(slot, vp, sint.index() as u32, sint_route::RAISE))
            }
            TestDevOp::MessageConnectionCreate {
                vp,
                sint,
                connection,
            } => partition.create(kernel, Connection::Message, vp, sint, connection, badge),
            TestDevOp::EventConnectionCreate {
                vp,
                sint,
                connection,
            } => partition.create(kernel, Connection::Event, vp, sint, connection, badge),
            TestDevOp::MessageConnectionDestroy { connection } => {
                partition.destroy(kernel, Connection::Message, connection)
            }
            TestDevOp::EventConnectionDestroy { connection } => {
                partition.destroy(kernel, Connection::Event, connection)
            }
        };
        match done {
            Ok(()) => log.push((Level::Debug, format!("{op:?}"))),
            Err(why) => log.push((Level::Warn, format!("{op:?}: {why}: nothing done"))),
        }
    }

    /// Takes and answers everything waiting at owned port `port`.
    fn arrival(&mut self, badge: u64, port: u32, kernel: &mut impl PortKernel, log: &mut Log) {
        let Some(partition) = self.partitions.get(&badge) else {
            log.push((Level::Warn, format!("partition {badge} never attached")));
            return;
        };
        let slot = partition.slot;
        // Bounded: the port holds at most 16 messages and one set of flags;
        // a guest posting meanwhile is waiting for this very exit.
        for _ in 0..64 {
            let taken = match kernel.receive(slot, port) {
                Ok(Ok(taken)) => taken,
                Ok(Err(status)) => {
                    log.push((Level::Warn, format!("port {port:#x}: {status:?}")));
                    return;
                }
                Err(code) => {
                    log.push((
                        Level::Warn,
                        format!("port {port:#x}: kernel error {code:#x}"),
                    ));
                    return;
                }
            };
            let answered = match taken {
                Taken::Nothing => return,
                Taken::Message {
                    message_type,
                    payload,
                    connection,
                } => answer_message(kernel, slot, port, message_type, &payload, connection),
                Taken::Events(flags) => answer_events(kernel, slot, port, &flags),
            };
            if let Err(why) = answered {
                log.push((Level::Warn, format!("port {port:#x}: answering: {why}")));
            }
        }
    }
}

/// A message at owned port `port`: a test connection's comes back as it
/// was; an echo port's with the connection first.
fn answer_message(
    kernel: &mut impl PortKernel,
    slot: u32,
    port: u32,
    message_type: HvMessageType,
    payload: &[u8],
    connection: u32,
) -> Result<(), String> {
    if port & 0xFF_0000 == OWNED_MESSAGE_BASE {
        return status_of(kernel.post(slot, message_port_id(port), message_type, payload));
    }
    let mut echo = Vec::with_capacity(payload.len() + 4);
    echo.extend_from_slice(&connection.to_le_bytes());
    echo.extend_from_slice(payload);
    echo.truncate(240);
    status_of(kernel.post(slot, port + ECHO_OFFSET, message_type, &echo))
}

/// Flags signalled at owned port `port`.
fn answer_events(
    kernel: &mut impl PortKernel,
    slot: u32,
    port: u32,
    flags: &[u64; 32],
) -> Result<(), String> {
    if port & 0xFF_0000 == OWNED_EVENT_BASE {
        return status_of(kernel.signal(slot, event_port_id(port), 0));
    }
    for flag in (0..2048u16).filter(|n| flags[usize::from(n / 64)] & 1 << (n % 64) != 0) {
        status_of(kernel.signal(slot, port + ECHO_OFFSET, flag))?;
    }
    Ok(())
}

impl Partition {
    /// Op 4 or 6: the guest's port, the owned port, the connection; what
    /// was made is taken back if a later step is refused.
    fn create(
        &mut self,
        kernel: &mut impl PortKernel,
        kind: Connection,
        vp: u32,
        sint: Sint,
        connection: u32,
        badge: u64,
    ) -> Result<(), String> {
        let id = connection as u8;
        if self.connections.contains_key(&id) {
            return Err(format!("connection {connection:#x} exists"));
        }
        let doorbell = match self.doorbell {
            Some(slot) => slot,
            None => {
                let slot = kernel
                    .doorbell(badge)
                    .map_err(|e| format!("doorbell: {e:#x}"))?;
                *self.doorbell.insert(slot)
            }
        };
        let (guest, owned, guest_kind, owned_kind, port_type) = match kind {
            Connection::Message => (
                message_port_id(connection),
                OWNED_MESSAGE_BASE | connection,
                PortKind::Message,
                OwnedKind::Message,
                HvPortType::MESSAGE,
            ),
            Connection::Event => (
                event_port_id(connection),
                OWNED_EVENT_BASE | connection,
                PortKind::Event {
                    base_flag: connection as u16,
                    flag_count: 1,
                },
                OwnedKind::Event { count: 1 },
                HvPortType::EVENT,
            ),
        };
        let port = PortSpec {
            id: guest,
            kind: guest_kind,
            vp,
            sint,
        };
        status_of(kernel.create_port(self.slot, &port.to_input()))?;
        if let Err(why) =
            status_of(kernel.create_owned_port(self.slot, owned, owned_kind, doorbell))
        {
            let _ = kernel.delete_port(self.slot, guest);
            return Err(why);
        }
        let connect = ConnectSpec {
            id: connection,
            port: owned,
            port_type,
        };
        if let Err(why) = status_of(kernel.connect(self.slot, &connect.to_input())) {
            let _ = kernel.delete_port(self.slot, owned);
            let _ = kernel.delete_port(self.slot, guest);
            return Err(why);
        }
        self.connections.insert(id, kind);
        Ok(())
    }

    /// Op 5 or 7.
    fn destroy(
        &mut self,
        kernel: &mut impl PortKernel,
        kind: Connection,
        connection: u32,
    ) -> Result<(), String> {
        let id = connection as u8;
        if self.connections.get(&id) != Some(&kind) {
            return Err(format!("no {kind:?} connection {connection:#x}"));
        }
        self.connections.remove(&id);
        let (guest, owned) = match kind {
            Connection::Message => (message_port_id(connection), OWNED_MESSAGE_BASE | connection),
            Connection::Event => (event_port_id(connection), OWNED_EVENT_BASE | connection),
        };
        status_of(kernel.disconnect(self.slot, connection))?;
        status_of(kernel.delete_port(self.slot, owned))?;
        status_of(kernel.delete_port(self.slot, guest))
    }
}
