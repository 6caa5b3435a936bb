//! Partitions and virtual processors (ABI: `tessera_abi::vm`, system calls
//! `PartitionCreate` (23) to `PartitionSetHv1` (33), and
//! `PartitionAssertInterrupt` (36)): typed wrappers for a partition manager
//! and an interrupt controller.
//!
//! Capabilities are named by slot, as everywhere in the runtime: a partition
//! capability (CONTROL) from [`partition_create`], a VP capability (READ,
//! WRITE, CONTROL) from [`vp_create`], memory-region capabilities from
//! [`crate::memory::create`], endpoint capabilities (CALL) for routes.
//!
//! Register values travel as `(HV_REGISTER_NAME, low, high)` triples through
//! the message buffer: [`Register`] is one triple, and its constructors pack
//! the TLFS 128-bit layouts ([`Register::segment`] for
//! `HV_X64_SEGMENT_REGISTER`, [`Register::table`] for
//! `HV_X64_TABLE_REGISTER`).
//!
//! [`map_view`] maps a region read-only and reads it in place (a partition
//! manager's guest images, from its manager data).

use tessera_abi::vm::{MAX_REGISTER_TRIPLES, hv1};
use tessera_abi::{CapTransfer, MESSAGE_WORDS, REGION_WINDOW, Status, Syscall, slot};
use tlfs::register::HvRegisterName;
use tlfs::types::{HvX64SegmentAttributes, HvX64SegmentRegister, HvX64TableRegister};

use crate::error::{Error, check};
use crate::syscall::{
    Registers, invoke, raw, read_message_buffer, region_bytes, write_message_buffer,
};

fn call(number: Syscall, cap: u32, words: [u64; MESSAGE_WORDS]) -> Result<(), Error> {
    invoke(number, cap, words, CapTransfer::NONE).map(drop)
}

/// A name as the four words of `PartitionCreate` (32 bytes, NUL padded;
/// longer names are cut at 32 bytes).
pub fn name_words(name: &str) -> [u64; 4] {
    let mut bytes = [0u8; 32];
    let len = name.len().min(32);
    bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
    core::array::from_fn(|i| {
        u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
    })
}

/// A new partition named `name` (for logs), charged to the caller's quota;
/// its capability (CONTROL, GRANT, DERIVE, REVOKE) goes to the empty `slot`.
pub fn partition_create(slot: u32, name: &str) -> Result<(), Error> {
    partition_create_with_apic(slot, name, tessera_abi::vm::apic::NONE)
}

/// [`partition_create`] whose VPs get the local APIC `apic`
/// (`tessera_abi::vm::apic`).
pub fn partition_create_with_apic(slot: u32, name: &str, apic: u64) -> Result<(), Error> {
    let [a, b, c, d] = name_words(name);
    call(
        Syscall::PartitionCreate,
        0,
        [u64::from(slot), a, b, c, d, apic],
    )
}

/// Maps the whole memory region in `region` into `partition` at the
/// page-aligned `gpa`, with the `tessera_abi::vm::map` flags `flags`.
pub fn map_gpa(partition: u32, region: u32, gpa: u64, flags: u64) -> Result<(), Error> {
    call(
        Syscall::PartitionMapGpa,
        partition,
        [u64::from(region), gpa, flags, 0, 0, 0],
    )
}

/// Removes the mapping that starts at `gpa` from `partition`.
pub fn unmap_gpa(partition: u32, gpa: u64) -> Result<(), Error> {
    call(Syscall::PartitionUnmapGpa, partition, [gpa, 0, 0, 0, 0, 0])
}

/// Routes `partition`'s exits of `kind` (`tessera_abi::vm::intercept`) with
/// `parameter` to the endpoint capability (CALL) in `endpoint`, sending the
/// general registers in `state_mask` (`tessera_abi::vm::state`). The route
/// keeps that capability's badge.
pub fn install_intercept(
    partition: u32,
    kind: u64,
    parameter: u64,
    endpoint: u32,
    state_mask: u64,
) -> Result<(), Error> {
    install_posting_intercept(partition, kind, parameter, endpoint, (state_mask, 0))
}

