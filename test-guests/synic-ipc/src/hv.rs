//! The guest's side of the SynIC: hypercalls enabled, the SIM and SIEF
//! pages, `HvCallPostMessage` from an input page and `HvCallSignalEvent`
//! as a fast call (TLFS md `hypercalls/HvCallPostMessage.md`,
//! `HvCallSignalEvent.md`, `inter-partition-communication.md`).

use tessera_guest_framework::pages;
use tessera_guest_framework::{Failure, cpu, ensure, fail, interrupt};
use tlfs::HvStatus;

pub const GUEST_OS_ID: u32 = 0x4000_0000;
pub const HYPERCALL: u32 = 0x4000_0001;
pub const TIME_REF_COUNT: u32 = 0x4000_0020;
pub const SCONTROL: u32 = 0x4000_0080;
pub const SIEFP: u32 = 0x4000_0082;
pub const SIMP: u32 = 0x4000_0083;
pub const EOM: u32 = 0x4000_0084;
pub const SINT0: u32 = 0x4000_0090;

const POST_MESSAGE: u64 = 0x005C;
const SIGNAL_EVENT: u64 = 0x005D;
const FAST: u64 = 1 << 16;

/// A VP's SynIC pages and its hypercall input page.
#[derive(Clone, Copy)]
pub struct Synic {
    pub sim: u64,
    pub sief: u64,
    pub input: u64,
}

fn page() -> Result<u64, Failure> {
    match pages::alloc_page() {
        Some(page) => Ok(page),
        None => fail!("no free page"),
    }
}

/// Hypercalls enabled (a guest OS ID, the hypercall page), pages taken.
/// SIMP, SIEFP and SCONTROL stay off: [`Synic::enable`].
pub fn start() -> Result<Synic, Failure> {
    ensure!(pages::init(), "no free RAM");
    cpu::wrmsr(GUEST_OS_ID, 1 << 63 | 0x7E55_0001)?;
    cpu::wrmsr(HYPERCALL, page()? | 1)?;
    Ok(Synic {
        sim: page()?,
        sief: page()?,
        input: page()?,
    })
}

fn status(result: u64) -> HvStatus {
    HvStatus(result as u16)
}

/// `HvCallPostMessage` with the input block as given: header words
/// (connection ID and RsvdZ; type and payload size), then `payload`, at
/// `at` (8-aligned, or not to test alignment).
pub fn post_block(at: u64, header: [u64; 2], payload: &[u8]) -> Result<HvStatus, Failure> {
    pages::write_u64(at, header[0]);
    pages::write_u64(at + 8, header[1]);
    for (i, chunk) in payload.chunks(8).enumerate() {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        pages::write_u64(at + 16 + 8 * i as u64, u64::from_le_bytes(word));
    }
    Ok(status(cpu::hypercall(POST_MESSAGE, at, 0)?))
}

/// The n-th message of a test: type `n`, `14 n` bytes of value `n`.
pub fn nth_payload(n: u32, out: &mut [u8; 240]) -> &[u8] {
    let size = (14 * n as usize).min(240);
    out[..size].fill(n as u8);
    &out[..size]
}

impl Synic {
    /// `HvCallPostMessage(connection, message_type, payload)`.
    pub fn post(&self, connection: u32, kind: u32, payload: &[u8]) -> Result<HvStatus, Failure> {
        let header = [
            u64::from(connection),
            u64::from(kind) | (payload.len() as u64) << 32,
        ];
        post_block(self.input, header, payload)
    }

    /// Fast `HvCallSignalEvent(connection, flag)`.
    pub fn signal(&self, connection: u32, flag: u16) -> Result<HvStatus, Failure> {
        let input = u64::from(connection) | u64::from(flag) << 32;
        Ok(status(cpu::hypercall(SIGNAL_EVENT | FAST, input, 0)?))
    }

