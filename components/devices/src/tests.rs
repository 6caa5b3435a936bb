use super::*;
use alloc::string::ToString;
use alloc::vec;
use tessera_rt::abi::vm::{TESSERA_HANDLER_DIED, action};
use tessera_rt::vm_exit::attach_message;

const IO_PORT: u64 = 0x8001_0000;
const COM1: u64 = 0x3F8;
const THR: u64 = COM1;
const LSR: u64 = COM1 + 5;
const SCR: u64 = COM1 + 7;

fn io(devices: &mut Devices, badge: u64, port: u64, size: u64, write: bool, value: u64) -> Handled {
    let words = [IO_PORT, 0, port, size, u64::from(write), value];
    devices.handle(badge, &ExitMessage::decode(&words, &[]))
}

fn inb(devices: &mut Devices, badge: u64, port: u64) -> u64 {
    let handled = io(devices, badge, port, 1, false, 0);
    assert_eq!(
        handled.reply.actions(),
        action::ADVANCE_RIP | action::RESULT
    );
    handled.reply.words()[2]
}

fn outb(devices: &mut Devices, badge: u64, port: u64, value: u8) -> Vec<String> {
    let handled = io(devices, badge, port, 1, true, u64::from(value));
    assert_eq!(handled.reply.words(), [action::ADVANCE_RIP, 0, 0, 0, 0, 0]);
    handled.log.into_iter().map(|(_, line)| line).collect()
}

fn print(devices: &mut Devices, badge: u64, text: &str) -> Vec<String> {
    text.bytes()
        .flat_map(|b| outb(devices, badge, THR, b))
        .collect()
}

fn attach(devices: &mut Devices, badge: u64, name: &str) -> Handled {
    let message = attach_message(name);
    devices.handle(badge, &ExitMessage::decode(&message.words, &[]))
}

#[test]
fn output_becomes_tagged_lines() {
    let mut devices = Devices::new();
    assert_eq!(print(&mut devices, 1, "early\r\n"), ["partition 1: early"]);
    let handled = attach(&mut devices, 1, "linux");
    assert_eq!(handled.reply.words(), [0; 6], "word 0 = 0 accepts");
    assert_eq!(
        handled.log,
        vec![(Level::Info, "badge 1 is partition linux".to_string())]
    );
    assert_eq!(
        print(&mut devices, 1, "Linux version 6.1"),
        Vec::<String>::new()
    );
    assert_eq!(print(&mut devices, 1, "\n"), ["linux: Linux version 6.1"]);
}

#[test]
fn long_lines_split_and_hostile_bytes_are_escaped() {
    let mut devices = Devices::new();
    attach(&mut devices, 2, "g");
    let lines = print(&mut devices, 2, &"x".repeat(450));
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0], "g: ".to_string() + &"x".repeat(200));
    assert_eq!(
        print(&mut devices, 2, "\n"),
        ["g: ".to_string() + &"x".repeat(50)]
    );
    let mut lines = Vec::new();
    for byte in [b'a', 0x1B, b'[', b'2', b'J', 0xFF, b'\n'] {
        lines.extend(outb(&mut devices, 2, THR, byte));
    }
    assert_eq!(lines, ["g: a\\x1b[2J\\xff"]);
}

#[test]
fn a_reattach_flushes_and_resets() {
    let mut devices = Devices::new();
    attach(&mut devices, 3, "first");
    outb(&mut devices, 3, SCR, 0x42);
    print(&mut devices, 3, "unfinished");
    let handled = attach(&mut devices, 3, "second");
    let lines: Vec<&str> = handled.log.iter().map(|(_, l)| l.as_str()).collect();
    assert_eq!(lines, ["first: unfinished", "badge 3 is partition second"]);
    assert_eq!(inb(&mut devices, 3, SCR), 0, "the UART was reset");
    // The same name again: no new announcement.
    assert!(attach(&mut devices, 3, "second").log.is_empty());
}