/// [`install_intercept`], with `posted` the ports of an `io` route whose
/// writes the kernel posts (`tessera_abi::vm::posted`: bit `n` is port
/// `first + n`; 0 for none).
pub fn install_posting_intercept(
    partition: u32,
    kind: u64,
    parameter: u64,
    endpoint: u32,
    (state_mask, posted): (u64, u64),
) -> Result<(), Error> {
    call(
        Syscall::PartitionInstallIntercept,
        partition,
        [kind, parameter, u64::from(endpoint), state_mask, posted, 0],
    )
}

/// Creates VP number `index` of `partition`, to run on host CPU `cpu` at
/// `priority` (at most the caller's); its capability goes to the empty
/// `slot`. The VP starts stopped, in the x86 reset state.
pub fn vp_create(
    partition: u32,
    slot: u32,
    index: u32,
    cpu: u32,
    priority: u8,
) -> Result<(), Error> {
    call(
        Syscall::VpCreate,
        partition,
        [
            u64::from(slot),
            u64::from(index),
            u64::from(cpu),
            u64::from(priority),
            0,
            0,
        ],
    )
}

/// Runs the stopped VP in `vp`.
pub fn vp_start(vp: u32) -> Result<(), Error> {
    call(Syscall::VpStart, vp, [0; MESSAGE_WORDS])
}

/// Stops the VP in `vp` at its next exit.
pub fn vp_stop(vp: u32) -> Result<(), Error> {
    call(Syscall::VpStop, vp, [0; MESSAGE_WORDS])
}

/// Asserts `event` (`tessera_abi::vm::event`: an external interrupt or an
/// NMI) on the VP in `vp`.
pub fn vp_assert_interrupt(vp: u32, event: u64) -> Result<(), Error> {
    call(Syscall::VpAssertInterrupt, vp, [event, 0, 0, 0, 0, 0])
}

/// Delivers a device interrupt to the local APICs of `partition` (WRITE)
/// that `destination` names (`tessera_abi::vm::interrupt`: `flags` holds
/// the trigger, destination mode and delivery mode); how many VPs took it.
pub fn partition_assert_interrupt(
    partition: u32,
    vector: u8,
    destination: u8,
    flags: u64,
) -> Result<u64, Error> {
    partition_assert_interrupt_words(
        partition,
        [u64::from(vector), u64::from(destination), flags],
    )
}

/// [`partition_assert_interrupt`] with its three words as they are (for
/// tests of the kernel's checks: a vector or destination past 8 bits).
pub fn partition_assert_interrupt_words(partition: u32, words: [u64; 3]) -> Result<u64, Error> {
    let [vector, destination, flags] = words;
    let words = [vector, destination, flags, 0, 0, 0];
    invoke(
        Syscall::PartitionAssertInterrupt,
        partition,
        words,
        CapTransfer::NONE,
    )
    .map(|out| out.words[0])
}

/// Stores SynIC register `msr` (`0x40000080`-`0x4000009F`) of VP `vp` of
/// `partition` (WRITE: the `synic` component's capability) as `value`,
/// which the caller checked; the kernel checks it again
/// (`InvalidArgument`: answer #GP) and does what the write asks
/// (`tessera_abi::Syscall::PartitionSynicWrite`).
pub fn partition_synic_write(partition: u32, vp: u32, msr: u32, value: u64) -> Result<(), Error> {
    call(
        Syscall::PartitionSynicWrite,
        partition,
        [u64::from(vp), u64::from(msr), value, 0, 0, 0],
    )
}

/// VP `vp`'s SynIC registers and the partition's register policy
/// (`tessera_abi::vm::synic`: [`synic::STATE_WORDS`](tessera_abi::vm::synic::STATE_WORDS) words).
pub fn partition_synic_read(
    partition: u32,
    vp: u32,
) -> Result<[u64; tessera_abi::vm::synic::STATE_WORDS], Error> {
    call(
        Syscall::PartitionSynicRead,
        partition,
        [u64::from(vp), 0, 0, 0, 0, 0],
    )?;
    let mut words = [0; tessera_abi::vm::synic::STATE_WORDS];
    read_message_buffer(&mut words);
    Ok(words)
}

