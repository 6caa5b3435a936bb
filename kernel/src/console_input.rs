//! The console's input (ABI: `tessera_abi::console_input`): what is typed on
//! COM1 goes into a bounded ring, read only through a console capability
//! with the READ right, and a notification the reader names is signalled
//! when bytes arrive.
//!
//! Kept apart from the console's output (`console.rs`): the receive path
//! touches only the UART's receive buffer and line status registers and
//! never takes the output's lock. The UART's receive interrupt reaches CPU 0
//! through the I/O APIC; its handler takes the bytes without the kernel
//! lock (it may run where the lock is not free: in the idle loop, or between
//! a guest's exit and the lock) and leaves a flag that code holding the lock
//! turns into the signal ([`deliver`]), on its next pass through the
//! scheduler or the VP loop.
use crate::acpi_tables;
use crate::arch::exceptions::VECTOR_CONSOLE_INPUT;
use crate::arch::{apic, ioapic, port};
use crate::state::Kernel;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use heapless::Deque;
use spin::Mutex;
use tessera_abi::console_input::RING_BYTES;
use tessera_capability::{DomainId, NotificationId};

/// COM1's registers this module touches.
const COM1: u16 = 0x3F8;
const RECEIVE_BUFFER: u16 = COM1;
const INTERRUPT_ENABLE: u16 = COM1 + 1;
const LINE_STATUS: u16 = COM1 + 5;
/// IER bit 0: interrupt when received data is available.
const IER_RECEIVED_DATA: u8 = 1 << 0;
/// LSR bit 0: a byte waits in the receive buffer.
const LSR_DATA_READY: u8 = 1 << 0;
/// COM1's ISA interrupt.
const COM1_IRQ: u8 = 4;

/// Typed bytes not read yet. Taken with interrupts off (the interrupt
/// handler takes it on CPU 0), never while waiting for another lock.
static RING: Mutex<Deque<u8, RING_BYTES>> = Mutex::new(Deque::new());
/// Bytes that arrived while the ring was full.
static DROPPED: AtomicU64 = AtomicU64::new(0);
/// Bytes arrived since the last [`deliver`].
static ARRIVED: AtomicBool = AtomicBool::new(false);

/// Who waits to be told of typed bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Listener {
    /// The notification to signal, and with which bits.
    pub notification: NotificationId,
    pub bits: u64,
    /// The component that asked: when it ends, nobody listens.
    pub domain: DomainId,
}

/// Read and written only with the kernel lock held.
static LISTENER: Mutex<Option<Listener>> = Mutex::new(None);

/// Routes COM1's receive interrupt to CPU 0 (`cpu0_apic`) and turns it on.
/// Without an I/O APIC for it in the MADT, typed input is simply never
/// seen (and said so).
pub fn start(rsdp: Option<u64>, cpu0_apic: u32) {
    match acpi_tables::isa_irq_route(rsdp, COM1_IRQ) {
        Ok(Some(route)) => {
            ioapic::route(route, VECTOR_CONSOLE_INPUT, cpu0_apic);
            port::write_u8(INTERRUPT_ENABLE, IER_RECEIVED_DATA);
            log::info!(
                "console input: COM1 (IRQ {COM1_IRQ}, I/O APIC pin {}) to cpu 0",
                route.pin
            );
        }
        Ok(None) => {
            log::warn!("console input: no I/O APIC takes IRQ {COM1_IRQ}; typing is ignored")
        }
        Err(error) => log::warn!("console input: the MADT cannot be read ({error:?})"),
    }
}

/// The receive interrupt: takes every byte the UART holds.
pub fn on_interrupt() {
    let mut ring = RING.lock();
    let mut any = false;
    while port::read_u8(LINE_STATUS) & LSR_DATA_READY != 0 {
        let byte = port::read_u8(RECEIVE_BUFFER);
        any = true;
        if ring.push_back(byte).is_err() {
            DROPPED.fetch_add(1, Ordering::Relaxed);
        }
    }
    drop(ring);
    if any {
        ARRIVED.store(true, Ordering::Release);
    }
    apic::end_of_interrupt();
}

/// Up to `out.len()` typed bytes, oldest first; how many.
pub fn read(out: &mut [u8]) -> usize {
    let mut ring = RING.lock();
    let mut count = 0;
    while count < out.len() {
        let Some(byte) = ring.pop_front() else { break };
        out[count] = byte;
        count += 1;
    }
    drop(ring);
    let dropped = DROPPED.swap(0, Ordering::Relaxed);
    if dropped > 0 {
        log::warn!("console input: {dropped} typed bytes dropped (the reader was behind)");
    }
    count
}

/// Sets (or with `None` clears) the notification signalled on arrival.
/// With the kernel lock held.
pub fn listen(kernel: &mut Kernel, listener: Option<Listener>) {
    *LISTENER.lock() = listener;
    // Bytes already waiting are news to a new listener.
    if listener.is_some() && !RING.lock().is_empty() {
        ARRIVED.store(true, Ordering::Release);
    }
    deliver(kernel);
}

/// Whether a live component waits to be told of typed bytes: the
/// deployment is then not over when nothing else can run. With the kernel
/// lock held.
pub fn listening(kernel: &Kernel) -> bool {
    LISTENER.lock().is_some_and(|l| {
        kernel
            .domains
            .get(l.domain)
            .is_some_and(|d| d.ending.is_none())
    })
}

/// Turns arrivals into the listener's signal. With the kernel lock held.
pub fn deliver(kernel: &mut Kernel) {
    if !ARRIVED.swap(false, Ordering::Acquire) {
        return;
    }
    let Some(listener) = *LISTENER.lock() else {
        return;
    };
    match kernel.ipc.signal(listener.notification, listener.bits) {
        Ok(Some(waiter)) => kernel.wake(waiter),
        Ok(None) => {}
        // The notification is gone: nobody listens any more.
        Err(_) => *LISTENER.lock() = None,
    }
}
