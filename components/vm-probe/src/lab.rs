//! Guests vm-probe runs itself, to try the kernel as a hostile guest and a
//! hostile handler would: a partition with one RAM region at GPA 0 whose
//! page at [`CODE_GPA`] holds the real-mode code a scenario gives, VPs
//! that start there, and their exits (ports 0x90-0x9F and the lifecycle)
//! routed to vm-probe's own endpoint, which it serves one call at a time.
//!
//! The code is machine code written out by hand, each instruction with its
//! assembly beside it in the scenario: tens of bytes, where a guest crate
//! would need a loader, a manager and a deployment of its own.

use alloc::vec::Vec;

use tessera_rt::abi::vm::{hv1, intercept, map};
use tessera_rt::vm::{self, Register};
use tessera_rt::vm_exit::{ExitMessage, ExitReply, ReplyMessage};
use tessera_rt::{Endpoint, Error, Request, Server, cap, memory, slot};
use tlfs::register::HvRegisterName;

use crate::PRIORITY;

/// vm-probe's endpoint for the exits of its running guests.
const LAB_ENDPOINT: u32 = 30;
const PARTITION: u32 = 31;
const RAM: u32 = 32;
/// Regions a scenario makes beyond the RAM.
pub const SPARE_REGIONS: [u32; 2] = [33, 34];
/// The VPs' capability slots, by VP index.
const VP_SLOTS: [u32; 2] = [35, 36];

const RAM_PAGES: u64 = 8;
/// Where the code starts (CS base 0, real mode).
pub const CODE_GPA: u64 = 0x1000;
/// The ports whose accesses reach vm-probe.
const PORTS: u64 = 0x90 | 0x9F << 16;
const READ_WRITE_EXECUTE: u64 = map::READABLE | map::WRITABLE | map::EXECUTABLE;
/// The Requirements' minimal Hv#1 interface: AccessHypercallMsrs and
/// AccessVpIndex (CPUID 0x40000003 EAX bits 5 and 6), nothing else.
pub const MINIMAL_HV1: [u64; hv1::WORDS] = [1 << 5 | 1 << 6, 0, 0, 0, 0, 0, 0, 0];

/// Where vm-probe maps region `n` of a scenario into its own address space
/// (RAM is 0) to write or read it.
pub fn window(n: u64) -> u64 {
    tessera_rt::abi::REGION_WINDOW.start + 0x1000_0000 + n * 0x10_0000
}

/// One VP of a lab guest.
#[derive(Clone, Copy, Debug)]
pub struct LabVp<'a> {
    pub index: u32,
    pub cpu: u32,
    /// Set on top of the real-mode state at [`CODE_GPA`].
    pub registers: &'a [Register],
}

/// The endpoint and the call being served.
#[derive(Debug)]
pub struct Lab {
    server: Server,
    vps: usize,
}

impl Lab {
    pub fn new() -> Result<Self, Error> {
        tessera_rt::build::endpoint_create(slot::DOMAIN, LAB_ENDPOINT, false, PRIORITY)?;
        Ok(Self {
            server: Server::new(Endpoint(LAB_ENDPOINT)),
            vps: 0,
        })
    }

    /// Makes the partition `name`: its RAM with `code` at [`CODE_GPA`],
    /// the Hv#1 interface if `hv1`, the routes, and `vps`, stopped. The
    /// RAM is left mapped at [`window`]`(0)`.
    pub fn build(
        &mut self,
        name: &str,
        code: &[u8],
        hv1: Option<&[u64; hv1::WORDS]>,
        vps: &[LabVp<'_>],
    ) -> Result<(), Error> {
        vm::partition_create(PARTITION, name)?;
        memory::create(RAM, RAM_PAGES)?;
        memory::map(RAM, slot::DOMAIN, window(0), tessera_rt::abi::page::WRITE)?;
        memory::write(window(0) + CODE_GPA, &words_of(code));
        vm::map_gpa(PARTITION, RAM, 0, READ_WRITE_EXECUTE)?;
        if let Some(words) = hv1 {
            vm::partition_set_hv1(PARTITION, words)?;
        }
        vm::install_intercept(PARTITION, intercept::LIFECYCLE, 0, LAB_ENDPOINT, 0)?;
        vm::install_intercept(PARTITION, intercept::IO_PORT, PORTS, LAB_ENDPOINT, 0)?;
        for vp in vps {
            let slot = VP_SLOTS[vp.index as usize];
            vm::vp_create(PARTITION, slot, vp.index, vp.cpu, PRIORITY)?;
            let mut registers = Vec::from(real_mode_at_code());
            registers.extend_from_slice(vp.registers);
            vm::vp_set_registers(slot, &registers).map_err(|e| e.error)?;
        }
        self.vps = vps.len();
        Ok(())
    }

    /// Writes `words` into the RAM at `gpa` (8-byte aligned).
    pub fn write(&self, gpa: u64, words: &[u64]) {
        memory::write(window(0) + gpa, words);
    }

    /// Maps `region` (made by the scenario) at `gpa` in the lab partition.
    pub fn map(&self, region: u32, gpa: u64) -> Result<(), Error> {
        vm::map_gpa(PARTITION, region, gpa, map::READABLE | map::WRITABLE)
    }

    /// Takes the mapping at `gpa` out of the lab partition.
    pub fn unmap(&self, gpa: u64) -> Result<(), Error> {
        vm::unmap_gpa(PARTITION, gpa)
    }

    /// The capability slot of VP `index`.
    pub fn vp(&self, index: u32) -> u32 {
        VP_SLOTS[index as usize]
    }

    /// Starts every VP.
    pub fn start(&self) -> Result<(), Error> {
        VP_SLOTS[..self.vps]
            .iter()
            .try_for_each(|&vp| vm::vp_start(vp))
    }

    /// The next exit; `answer` goes to the one before it first, with the
    /// same system call (`ReplyWait`), as an exit-serving loop does.
    pub fn next(&self, answer: Option<ExitReply>) -> Result<ExitMessage, Error> {
        let request: Request = match answer {
            Some(reply) => self.server.reply_wait(reply.into_message()?.into())?,
            None => self.server.wait()?,
        };
        Ok(tessera_rt::vm_exit::receive(&request.message))
    }

    /// Answers the last exit without waiting for another.
    pub fn answer(&self, reply: ExitReply) -> Result<(), Error> {
        self.server.reply(reply.into_message()?.into())
    }

    /// Deletes everything `build` and the scenario made (what is not there
    /// is skipped).
    pub fn tear_down(&mut self) {
        for slot in VP_SLOTS
            .iter()
            .chain(&[PARTITION, RAM])
            .chain(&SPARE_REGIONS)
        {
            let _ = cap::delete(*slot);
        }
        self.vps = 0;
    }
}

/// Real mode, CS base 0, at [`CODE_GPA`].
fn real_mode_at_code() -> [Register; 2] {
    /// Present, code, readable, accessed; DPL 0; 16-bit.
    const REAL_MODE_CODE: u64 = 0x9B;
    [
        Register {
            name: HvRegisterName::X64_CS,
            low: 0,
            high: 0xFFFF | REAL_MODE_CODE << 48,
        },
        Register::u64(HvRegisterName::X64_RIP, CODE_GPA),
    ]
}

/// `bytes` as little-endian words, the last one padded with zeros.
pub fn words_of(bytes: &[u8]) -> Vec<u64> {
    bytes
        .chunks(8)
        .map(|chunk| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            u64::from_le_bytes(word)
        })
        .collect()
}