#[test]
fn reads_are_masked_and_wide_accesses_split_into_bytes() {
    let mut devices = Devices::new();
    outb(&mut devices, 1, SCR, 0xA5);
    assert_eq!(inb(&mut devices, 1, SCR), 0xA5);
    assert_eq!(inb(&mut devices, 1, LSR), 0x60);
    // A 16-bit read of LSR:MSR.
    let handled = io(&mut devices, 1, LSR, 2, false, 0);
    assert_eq!(handled.reply.words()[2], 0xB0_60);
    // A 32-bit read at SCR: SCR, then three ports past COM1 (all ones).
    let handled = io(&mut devices, 1, SCR, 4, false, 0);
    assert_eq!(handled.reply.words()[2], 0xFFFF_FFA5);
    // A 16-bit write of "hi" to THR and IER: 'h' out, IER = 'i' & 0xF.
    let handled = io(
        &mut devices,
        1,
        THR,
        2,
        true,
        u64::from(u16::from_le_bytes(*b"hi")),
    );
    assert!(handled.log.is_empty());
    assert_eq!(inb(&mut devices, 1, COM1 + 1), u64::from(b'i' & 0x0F));
    assert_eq!(print(&mut devices, 1, "\n"), ["partition 1: h"]);
}

#[test]
fn ports_without_a_device_read_all_ones() {
    let mut devices = Devices::new();
    assert_eq!(inb(&mut devices, 1, 0x2F8), 0xFF);
    let handled = io(&mut devices, 1, 0x80, 4, false, 0);
    assert_eq!(handled.reply.words()[2], 0xFFFF_FFFF);
    let handled = io(&mut devices, 1, 0xFFFF, 2, false, 0);
    assert_eq!(handled.reply.words()[2], 0xFFFF, "the port number wraps");
    assert!(outb(&mut devices, 1, 0x2F8, b'x').is_empty());
}

#[test]
fn bad_sizes_and_foreign_messages_stop_the_vp() {
    let mut devices = Devices::new();
    attach(&mut devices, 4, "g");
    for size in [0, 3, 8, u64::MAX] {
        let handled = io(&mut devices, 4, THR, size, true, 0x41);
        assert_eq!(handled.reply.words(), [action::STOP, 0, 0, 0, 0, 0]);
        let [(level, warning)] = &handled.log[..] else {
            panic!("one warning expected: {:?}", handled.log);
        };
        assert_eq!(*level, Level::Warn);
        assert!(
            warning.starts_with("g: malformed HvMessageTypeX64IoPortIntercept message (bad size"),
            "{warning}"
        );
    }
    let unknown = devices.handle(4, &ExitMessage::decode(&[0x1234, 1, 2, 3, 4, 5], &[]));
    assert_eq!(unknown.reply.words()[0], action::STOP);
    assert_eq!(
        unknown.log,
        vec![(
            Level::Warn,
            "g: unknown message type 0x1234 (VP 1); stopping the VP".to_string()
        )]
    );
    let died = devices.handle(
        9,
        &ExitMessage::decode(&[TESSERA_HANDLER_DIED, 0, IO_PORT, 0, 0, 0], &[]),
    );
    assert_eq!(died.reply.words()[0], action::STOP);
    assert!(
        died.log[0]
            .1
            .starts_with("partition 9: no device handles HandlerDied")
    );
    // Nothing was written by the refused OUTs.
    assert!(print(&mut devices, 4, "\n") == ["g: "]);
}

#[test]
fn partitions_are_isolated_by_badge() {
    let mut devices = Devices::new();
    attach(&mut devices, 1, "a");
    attach(&mut devices, 2, "b");
    outb(&mut devices, 1, SCR, 0x11);
    outb(&mut devices, 2, SCR, 0x22);
    assert_eq!(inb(&mut devices, 1, SCR), 0x11);
    assert_eq!(inb(&mut devices, 2, SCR), 0x22);
    // Interleaved output stays in each partition's line.
    let mut lines = Vec::new();
    for (a, b) in "one\n".bytes().zip("two\n".bytes()) {
        lines.extend(outb(&mut devices, 1, THR, a));
        lines.extend(outb(&mut devices, 2, THR, b));
    }
    assert_eq!(lines, ["a: one", "b: two"]);
    // Loopback on one does not feed the other's receiver.
    outb(&mut devices, 1, COM1 + 4, 0x10);
    outb(&mut devices, 1, THR, 0x5A);
    assert_eq!(inb(&mut devices, 1, LSR) & 1, 1);
    assert_eq!(inb(&mut devices, 2, LSR) & 1, 0);
    assert_eq!(inb(&mut devices, 1, THR), 0x5A);
    assert_eq!(devices.partitions(), 2);
}

