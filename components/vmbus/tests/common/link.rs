//! One channel's two rings with the host's ends (this crate) and Linux's
//! ends (`linux_ring`), and an IC exchange across them: the host writes a
//! request, Linux's `hv_utils` callback reads it and answers, the host
//! reads the answer.

use vmbus::ic::host::Request;
use vmbus::ring::packet::{OutgoingPacket, PacketType};
use vmbus::ring::{IncomingRing, OutgoingRing, RingMemory};

use super::linux_ring::LinuxRing;
use super::linux_util::LinuxUtil;

/// Linux's receive buffer for the ICs (`util_probe`: 4 pages).
pub const LINUX_RECV_BUFFER: u32 = 4 * 4096;

pub struct Link<M> {
    pub host_out: OutgoingRing<M>,
    pub host_in: IncomingRing<M>,
    pub guest_in: LinuxRing<M>,
    pub guest_out: LinuxRing<M>,
    /// The guest's channel interrupt is pending.
    pub guest_signalled: bool,
    /// The host's event is pending.
    pub host_signalled: bool,
}

impl<M: RingMemory + Copy> Link<M> {
    /// Linux set both rings up (`hv_ringbuffer_init`) before OPENCHANNEL;
    /// the host takes its ends after.
    pub fn new(upstream: M, downstream: M) -> Self {
        let guest_out = LinuxRing::init(upstream);
        let guest_in = LinuxRing::init(downstream);
        Self {
            host_out: OutgoingRing::new(downstream).expect("ring"),
            host_in: IncomingRing::new(upstream).expect("ring"),
            guest_in,
            guest_out,
            guest_signalled: false,
            host_signalled: false,
        }
    }

    /// The host sends `request` and Linux's `util` answers it as its
    /// channel callback does (`HV_CALL_DIRECT`: no masking); returns the
    /// host's view of the answer (trans_id, data).
    pub fn exchange(&mut self, util: &mut LinuxUtil, request: &Request, reftime: u64) -> Option<(u64, Vec<u8>)> {
        let packet = OutgoingPacket {
            packet_type: PacketType::DATA_INBAND,
            flags: 0,
            trans_id: request.trans_id,
            data: &request.data,
        };
        let written = self.host_out.write(&packet).expect("room for the request");
        self.guest_signalled |= written.signal_guest;
        assert!(self.guest_signalled, "the guest must be interrupted for its first packet");
        self.guest_signalled = false;
        while let Some((data, requestid, signal)) = self.guest_in.recv(LINUX_RECV_BUFFER).expect("fits") {
            self.host_signalled |= signal;
            if let Some(answer) = util.on_packet(&data, reftime) {
                let signal = self.guest_out.send(6, 0, requestid, &answer).expect("room for the answer");
                self.host_signalled |= signal;
            }
        }
        if !self.host_signalled {
            return None;
        }
        self.host_signalled = false;
        let mut buffer = vec![0; 8 * 4096];
        let packet = self.host_in.read(&mut buffer).expect("a good packet")?;
        self.guest_signalled |= self.host_in.commit();
        Some((packet.descriptor.trans_id.get(), packet.data(&buffer).to_vec()))
    }
}
