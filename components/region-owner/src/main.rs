//! `region-owner`: checks memory regions end to end
//! (`boot/deployments/shared-memory.toml`), logging `ok` lines and giving
//! the verdict.
//!
//! It creates a one-page region from its quota, maps it writable and fills
//! it, derives a read-only copy and passes it to region-reader, which maps
//! it and sums it. A writable mapping through the read-only copy must be
//! refused. Then it revokes what it derived: the reader's mapping must be
//! gone on the reader's CPU, so its next read faults (the reader is stopped
//! and the call fails with ServerDied), while the owner's own mapping stays.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

extern crate alloc;

use alloc::format;
use alloc::string::String;
use tessera_rt::abi::{REGION_WINDOW, page};
use tessera_rt::{
    CapTransfer, Endpoint, Message, NO_SELECTOR, Status, cap, memory, rights, slot, verdict,
};

tessera_rt::entry!(main);

const READER: Endpoint = Endpoint(4);
const REGION: u32 = 10;
const READ_ONLY_COPY: u32 = 11;
const MAP_AND_SUM: u64 = 1;
const SUM_AGAIN: u64 = 2;

fn main() {
    match run() {
        Ok(()) => {
            log::info!("region-owner: all checks ok");
            verdict(true)
        }
        Err(problem) => {
            log::error!("region-owner: {problem}");
            verdict(false)
        }
    }
}

fn run() -> Result<(), String> {
    let pattern: [u64; 512] = core::array::from_fn(|i| (i as u64) * 7 + 3);
    let expected = pattern
        .iter()
        .fold(0u64, |sum, word| sum.wrapping_add(*word));
    memory::create(REGION, 1).map_err(|e| format!("creating a region: {e}"))?;
    memory::map(REGION, slot::DOMAIN, REGION_WINDOW.start, page::WRITE)
        .map_err(|e| format!("mapping it writable: {e}"))?;
    memory::write(REGION_WINDOW.start, &pattern);
    log::info!("ok 1 - a region created from the quota is mapped and written");

    cap::derive(REGION, READ_ONLY_COPY, rights::READ | rights::GRANT, 0)
        .map_err(|e| format!("deriving a read-only copy: {e}"))?;
    match memory::map(
        READ_ONLY_COPY,
        slot::DOMAIN,
        REGION_WINDOW.start + 0x10_0000,
        page::WRITE,
    ) {
        Err(e) if e == Status::InsufficientRights => {
            log::info!("ok 2 - a writable mapping through the read-only copy is refused")
        }
        other => {
            return Err(format!(
                "a writable mapping through the read-only copy: {other:?}"
            ));
        }
    }

    let transfer = CapTransfer {
        send: READ_ONLY_COPY,
        receive: NO_SELECTOR,
    };
    let (reply, _) = READER
        .call_with_cap(Message::new([MAP_AND_SUM, 0, 0, 0, 0, 0]), transfer)
        .map_err(|e| format!("sharing the region: {e}"))?;
    if reply.words[..2] != [0, expected] {
        return Err(format!(
            "the reader answered {:x?}, expected sum {expected:#x}",
            &reply.words[..2]
        ));
    }
    log::info!("ok 3 - the reader mapped the shared region and read what was written");

    cap::revoke(REGION).map_err(|e| format!("revoking: {e}"))?;
    match READER.call(Message::new([SUM_AGAIN, 0, 0, 0, 0, 0])) {
        Err(e) if e == Status::ServerDied => {
            log::info!("ok 4 - after revoke the reader's mapping is gone: its read faulted")
        }
        other => {
            return Err(format!(
                "reading after revoke should fault the reader, got {other:?}"
            ));
        }
    }
    let mut again = [0u64; 512];
    memory::read(REGION_WINDOW.start, &mut again);
    if again != pattern {
        return Err("the owner's own mapping changed".into());
    }
    log::info!("ok 5 - the owner's own mapping, made through the revoked capability itself, stays");
    Ok(())
}
