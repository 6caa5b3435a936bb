//! `region-reader`: the other side of the shared-memory test
//! (`boot/deployments/shared-memory.toml`).
//!
//! Op 1 MAP_AND_SUM: the call carries a memory-region capability; the
//! reader maps it read-only at the start of the region window and replies
//! with the sum of its first 512 words. Op 2 SUM_AGAIN: sums the same words
//! again — after the owner revoked the capability, that read faults.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_rt::abi::REGION_WINDOW;
use tessera_rt::{Endpoint, Message, Reply, Server, memory, slot};

tessera_rt::entry!(main);

const ENDPOINT: Endpoint = Endpoint(4);
/// Where a region passed with a call arrives.
const RECEIVED: u32 = 20;
pub const MAP_AND_SUM: u64 = 1;
pub const SUM_AGAIN: u64 = 2;

fn sum() -> u64 {
    let mut words = [0u64; 512];
    memory::read(REGION_WINDOW.start, &mut words);
    words.iter().fold(0u64, |sum, word| sum.wrapping_add(*word))
}

fn main() {
    log::info!("region-reader: serving");
    Server::new(ENDPOINT)
        .receive_caps_in(RECEIVED)
        .serve(|_badge, call, received| {
            let answer = match (call.words[0], received) {
                (MAP_AND_SUM, Some(region)) => {
                    match memory::map(region, slot::DOMAIN, REGION_WINDOW.start, 0) {
                        Ok(()) => [0, sum()],
                        Err(error) => [error.code(), 0],
                    }
                }
                (SUM_AGAIN, _) => {
                    log::info!("region-reader: reading the region again");
                    [0, sum()]
                }
                _ => [1, 0],
            };
            Reply::new(Message::new([answer[0], answer[1], 0, 0, 0, 0]))
        })
}
