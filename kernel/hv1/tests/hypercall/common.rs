//! Helpers shared by the hypercall tests: register builders, policies and a
//! guest memory.

use std::ops::Range;

use tessera_hv1::hypercall::{
    Caller, GpaError, GuestMemory, Hypercall, HypercallPolicy, HypercallRegisters, HypercallSet,
    Reject, decode,
};
use tlfs::privilege::HvPartitionPrivilegeMask;
use tlfs::{HypercallCode, HypercallInputValue};

/// A page-aligned GPA for input blocks.
pub const IN_PAGE: u64 = 0x0010_0000;
/// A page-aligned GPA for output blocks.
pub const OUT_PAGE: u64 = 0x0020_0000;
/// No XMM input.
pub const NO_XMM: [u128; 6] = [0; 6];

/// Everything advertised, every privilege the table needs, XMM input and
/// output available.
pub fn open_policy() -> HypercallPolicy {
    HypercallPolicy {
        advertised: HypercallSet::all(),
        privileges: HvPartitionPrivilegeMask::new()
            .with_access_hypercall_msrs(true)
            .with_access_vp_index(true)
            .with_post_messages(true)
            .with_signal_events(true)
            .with_enable_extended_hypercalls(true),
        xmm_fast_input: true,
        xmm_fast_output: true,
    }
}

/// The input value for `code`.
pub fn control(code: HypercallCode) -> HypercallInputValue {
    HypercallInputValue::new().with_call_code(code)
}

/// Registers of a 64-bit caller.
pub fn regs64(control: u64, rdx: u64, r8: u64) -> HypercallRegisters {
    HypercallRegisters {
        rcx: control,
        rdx,
        r8,
        ..Default::default()
    }
}

/// Registers of a 32-bit caller: EDX:EAX, EBX:ECX, EDI:ESI.
pub fn regs32(control: u64, input: u64, output: u64) -> HypercallRegisters {
    HypercallRegisters {
        rdx: control >> 32,
        rax: control & 0xFFFF_FFFF,
        rbx: input >> 32,
        rcx: input & 0xFFFF_FFFF,
        rdi: output >> 32,
        rsi: output & 0xFFFF_FFFF,
        r8: 0,
    }
}

/// Decodes a 64-bit CPL-0 call with `policy`.
pub fn decode64(
    control: HypercallInputValue,
    rdx: u64,
    r8: u64,
    policy: &HypercallPolicy,
) -> Result<Hypercall, Reject> {
    decode(
        Caller::KERNEL64,
        &regs64(control.into_bits(), rdx, r8),
        &NO_XMM,
        policy,
    )
}

/// Decodes a 64-bit call with the open policy.
pub fn decode_open(control: HypercallInputValue, rdx: u64, r8: u64) -> Result<Hypercall, Reject> {
    decode64(control, rdx, r8, &open_policy())
}

/// The status a rejected call returns (panics on anything else).
pub fn status_of(result: Result<Hypercall, Reject>) -> tlfs::HvStatus {
    match result {
        Err(Reject::Status(status)) => status,
        other => panic!("expected a status, got {other:?}"),
    }
}

/// A partition's memory: `ram` is backed, `holes` inside it are unmapped,
/// and everything at or above `space_end` is outside the GPA space.
#[derive(Debug)]
pub struct TestMemory {
    pub ram: Range<u64>,
    pub bytes: Vec<u8>,
    pub holes: Vec<Range<u64>>,
    pub space_end: u64,
}

impl TestMemory {
    /// 4 MiB of RAM from 0, GPA space of 1 GiB, no holes.
    pub fn new() -> Self {
        Self {
            ram: 0..0x40_0000,
            bytes: vec![0; 0x40_0000],
            holes: Vec::new(),
            space_end: 0x4000_0000,
        }
    }

    fn check(&self, gpa: u64, len: usize) -> Result<Range<usize>, GpaError> {
        let end = gpa.checked_add(len as u64).ok_or(GpaError::OutOfBounds)?;
        if end > self.space_end {
            return Err(GpaError::OutOfBounds);
        }
        let in_hole = self.holes.iter().any(|h| gpa < h.end && h.start < end);
        if in_hole || gpa < self.ram.start || end > self.ram.end {
            return Err(GpaError::Inaccessible);
        }
        let start = (gpa - self.ram.start) as usize;
        Ok(start..start + len)
    }

    /// Stores `data` at `gpa` (test setup; panics outside RAM).
    pub fn put(&mut self, gpa: u64, data: &[u8]) {
        let range = self.check(gpa, data.len()).expect("inside RAM");
        self.bytes[range].copy_from_slice(data);
    }

    /// Stores QWORDs at `gpa`.
    pub fn put_qwords(&mut self, gpa: u64, qwords: &[u64]) {
        for (i, q) in qwords.iter().enumerate() {
            self.put(gpa + 8 * i as u64, &q.to_le_bytes());
        }
    }
}

impl GuestMemory for TestMemory {
    fn read(&self, gpa: u64, buf: &mut [u8]) -> Result<(), GpaError> {
        let range = self.check(gpa, buf.len())?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn write(&mut self, gpa: u64, data: &[u8]) -> Result<(), GpaError> {
        let range = self.check(gpa, data.len())?;
        self.bytes[range].copy_from_slice(data);
        Ok(())
    }
}
