//! Building components (for init): domains, their memory and threads,
//! endpoints, and capabilities installed into them. Each call needs CONTROL
//! on the domain it acts on (ABI: `Syscall::DomainCreate` and following).

use tessera_abi::{CapTransfer, DOMAIN_WRITE_MAX, Syscall};

use crate::error::Error;
use crate::syscall::invoke;

fn call(number: Syscall, cap: u32, words: [u64; 6]) -> Result<(), Error> {
    invoke(number, cap, words, CapTransfer::NONE).map(drop)
}

fn name_words(name: &str) -> [u64; 4] {
    let mut bytes = [0u8; 32];
    let len = name.len().min(32);
    bytes[..len].copy_from_slice(&name.as_bytes()[..len]);
    core::array::from_fn(|i| {
        u64::from_le_bytes(bytes[i * 8..i * 8 + 8].try_into().expect("8 bytes"))
    })
}

/// A new domain named `name` with `quota` bytes taken from `parent`'s; its
/// capability goes to the empty slot `slot`.
pub fn domain_create(parent: u32, slot: u32, quota: u64, name: &str) -> Result<(), Error> {
    let [a, b, c, d] = name_words(name);
    call(
        Syscall::DomainCreate,
        parent,
        [u64::from(slot), quota, a, b, c, d],
    )
}

/// Maps `pages` fresh zeroed pages at `address` in `domain`
/// (`flags`: `tessera_abi::page`).
pub fn domain_map(domain: u32, address: u64, pages: u64, flags: u64) -> Result<(), Error> {
    call(Syscall::DomainMap, domain, [address, pages, flags, 0, 0, 0])
}

/// Copies `bytes` into `domain`'s mapped memory at `address`.
pub fn domain_write(domain: u32, address: u64, bytes: &[u8]) -> Result<(), Error> {
    for (index, chunk) in bytes.chunks(DOMAIN_WRITE_MAX).enumerate() {
        let mut padded = [0u8; DOMAIN_WRITE_MAX];
        padded[..chunk.len()].copy_from_slice(chunk);
        let word =
            |i: usize| u64::from_le_bytes(padded[i * 8..i * 8 + 8].try_into().expect("8 bytes"));
        let at = address + (index * DOMAIN_WRITE_MAX) as u64;
        call(
            Syscall::DomainWrite,
            domain,
            [at, chunk.len() as u64, word(0), word(1), word(2), word(3)],
        )?;
    }
    Ok(())
}

/// A thread in `domain` (not started) whose capability goes to `slot`,
/// on `cpu`; the kernel may move it to the CPUs of `movable_to` (bit `n`:
/// CPU `n`; 0 keeps it on `cpu`).
pub fn thread_create(
    domain: u32,
    slot: u32,
    entry: u64,
    stack: u64,
    priority: u8,
    (cpu, movable_to): (u32, u64),
) -> Result<(), Error> {
    call(
        Syscall::ThreadCreate,
        domain,
        [
            u64::from(slot),
            entry,
            stack,
            u64::from(priority),
            u64::from(cpu),
            movable_to,
        ],
    )
}

pub fn thread_start(thread: u32) -> Result<(), Error> {
    call(Syscall::ThreadStart, thread, [0; 6])
}

/// An endpoint (`notification == false`, with `ceiling`) or a notification
/// owned by `owner`; its capability goes to `slot`.
pub fn endpoint_create(
    owner: u32,
    slot: u32,
    notification: bool,
    ceiling: u8,
) -> Result<(), Error> {
    call(
        Syscall::EndpointCreate,
        owner,
        [
            u64::from(slot),
            u64::from(notification),
            u64::from(ceiling),
            0,
            0,
            0,
        ],
    )
}

/// Copies the capability in `source` into slot `destination` of `domain`,
/// with `rights` (a subset) and `badge` (0: none).
pub fn cap_install(
    domain: u32,
    source: u32,
    destination: u32,
    rights: u32,
    badge: u64,
) -> Result<(), Error> {
    call(
        Syscall::CapInstall,
        domain,
        [
            u64::from(source),
            u64::from(destination),
            u64::from(rights),
            badge,
            0,
            0,
        ],
    )
}