    /// SIMP, SIEFP, SCONTROL on; `sints` unmasked with their vectors.
    pub fn enable(&self, sints: &[(u32, u8)]) -> Result<(), Failure> {
        cpu::wrmsr(SIMP, self.sim | 1)?;
        cpu::wrmsr(SIEFP, self.sief | 1)?;
        cpu::wrmsr(SCONTROL, 1)?;
        for &(sint, vector) in sints {
            cpu::wrmsr(SINT0 + sint, u64::from(vector))?;
        }
        Ok(())
    }

    /// SINT `sint`'s slot: header word, origination word, and the address
    /// of the payload.
    pub fn slot(&self, sint: u32) -> (u64, u64, u64) {
        let at = self.sim + 256 * u64::from(sint);
        (pages::read_u64(at), pages::read_u64(at + 8), at + 16)
    }

    /// The guest's side of a message (TLFS md § Recommended Message
    /// Handling): the type back to none, then EOM if MessagePending was
    /// set, which delivers the next one.
    pub fn consume(&self, sint: u32) -> Result<(), Failure> {
        if pages::end_message(self.sim + 256 * u64::from(sint)) {
            cpu::wrmsr(EOM, 0)?;
        }
        Ok(())
    }

    /// Whether flag `flag` of SINT `sint` is set in the SIEF page.
    pub fn flag(&self, sint: u32, flag: u16) -> bool {
        let word = self.sief + 256 * u64::from(sint) + 8 * u64::from(flag / 64);
        pages::read_u64(word) & 1 << (flag % 64) != 0
    }

    /// Clears flag `flag` of SINT `sint` (the guest's part of an event).
    pub fn clear_flag(&self, sint: u32, flag: u16) {
        let word = self.sief + 256 * u64::from(sint) + 8 * u64::from(flag / 64);
        pages::write_u64(word, pages::read_u64(word) & !(1 << (flag % 64)));
    }
}

/// Unmasks SINT `sint` with `vector` (no AutoEOI).
pub fn sint_enable(sint: u32, vector: u8) -> Result<(), Failure> {
    Ok(cpu::wrmsr(SINT0 + sint, u64::from(vector))?)
}

/// Masks SINT `sint` (kvm-unit-tests' `0xff | masked`).
pub fn sint_disable(sint: u32) -> Result<(), Failure> {
    Ok(cpu::wrmsr(SINT0 + sint, 0xFF | 1 << 16)?)
}

/// Waits in HLT until `ready` holds (an interrupt of the SynIC wakes the
/// VP after the other partition's hypercall changed the page).
pub fn wait_until(what: &str, ready: impl Fn() -> bool) -> Result<(), Failure> {
    for _ in 0..1_000_000 {
        interrupt::cli();
        if ready() {
            interrupt::sti();
            return Ok(());
        }
        interrupt::sti_hlt();
    }
    fail!("{what}: never came")
}

/// Reference time (100 ns units).
pub fn now() -> Result<u64, Failure> {
    Ok(cpu::rdmsr(TIME_REF_COUNT)?)
}

/// Retries `call` while it answers `HV_STATUS_INVALID_SYNIC_STATE` (the
/// receiver has not enabled its SIM or SIEF page yet), for at most 10 s
/// of reference time; the first other status.
pub fn when_ready(call: impl Fn() -> Result<HvStatus, Failure>) -> Result<HvStatus, Failure> {
    let until = now()? + 100_000_000;
    loop {
        let status = call()?;
        if status != HvStatus::INVALID_SYNIC_STATE || now()? > until {
            return Ok(status);
        }
        core::hint::spin_loop();
    }
}

/// The payload of the slot at `payload` is `size` bytes of `value`.
pub fn payload_is(payload: u64, size: usize, value: u8) -> bool {
    (0..size.div_ceil(8)).all(|i| {
        let word = pages::read_u64(payload + 8 * i as u64).to_le_bytes();
        let bytes = (size - 8 * i).min(8);
        word[..bytes].iter().all(|&b| b == value)
    })
}