#[test]
fn linux_8250_autoconfig_sees_a_16550a() {
    // The register sequence of autoconfig() in Linux's 8250_port.c.
    let mut d = Devices::new();
    let b = 1;
    // IER existence test.
    let saved_ier = inb(&mut d, b, COM1 + 1);
    outb(&mut d, b, COM1 + 1, 0);
    let scratch2 = inb(&mut d, b, COM1 + 1) & 0x0F;
    outb(&mut d, b, COM1 + 1, 0x0F);
    let scratch3 = inb(&mut d, b, COM1 + 1) & 0x0F;
    outb(&mut d, b, COM1 + 1, saved_ier as u8);
    assert_eq!((scratch2, scratch3), (0, 0x0F));
    // Loopback test.
    let saved_mcr = inb(&mut d, b, COM1 + 4);
    outb(&mut d, b, COM1 + 4, 0x10 | 0x0A);
    let status = inb(&mut d, b, COM1 + 6) & 0xF0;
    outb(&mut d, b, COM1 + 4, saved_mcr as u8);
    assert_eq!(status, 0x90);
    // FIFO type.
    outb(&mut d, b, COM1 + 3, 0xBF);
    outb(&mut d, b, COM1 + 2, 0);
    outb(&mut d, b, COM1 + 3, 0);
    outb(&mut d, b, COM1 + 2, 0x01);
    assert_eq!(inb(&mut d, b, COM1 + 2) >> 6, 3, "16550A");
    // autoconfig_16550a: no EFR with DLAB or LCR = 0xBF.
    outb(&mut d, b, COM1 + 3, 0x80);
    assert_ne!(inb(&mut d, b, COM1 + 2), 0);
    outb(&mut d, b, COM1 + 3, 0xBF);
    assert_ne!(inb(&mut d, b, COM1 + 2), 0);
    // Not a 16750: IIR bit 5 stays clear with and without DLAB.
    outb(&mut d, b, COM1 + 3, 0);
    outb(&mut d, b, COM1 + 2, 0x21);
    assert_eq!(inb(&mut d, b, COM1 + 2) & 0xE0, 0xC0);
    outb(&mut d, b, COM1 + 3, 0x80);
    outb(&mut d, b, COM1 + 2, 0x21);
    assert_eq!(inb(&mut d, b, COM1 + 2) & 0xE0, 0xC0);
    outb(&mut d, b, COM1 + 3, 0);
    // LSR is not 0xFF (startup's "is it there" check).
    assert_ne!(inb(&mut d, b, LSR), 0xFF);
    // Polled console output.
    let mut lines = Vec::new();
    for byte in b"[    0.000000] Linux version\n" {
        assert_ne!(inb(&mut d, b, LSR) & 0x20, 0, "THRE");
        lines.extend(outb(&mut d, b, THR, *byte));
    }
    assert_eq!(lines, ["partition 1: [    0.000000] Linux version"]);
}

/// Typed bytes waiting upstream, as the kernel's console input holds them.
struct Typed(std::collections::VecDeque<u8>);

impl TypedInput for Typed {
    fn read(&mut self, buffer: &mut [u8]) -> usize {
        let mut count = 0;
        while count < buffer.len() {
            let Some(byte) = self.0.pop_front() else {
                break;
            };
            buffer[count] = byte;
            count += 1;
        }
        count
    }
}

