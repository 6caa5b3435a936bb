//! Measures, from ring 3, what a system call and an IPC round trip cost.
//!
//! Run by `cargo xtask bench` under QEMU with `-icount shift=0,sleep=off`,
//! where the time-stamp counter advances by one per executed instruction,
//! so the differences below are instruction counts, repeatable to the unit.
//! Each figure is the average over many round trips, minus the cost of the
//! loop itself, and is logged as `bench: <name>: <n> instructions`.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::hint::black_box;
use tessera_rt::{Endpoint, Error, Message};

tessera_rt::entry!(main);

/// The echo server's endpoint (boot/deployments/bench.toml).
const ECHO: Endpoint = Endpoint(4);
const ROUNDS: u64 = 2000;
const WARM_UP: u64 = 100;

/// Average cost of `round` over `ROUNDS` runs, after a warm-up.
fn measure(mut round: impl FnMut() -> Result<(), Error>) -> Result<u64, Error> {
    for _ in 0..WARM_UP {
        round()?;
    }
    let start = tessera_rt::time::cycles();
    for _ in 0..ROUNDS {
        round()?;
    }
    Ok((tessera_rt::time::cycles() - start) / ROUNDS)
}

fn main() -> Result<(), Error> {
    let overhead = measure(|| {
        black_box(0);
        Ok(())
    })?;
    let syscall = measure(tessera_rt::null_syscall)?;
    let echo = Message::new([1, 2, 3, 4, 5, 6]);
    let ipc = measure(|| ECHO.call(black_box(echo)).map(drop))?;
    log::info!("bench: loop overhead: {overhead} instructions");
    log::info!(
        "bench: syscall round trip: {} instructions",
        syscall.saturating_sub(overhead)
    );
    log::info!(
        "bench: ipc call/reply round trip: {} instructions",
        ipc.saturating_sub(overhead)
    );
    tessera_rt::verdict(true)
}
