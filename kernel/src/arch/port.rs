//! Port I/O for the kernel's own devices (PIT, RTC, debug exit). Guests never
//! reach these: their I/O is intercepted.
use x86_64::instructions::port::Port;

pub fn write_u8(port: u16, value: u8) {
    // The kernel writes only ports it owns (PIT, isa-debug-exit, the RTC's
    // index); an absent device ignores the write.
    // SAFETY: by the argument just above.
    unsafe { Port::new(port).write(value) }
}

pub fn read_u8(port: u16) -> u8 {
    // As for `write_u8`; reads of the PIT, speaker and RTC ports have no
    // side effects beyond the device.
    // SAFETY: by the argument just above.
    unsafe { Port::new(port).read() }
}

pub fn read_u32(port: u16) -> u32 {
    // As for `read_u8`; the kernel reads only the ACPI PM timer's port this
    // way, a counter without side effects.
    // SAFETY: by the argument just above.
    unsafe { Port::new(port).read() }
}