fn inb_typed(devices: &mut Devices, badge: u64, port: u64, typed: &mut Typed) -> u64 {
    let words = [IO_PORT, 0, port, 1, 0, 0];
    let handled = devices.handle_with(badge, &ExitMessage::decode(&words, &[]), typed);
    handled.reply.words()[2]
}

/// A guest polling LSR.DR, then reading RBR, as a polled serial driver does.
fn read_line(devices: &mut Devices, badge: u64, typed: &mut Typed) -> Vec<u8> {
    let mut line = Vec::new();
    for _ in 0..1000 {
        if inb_typed(devices, badge, LSR, typed) & 1 == 0 {
            continue;
        }
        let byte = inb_typed(devices, badge, THR, typed) as u8;
        if byte == b'\r' {
            return line;
        }
        line.push(byte);
    }
    panic!("no end of line: {line:?}");
}

#[test]
fn typed_input_reaches_the_console_partitions_com1_only() {
    let mut devices = Devices::with_console_input();
    let handled = attach(&mut devices, 1, "console");
    assert!(
        handled
            .log
            .iter()
            .any(|(_, l)| l == "what is typed on the console goes to partition console's COM1"),
        "{:?}",
        handled.log
    );
    attach(&mut devices, 2, "other");
    let mut typed = Typed(b"hello\rx".iter().copied().collect());
    // Another partition polls: it sees nothing, and takes nothing.
    assert_eq!(inb_typed(&mut devices, 2, LSR, &mut typed) & 1, 0);
    assert_eq!(typed.0.len(), 7);
    // The console partition reads the line byte by byte (no FIFO: one at a
    // time comes in; the rest waits upstream).
    assert_eq!(read_line(&mut devices, 1, &mut typed), b"hello");
    assert_eq!(typed.0, [b'x']);
    // With the FIFOs on, up to 16 come in at once.
    outb(&mut devices, 1, COM1 + 2, 0x01);
    let mut typed = Typed((0..40u8).map(|i| b'a' + i % 26).collect());
    assert_eq!(inb_typed(&mut devices, 1, LSR, &mut typed) & 1, 1);
    assert_eq!(typed.0.len(), 40 - 16);
    assert_eq!(inb_typed(&mut devices, 1, THR, &mut typed), u64::from(b'a'));
}

#[test]
fn without_console_input_no_partition_takes_typed_bytes() {
    let mut devices = Devices::new();
    attach(&mut devices, 1, "g");
    let mut typed = Typed(b"abc".iter().copied().collect());
    assert_eq!(inb_typed(&mut devices, 1, LSR, &mut typed) & 1, 0);
    assert_eq!(typed.0.len(), 3);
}

/// Records the line changes devices sends.
#[derive(Default)]
struct Recorder(Vec<(u64, u8, bool)>);

impl InterruptLines for Recorder {
    fn drive(&mut self, badge: u64, pin: u8, level: bool) {
        self.0.push((badge, pin, level));
    }
}

fn io_lines(
    devices: &mut Devices,
    badge: u64,
    port: u64,
    write: Option<u8>,
    lines: &mut Recorder,
) -> u64 {
    let words = [
        IO_PORT,
        0,
        port,
        1,
        u64::from(write.is_some()),
        u64::from(write.unwrap_or(0)),
    ];
    let message = ExitMessage::decode(&words, &[]);
    devices
        .handle_with_lines(badge, &message, &mut NoInput, lines)
        .reply
        .words()[2]
}

