//! `echo-guest`: the console partition of `boot/deployments/console-echo.toml`.
//! It reads what is typed on the console from its COM1, polling the line
//! status for received data as a simple serial driver does, and answers
//! each line; the line `bye` ends it with a pass.
#![no_std]
#![no_main]
#![forbid(unsafe_code)]

use core::fmt;

use tessera_guest_framework::serial::Serial;
use tessera_guest_framework::{Suite, println};

tessera_guest_framework::entry!(main);

/// What the guest keeps of one line.
const LINE_MAX: usize = 120;

fn main(_suite: &mut Suite) {
    let mut line = [0u8; LINE_MAX];
    loop {
        println!("echo-guest: type a line and press Enter (bye ends)");
        let len = Serial.read_line(&mut line);
        if &line[..len] == b"bye" {
            println!("echo-guest: bye");
            return;
        }
        println!("echo-guest: you typed: {}", Printable(&line[..len]));
    }
}

/// Bytes as text, anything but printable ASCII shown as `?`.
struct Printable<'a>(&'a [u8]);

impl fmt::Display for Printable<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|&byte| {
            let shown = if (0x20..0x7F).contains(&byte) {
                byte
            } else {
                b'?'
            };
            fmt::Write::write_char(f, char::from(shown))
        })
    }
}
