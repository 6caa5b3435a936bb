//! Linux 6.1's `hv_utils` (`drivers/hv/hv_util.c`) as the tests drive it:
//! each IC's channel callback, from the data of one received packet (what
//! `vmbus_recvpacket` returns) to the data it sends back
//! (`vmbus_sendpacket` of the same buffer and length), written from its
//! behaviour and independent of the crate's IC code.

const ICMSG_HDR: usize = 28;
const NEGOTIATE: u16 = 0;
const HEARTBEAT: u16 = 1;
const SHUTDOWN: u16 = 3;
const TIMESYNC: u16 = 4;
const HV_S_OK: u32 = 0;
const HV_E_FAIL: u32 = 0x8000_4005;
const UTIL_FW_VERSION: u32 = 3 << 16;
const UTIL_WS2K8_FW_VERSION: u32 = 1 << 16;
const FW_VERSIONS: [u32; 2] = [UTIL_FW_VERSION, UTIL_WS2K8_FW_VERSION];
const SD_VERSIONS: [u32; 4] = [3 << 16 | 2, 3 << 16 | 1, 3 << 16, 1 << 16];
const TS_VERSIONS: [u32; 3] = [4 << 16, 3 << 16, 1 << 16];
const HB_VERSIONS: [u32; 2] = [3 << 16, 1 << 16];
const TS_VERSION_3: u32 = 3 << 16;
const WLTIMEDELTA: u64 = 116_444_736_000_000_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    Shutdown,
    TimeSync,
    Heartbeat,
}

/// What the guest did besides answering.
#[derive(Default, Debug)]
pub struct Effects {
    /// `pr_info`/`pr_err` lines.
    pub dmesg: Vec<String>,
    /// `orderly_poweroff` scheduled.
    pub poweroff: bool,
    /// `orderly_reboot` scheduled.
    pub reboot: bool,
    /// `do_settimeofday64` with this time in ns since 1970.
    pub clock_set_ns: Option<u64>,
    /// The last sample kept for the PTP clock: (host time, ref time).
    pub host_sample: Option<(u64, u64)>,
}

/// One `hv_utils` service instance.
pub struct LinuxUtil {
    pub service: Service,
    /// The service versions it knows, newest first (Linux 6.1's by
    /// default; an older guest knows fewer).
    pub srv_versions: Vec<u32>,
    pub srv_version: u32,
    pub hibernation_supported: bool,
    pub effects: Effects,
}

fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(b[at..at + 2].try_into().unwrap())
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn get64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().unwrap())
}
fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn set64(b: &mut [u8], at: usize, v: u64) {
    b[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

/// `vmbus_prep_negotiate_resp` on `buf` (the whole received data); the
/// icmsg header is at 8. Returns the chosen service version if it found a
/// match.
fn prep_negotiate_resp(buf: &mut [u8], fw: &[u32], srv: &[u32]) -> Option<u32> {
    if buf.len() < ICMSG_HDR + 4 {
        return None;
    }
    set16(buf, 8 + 10, 0x10); // icmsgsize
    let neg = ICMSG_HDR;
    let icframe_vercnt = usize::from(get16(buf, neg));
    let icmsg_vercnt = usize::from(get16(buf, neg + 2));
    let mut icframe = (icframe_vercnt as u32, 0u32);
    let mut icmsg = (icmsg_vercnt as u32, 0u32);
    let ver = |buf: &[u8], j: usize| (get16(buf, neg + 8 + 4 * j), get16(buf, neg + 8 + 4 * j + 2));
    let mut found = false;
    if icframe_vercnt <= 100
        && icmsg_vercnt <= 100
        && ICMSG_HDR + 8 + (icframe_vercnt + icmsg_vercnt) * 4 <= buf.len()
    {
        'fw: for &v in fw {
            for j in 0..icframe_vercnt {
                if ver(buf, j) == ((v >> 16) as u16, v as u16) {
                    icframe = (v >> 16, v & 0xFFFF);
                    found = true;
                    break 'fw;
                }
            }
        }
        if found {
            found = false;
            'srv: for &v in srv {
                for j in icframe_vercnt..icframe_vercnt + icmsg_vercnt {
                    if ver(buf, j) == ((v >> 16) as u16, v as u16) {
                        icmsg = (v >> 16, v & 0xFFFF);
                        found = true;
                        break 'srv;
                    }
                }
            }
        }
    }
    let count = u16::from(found);
    set16(buf, neg, count);
    set16(buf, neg + 2, count);
    // Linux writes versions 0 and 1 whatever was found (its buffer is a
    // page, so they always fit there; a short packet's tail is not sent).
    let writes = [(neg + 8, icframe.0), (neg + 10, icframe.1), (neg + 12, icmsg.0), (neg + 14, icmsg.1)];
    for (at, value) in writes {
        if at + 2 <= buf.len() {
            set16(buf, at, value as u16);
        }
    }
    found.then_some(icmsg.0 << 16 | icmsg.1)
}