/// Gives `partition` (CONTROL) the Hv#1 interface that `words` describe
/// (`tessera_abi::vm::hv1`: what `Hv1Config::to_words` of `tessera-hv1`
/// writes, which the manifest compiler puts into the manager data): the
/// hypervisor CPUID leaves, the synthetic MSRs and the hypercalls. Before
/// any of its VPs has started (`VpRunning` after); `InvalidArgument` for a
/// configuration the kernel does not implement or the Requirements forbid.
/// The words travel in the message buffer.
pub fn partition_set_hv1(partition: u32, words: &[u64; hv1::WORDS]) -> Result<(), Error> {
    write_message_buffer(words);
    call(Syscall::PartitionSetHv1, partition, [0; MESSAGE_WORDS])
}

/// A memory region that [`map_view`] mapped read-only into the component:
/// its bytes can be read in place, as a slice.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct View {
    address: u64,
}

impl View {
    /// Where the region is mapped.
    pub const fn address(&self) -> u64 {
        self.address
    }

    /// The region's first `len` bytes. `len` must not exceed the region:
    /// a read past its end faults and stops the component (the region's
    /// size is not known here; read it from the data, as the manager data
    /// says its own length in its first 16 bytes). `InvalidArgument` if
    /// the range leaves the region window.
    pub fn bytes(&self, len: u64) -> Result<&'static [u8], Error> {
        let len = self
            .address
            .checked_add(len)
            .filter(|&end| end <= REGION_WINDOW.end)
            .and_then(|_| usize::try_from(len).ok())
            .ok_or(Error::from(Status::InvalidArgument))?;
        Ok(region_bytes(self.address, len))
    }
}

/// Maps the memory region in `region` read-only into the component's own
/// domain at `address` (page aligned, in the region window) to read it in
/// place ([`View::bytes`]): for a partition manager's guest images, which
/// it hands to the guest loader as they are.
///
/// Only for a region nothing writes any more, through a capability the
/// component keeps (the manager data region: written by init before it
/// was granted, read-only). Mapping at an address that is taken fails as
/// the kernel says.
pub fn map_view(region: u32, address: u64) -> Result<View, Error> {
    if !address.is_multiple_of(4096) || !REGION_WINDOW.contains(&address) {
        return Err(Error::from(Status::InvalidArgument));
    }
    crate::memory::map(region, slot::DOMAIN, address, 0)?;
    Ok(View { address })
}

/// One `(HV_REGISTER_NAME, low, high)` triple: a register and its 128-bit
/// value in TLFS layout (64-bit registers in `low`, `high` zero).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Register {
    pub name: HvRegisterName,
    pub low: u64,
    pub high: u64,
}

impl Register {
    /// A register with a 64-bit value.
    pub const fn u64(name: HvRegisterName, value: u64) -> Self {
        Self {
            name,
            low: value,
            high: 0,
        }
    }

    /// A register whose value is to be read (zero until
    /// [`vp_get_registers`] fills it in).
    pub const fn named(name: HvRegisterName) -> Self {
        Self::u64(name, 0)
    }

    /// A segment register as `HV_X64_SEGMENT_REGISTER`: `low` = base,
    /// `high` = limit | selector << 32 | attributes << 48.
    pub const fn segment(name: HvRegisterName, segment: HvX64SegmentRegister) -> Self {
        Self {
            name,
            low: segment.base,
            high: segment.limit as u64
                | (segment.selector as u64) << 32
                | (segment.attributes.into_bits() as u64) << 48,
        }
    }

    /// A table register (`GDTR`, `IDTR`) as `HV_X64_TABLE_REGISTER`:
    /// `low` = limit << 48 (after three padding words), `high` = base.
    pub const fn table(name: HvRegisterName, table: HvX64TableRegister) -> Self {
        Self {
            name,
            low: (table.limit as u64) << 48,
            high: table.base,
        }
    }

    /// The value as one 128-bit number (`high << 64 | low`).
    pub const fn value(&self) -> u128 {
        (self.high as u128) << 64 | self.low as u128
    }

    /// The value read as a segment register (the inverse of
    /// [`Register::segment`]).
    pub const fn as_segment(&self) -> HvX64SegmentRegister {
        HvX64SegmentRegister {
            base: self.low,
            limit: self.high as u32,
            selector: (self.high >> 32) as u16,
            attributes: HvX64SegmentAttributes::from_bits((self.high >> 48) as u16),
        }
    }

    /// The value read as a table register (the inverse of
    /// [`Register::table`]; the padding is dropped).
    pub const fn as_table(&self) -> HvX64TableRegister {
        HvX64TableRegister {
            pad: [0; 3],
            limit: (self.low >> 48) as u16,
            base: self.high,
        }
    }