#[test]
fn com1_drives_irq_4_for_thr_empty_and_received_data() {
    use uart16550::bits::*;
    let (ier, iir, mcr) = (COM1 + 1, COM1 + 2, COM1 + 4);
    let mut devices = Devices::new();
    let mut lines = Recorder::default();
    attach(&mut devices, 3, "com");
    // Nothing enabled: no interrupt, whatever happens.
    io_lines(&mut devices, 3, THR, Some(b'a'), &mut lines);
    assert_eq!(io_lines(&mut devices, 3, iir, None, &mut lines), 0x01);
    assert!(lines.0.is_empty());
    // Enabling ETBEI with THR empty raises it at once.
    io_lines(&mut devices, 3, ier, Some(IER_ETBEI), &mut lines);
    assert_eq!(lines.0, [(3, COM1_IRQ, true)]);
    // Reading IIR reports it and clears it.
    assert_eq!(
        io_lines(&mut devices, 3, iir, None, &mut lines),
        u64::from(IIR_THR_EMPTY)
    );
    assert_eq!(lines.0.last(), Some(&(3, COM1_IRQ, false)));
    assert_eq!(io_lines(&mut devices, 3, iir, None, &mut lines), 0x01);
    // Each byte written empties THR again: interrupt-driven output.
    io_lines(&mut devices, 3, THR, Some(b'b'), &mut lines);
    assert_eq!(lines.0.last(), Some(&(3, COM1_IRQ, true)));
    // Writing THR with the interrupt still pending drops the line and
    // raises it again: a new edge.
    let before = lines.0.len();
    io_lines(&mut devices, 3, THR, Some(b'c'), &mut lines);
    assert_eq!(
        lines.0[before..],
        [(3, COM1_IRQ, false), (3, COM1_IRQ, true)]
    );
    io_lines(&mut devices, 3, ier, Some(0), &mut lines);
    assert_eq!(lines.0.last(), Some(&(3, COM1_IRQ, false)), "disabled: low");
    // Received data (through loopback) outranks THR empty; reading RBR
    // clears it.
    io_lines(&mut devices, 3, mcr, Some(MCR_LOOP), &mut lines);
    io_lines(
        &mut devices,
        3,
        ier,
        Some(IER_ERBFI | IER_ETBEI),
        &mut lines,
    );
    io_lines(&mut devices, 3, iir, None, &mut lines);
    io_lines(&mut devices, 3, THR, Some(b'x'), &mut lines);
    assert_eq!(
        io_lines(&mut devices, 3, iir, None, &mut lines),
        u64::from(IIR_RX_DATA)
    );
    assert_eq!(
        io_lines(&mut devices, 3, THR, None, &mut lines),
        u64::from(b'x')
    );
    assert_eq!(
        io_lines(&mut devices, 3, iir, None, &mut lines),
        u64::from(IIR_THR_EMPTY)
    );
    assert_eq!(lines.0.last(), Some(&(3, COM1_IRQ, false)));
    // Another partition's UART never drives this one's line.
    assert!(
        lines
            .0
            .iter()
            .all(|&(badge, pin, _)| badge == 3 && pin == COM1_IRQ)
    );
}

#[test]
fn com1_overrun_and_modem_status_interrupts() {
    use uart16550::bits::*;
    let mut uart = uart16550::Uart16550::new();
    let _ = uart.write(uart16550::offset::MCR, MCR_LOOP);
    let _ = uart.write(uart16550::offset::IER, IER_ELSI | IER_EDSSI);
    assert!(uart.interrupt(), "MCR's change shows as an MSR delta");
    assert_eq!(uart.read(uart16550::offset::IIR_FCR), IIR_MODEM_STATUS);
    uart.read(uart16550::offset::MSR);
    assert!(!uart.interrupt());
    uart.receive(1);
    uart.receive(2);
    assert_eq!(
        uart.read(uart16550::offset::IIR_FCR),
        IIR_LINE_STATUS,
        "overrun"
    );
    uart.read(uart16550::offset::LSR);
    assert!(!uart.interrupt());
    // With the FIFOs at trigger level 4, one byte is a timeout.
    let _ = uart.write(uart16550::offset::IIR_FCR, FCR_ENABLE | 0x40);
    let _ = uart.write(uart16550::offset::IER, IER_ERBFI);
    uart.receive(1);
    assert_eq!(uart.read(uart16550::offset::IIR_FCR) & 0x0F, IIR_TIMEOUT);
    for byte in 2..=4 {
        uart.receive(byte);
    }
    assert_eq!(uart.read(uart16550::offset::IIR_FCR) & 0x0F, IIR_RX_DATA);
}