impl LinuxUtil {
    pub fn new(service: Service) -> Self {
        let srv_versions = match service {
            Service::Shutdown => SD_VERSIONS.to_vec(),
            Service::TimeSync => TS_VERSIONS.to_vec(),
            Service::Heartbeat => HB_VERSIONS.to_vec(),
        };
        Self {
            service,
            srv_versions,
            srv_version: 0,
            hibernation_supported: false,
            effects: Effects::default(),
        }
    }

    fn name(&self) -> &'static str {
        match self.service {
            Service::Shutdown => "Shutdown",
            Service::TimeSync => "TimeSync",
            Service::Heartbeat => "Heartbeat",
        }
    }

    /// The channel callback for one packet's data; `None` when Linux sends
    /// nothing back. `reftime` is the partition's reference time now.
    pub fn on_packet(&mut self, data: &[u8], reftime: u64) -> Option<Vec<u8>> {
        let mut buf = data.to_vec();
        if buf.is_empty() {
            return None;
        }
        if buf.len() < ICMSG_HDR {
            self.effects.dmesg.push(format!("{} request received. Packet length too small: {}", self.name(), buf.len()));
            return None;
        }
        let msgtype = get16(&buf, 8 + 4);
        let status_at = 8 + 12;
        if msgtype == NEGOTIATE {
            if let Some(v) = prep_negotiate_resp(&mut buf, &FW_VERSIONS, &self.srv_versions) {
                self.srv_version = v;
                self.effects.dmesg.push(format!("{} IC version {}.{}", self.name(), v >> 16, v & 0xFFFF));
            }
        } else {
            match (self.service, msgtype) {
                (Service::Shutdown, SHUTDOWN) => {
                    if buf.len() < ICMSG_HDR + 12 + 2048 {
                        return None;
                    }
                    let flags = get32(&buf, ICMSG_HDR + 8);
                    let status = match flags {
                        0 | 1 => {
                            self.effects.poweroff = true;
                            self.effects.dmesg.push("Shutdown request received - graceful shutdown initiated".into());
                            HV_S_OK
                        }
                        2 | 3 => {
                            self.effects.reboot = true;
                            self.effects.dmesg.push("Restart request received - graceful restart initiated".into());
                            HV_S_OK
                        }
                        4 | 5 if self.hibernation_supported => HV_S_OK,
                        _ => HV_E_FAIL,
                    };
                    set32(&mut buf, status_at, status);
                }
                (Service::TimeSync, TIMESYNC) => {
                    let (hosttime, sample_ref, flags) = if self.srv_version > TS_VERSION_3 {
                        if buf.len() < ICMSG_HDR + 22 {
                            return None;
                        }
                        (get64(&buf, ICMSG_HDR), get64(&buf, ICMSG_HDR + 8), buf[ICMSG_HDR + 16])
                    } else {
                        if buf.len() < ICMSG_HDR + 25 {
                            return None;
                        }
                        (get64(&buf, ICMSG_HDR), reftime, buf[ICMSG_HDR + 24])
                    };
                    // adj_guesttime
                    let host_time = hosttime.wrapping_add(reftime.wrapping_sub(sample_ref));
                    self.effects.host_sample = Some((host_time, reftime));
                    if flags & 1 != 0 {
                        self.effects.clock_set_ns = Some(host_time.wrapping_sub(WLTIMEDELTA).wrapping_mul(100));
                    }
                }
                (Service::Heartbeat, HEARTBEAT) => {
                    if buf.len() < ICMSG_HDR + 8 {
                        return None;
                    }
                    let seq = get64(&buf, ICMSG_HDR);
                    set64(&mut buf, ICMSG_HDR, seq.wrapping_add(1));
                }
                _ => {
                    set32(&mut buf, status_at, HV_E_FAIL);
                    self.effects.dmesg.push(format!("{} request received. Invalid msg type: {msgtype}", self.name()));
                }
            }
        }
        buf[8 + 17] = 1 | 4; // icflags = TRANSACTION | RESPONSE
        Some(buf)
    }
}