    fn words(&self) -> [u64; 3] {
        [u64::from(self.name.into_bits()), self.low, self.high]
    }
}

/// Why `VpGetRegisters` / `VpSetRegisters` failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegisterError {
    /// The kernel's status.
    pub error: Error,
    /// With `InvalidArgument`: the index of the triple the kernel refused
    /// (an unknown name, or a value the architecture does not allow).
    /// `None` for other errors, or if more triples were passed than one
    /// call carries ([`MAX_REGISTER_TRIPLES`]).
    pub index: Option<usize>,
}

impl From<Error> for RegisterError {
    fn from(error: Error) -> Self {
        Self { error, index: None }
    }
}

impl core::fmt::Display for RegisterError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.index {
            Some(index) => write!(f, "{} (register {index})", self.error),
            None => write!(f, "{}", self.error),
        }
    }
}

impl core::error::Error for RegisterError {}

/// The refused index of a failed register call: word 0 with
/// `InvalidArgument`, if it names one of the `count` triples.
fn refused_index(status: u64, word0: u64, count: usize) -> Option<usize> {
    (status == Status::InvalidArgument.code())
        .then(|| usize::try_from(word0).ok())
        .flatten()
        .filter(|&index| index < count)
}

/// Puts `registers` into the message buffer and makes the register call.
fn register_call(number: Syscall, vp: u32, registers: &[Register]) -> Result<(), RegisterError> {
    let count = registers.len();
    if count > MAX_REGISTER_TRIPLES {
        return Err(Error::from(Status::InvalidArgument).into());
    }
    let mut words = [0u64; MAX_REGISTER_TRIPLES * 3];
    for (triple, register) in words.chunks_exact_mut(3).zip(registers) {
        triple.copy_from_slice(&register.words());
    }
    write_message_buffer(&words[..count * 3]);
    let out = raw(Registers {
        rax: number as u64,
        rdi: u64::from(vp),
        words: [count as u64, 0, 0, 0, 0, 0],
        r13: CapTransfer::NONE.to_word(),
        r14: 0,
    });
    check(out.rax).map_err(|error| RegisterError {
        error,
        index: refused_index(out.rax, out.words[0], count),
    })
}

/// Reads the registers of the stopped VP in `vp` (READ): each entry's
/// name is read, its `low` and `high` filled in.
pub fn vp_get_registers(vp: u32, registers: &mut [Register]) -> Result<(), RegisterError> {
    register_call(Syscall::VpGetRegisters, vp, registers)?;
    let mut words = [0u64; MAX_REGISTER_TRIPLES * 3];
    let words = &mut words[..registers.len() * 3];
    read_message_buffer(words);
    for (register, triple) in registers.iter_mut().zip(words.chunks_exact(3)) {
        register.low = triple[1];
        register.high = triple[2];
    }
    Ok(())
}

