//! `hello`: the partition of the `cargo xtask run` demo. It greets, says
//! which CPU and how much memory it sees, and passes. It has no checks:
//! reaching the end is the point.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use tessera_guest_framework::{Suite, cpu, layout, println};

tessera_guest_framework::entry!(main);

const MIB: u64 = 1 << 20;

fn main(_suite: &mut Suite) {
    println!("Hello from a Tessera partition!");
    let vendor = cpu::cpuid(0, 0).vendor();
    println!("This CPU says it is {}.", printable(&vendor));
    if let Some(brand) = brand_string() {
        let name = printable(&brand).trim();
        if !name.is_empty() {
            println!("Its name: {name}.");
        }
    }
    if let Some(top) = layout::ram_top() {
        let image = layout::image();
        println!(
            "I have {} MiB of memory; my image takes {} KiB of it at {:#x}.",
            top.div_ceil(MIB),
            (image.end - image.start) / 1024,
            image.start
        );
    }
    println!("Goodbye.");
}

/// CPUID 0x8000_0002..=0x8000_0004, where the processor spells its name.
fn brand_string() -> Option<[u8; 48]> {
    if cpu::cpuid(0x8000_0000, 0).eax < 0x8000_0004 {
        return None;
    }
    let mut brand = [0; 48];
    for (chunk, leaf) in brand.chunks_exact_mut(16).zip(0x8000_0002..) {
        chunk.copy_from_slice(&cpu::cpuid(leaf, 0).bytes());
    }
    Some(brand)
}

/// The bytes up to the first NUL, as text if they are printable ASCII.
fn printable(bytes: &[u8]) -> &str {
    let text = bytes.split(|&b| b == 0).next().unwrap_or_default();
    match core::str::from_utf8(text) {
        Ok(text) if text.bytes().all(|b| (0x20..0x7F).contains(&b)) => text,
        _ => "(unprintable)",
    }
}