/// Writes `registers` into the stopped VP in `vp` (WRITE), all or nothing.
pub fn vp_set_registers(vp: u32, registers: &[Register]) -> Result<(), RegisterError> {
    register_call(Syscall::VpSetRegisters, vp, registers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segment() -> HvX64SegmentRegister {
        HvX64SegmentRegister {
            base: 0x1122_3344_5566_7788,
            limit: 0xFFFF_FFFF,
            selector: 0x08,
            attributes: HvX64SegmentAttributes::from_bits(0xA09B),
        }
    }

    #[test]
    fn segments_pack_as_the_tlfs_layout() {
        let register = Register::segment(HvRegisterName::X64_CS, segment());
        assert_eq!(register.low, 0x1122_3344_5566_7788);
        assert_eq!(register.high, 0xA09B_0008_FFFF_FFFF);
        assert_eq!(register.as_segment(), segment());
        // Byte for byte what HV_X64_SEGMENT_REGISTER holds.
        let bytes = register.value().to_le_bytes();
        assert_eq!(bytes[0..8], 0x1122_3344_5566_7788u64.to_le_bytes());
        assert_eq!(bytes[8..12], 0xFFFF_FFFFu32.to_le_bytes());
        assert_eq!(bytes[12..14], 0x08u16.to_le_bytes());
        assert_eq!(bytes[14..16], 0xA09Bu16.to_le_bytes());
    }

    #[test]
    fn tables_pack_as_the_tlfs_layout() {
        let table = HvX64TableRegister {
            pad: [0; 3],
            limit: 0x17,
            base: 0x7000,
        };
        let register = Register::table(HvRegisterName::X64_GDTR, table);
        assert_eq!(register.low, 0x0017_0000_0000_0000);
        assert_eq!(register.high, 0x7000);
        assert_eq!(register.as_table(), table);
        let bytes = register.value().to_le_bytes();
        assert_eq!(bytes[6..8], 0x17u16.to_le_bytes());
        assert_eq!(bytes[8..16], 0x7000u64.to_le_bytes());
    }

    #[test]
    fn triples_are_name_low_high() {
        let register = Register::u64(HvRegisterName::X64_RIP, 0x1000);
        assert_eq!(register.words(), [0x0002_0010, 0x1000, 0]);
        assert_eq!(
            Register::named(HvRegisterName::X64_RAX).words(),
            [0x0002_0000, 0, 0]
        );
    }

    #[test]
    fn only_invalid_argument_names_an_index() {
        let invalid = Status::InvalidArgument.code();
        assert_eq!(refused_index(invalid, 2, 5), Some(2));
        assert_eq!(refused_index(invalid, 5, 5), None);
        assert_eq!(refused_index(Status::VpRunning.code(), 2, 5), None);
    }

    #[test]
    fn names_are_nul_padded_words() {
        let words = name_words("guest-a");
        assert_eq!(words[0], u64::from_le_bytes(*b"guest-a\0"));
        assert_eq!(words[1..], [0, 0, 0]);
        let long = "a".repeat(40);
        assert_eq!(name_words(&long), [u64::from_le_bytes(*b"aaaaaaaa"); 4]);
    }
}

/// Ports and connections between partitions (ABI 9, system calls 48-53):
/// the TLFS's `HvCallCreatePort`, `HvCallDeletePort`, `HvCallConnectPort`
/// and `HvCallDisconnectPort` with partition capabilities (WRITE) in place
/// of partition IDs, and a component's post and signal to a port. Each
/// answers the call's `HV_STATUS` (`Ok(HvStatus::SUCCESS)` when it was
/// done); `Err` is a system-call error (a capability, `NoSynic`).
pub mod ports {
    use super::{Error, MESSAGE_WORDS, Syscall, invoke, write_message_buffer};
    use tlfs::port::{HvInputConnectPort, HvInputCreatePort};
    use tlfs::{HvMessageType, HvStatus};
    use zerocopy::IntoBytes;

    fn status_call(
        number: Syscall,
        cap: u32,
        words: [u64; MESSAGE_WORDS],
    ) -> Result<HvStatus, Error> {
        let out = invoke(number, cap, words, tessera_abi::CapTransfer::NONE)?;
        Ok(HvStatus(out.words[0] as u16))
    }

    fn write_block(bytes: &[u8]) {
        let mut words = [0u64; 32];
        for (word, chunk) in words.iter_mut().zip(bytes.chunks(8)) {
            let mut full = [0u8; 8];
            full[..chunk.len()].copy_from_slice(chunk);
            *word = u64::from_le_bytes(full);
        }
        write_message_buffer(&words[..bytes.len().div_ceil(8)]);
    }

    /// `HvCallCreatePort` in `partition` (its partition fields 0).
    pub fn create_port(partition: u32, input: &HvInputCreatePort) -> Result<HvStatus, Error> {
        write_block(input.as_bytes());
        status_call(Syscall::PartitionCreatePort, partition, [0; MESSAGE_WORDS])
    }

    /// `HvCallDeletePort`: port `id` of `partition`.
    pub fn delete_port(partition: u32, id: u32) -> Result<HvStatus, Error> {
        status_call(
            Syscall::PartitionDeletePort,
            partition,
            [u64::from(id), 0, 0, 0, 0, 0],
        )
    }

    /// `HvCallConnectPort`: `sender` to a port of `port_partition` (both
    /// capability slots; the input's partition fields 0).
    pub fn connect_port(
        sender: u32,
        port_partition: u32,
        input: &HvInputConnectPort,
    ) -> Result<HvStatus, Error> {
        write_block(input.as_bytes());
        status_call(
            Syscall::PartitionConnectPort,
            sender,
            [u64::from(port_partition), 0, 0, 0, 0, 0],
        )
    }

    /// `HvCallDisconnectPort`: connection `id` of `sender`.
    pub fn disconnect_port(sender: u32, id: u32) -> Result<HvStatus, Error> {
        status_call(
            Syscall::PartitionDisconnectPort,
            sender,
            [u64::from(id), 0, 0, 0, 0, 0],
        )
    }

    /// Posts `payload` (at most 240 bytes) as a message of `message_type`
    /// to port `port` of `partition`.
    pub fn post_message(
        partition: u32,
        port: u32,
        message_type: HvMessageType,
        payload: &[u8],
    ) -> Result<HvStatus, Error> {
        let mut block = [0u8; 240];
        let size = payload.len().min(block.len());
        block[..size].copy_from_slice(&payload[..size]);
        write_block(&block[..size.max(1)]);
        status_call(
            Syscall::PartitionPostMessage,
            partition,
            [
                u64::from(port),
                u64::from(message_type.0),
                payload.len() as u64,
                0,
                0,
                0,
            ],
        )
    }

    /// Signals flag `flag` of event port `port` of `partition`.
    pub fn signal_event(partition: u32, port: u32, flag: u16) -> Result<HvStatus, Error> {
        status_call(
            Syscall::PartitionSignalEvent,
            partition,
            [u64::from(port), u64::from(flag), 0, 0, 0, 0],
        )
    }

    /// A component-owned port's kind, for [`create_owned_port`].
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum OwnedKind {
        /// Messages.
        Message,
        /// Event flags `0..count`.
        Event { count: u16 },
    }

    /// Port `id` of `partition` for the component serving the endpoint in
    /// slot `doorbell` (CALL; its badge comes with each `PortArrival`).
    pub fn create_owned_port(
        partition: u32,
        id: u32,
        kind: OwnedKind,
        doorbell: u32,
    ) -> Result<HvStatus, Error> {
        let (port_type, count) = match kind {
            OwnedKind::Message => (1, 0),
            OwnedKind::Event { count } => (2, u64::from(count)),
        };
        status_call(
            Syscall::PartitionCreateOwnedPort,
            partition,
            [u64::from(id), port_type, count, u64::from(doorbell), 0, 0],
        )
    }

    /// What one [`receive`] took.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Taken {
        /// Nothing waited (the doorbell is armed again).
        Nothing,
        /// A message: its type, payload and the sender's connection ID.
        Message {
            message_type: HvMessageType,
            payload: alloc::vec::Vec<u8>,
            connection: u32,
        },
        /// Event flags signalled since the last take (bit n: flag n).
        Events(alloc::boxed::Box<[u64; 32]>),
    }

    /// Takes what waits at component-owned port `id` of `partition`.
    pub fn receive(partition: u32, id: u32) -> Result<Result<Taken, HvStatus>, Error> {
        let out = invoke(
            Syscall::PartitionPortReceive,
            partition,
            [u64::from(id), 0, 0, 0, 0, 0],
            tessera_abi::CapTransfer::NONE,
        )?;
        let [status, what, a, b, c, _] = out.words;
        let status = HvStatus(status as u16);
        if status != HvStatus::SUCCESS {
            return Ok(Err(status));
        }
        Ok(Ok(match what {
            1 => {
                let size = (b as usize).min(240);
                let mut words = [0u64; 30];
                super::read_message_buffer(&mut words[..size.div_ceil(8)]);
                let bytes = words.as_bytes();
                Taken::Message {
                    message_type: HvMessageType(a as u32),
                    payload: bytes[..size].to_vec(),
                    connection: c as u32,
                }
            }
            2 => {
                let mut flags = alloc::boxed::Box::new([0u64; 32]);
                super::read_message_buffer(&mut flags[..]);
                Taken::Events(flags)
            }
            _ => Taken::Nothing,
        }))
    }

    /// A `hyperv-testdev` SINT route of VP `vp` of `partition`: `action`
    /// one of `tessera_abi::vm::sint_route`.
    pub fn sint_route(partition: u32, vp: u32, sint: u32, action: u64) -> Result<HvStatus, Error> {
        status_call(
            Syscall::PartitionSintRoute,
            partition,
            [u64::from(vp), u64::from(sint), action, 0, 0, 0],
        )
    }
}
