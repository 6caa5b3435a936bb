//! Partitions and virtual processors: the component-facing side of the
//! TLFS virtualization-host interface (TLFS md `virtualization-host.md`),
//! with a capability where the TLFS has a partition ID.
//!
//! # Objects
//!
//! A *partition* is a guest physical address space plus the table of
//! *routes* that say which component handles which guest exit. A *virtual
//! processor* (VP) belongs to one partition and runs on one host CPU; while
//! it runs, the kernel executes the guest with VMRUN and handles each exit
//! either itself (its fast paths) or by a `Call` to the endpoint of the
//! matching route, made by the VP, which stays blocked until the handler's
//! `Reply`.
//!
//! # Exits handled by the kernel
//!
//! Unless a route takes them: `CPUID` (the host's leaves, filtered: the
//! hypervisor bit set; SVM, XSAVE, AVX, MONITOR, x2APIC, CET, MTRRs and
//! the performance-counter extensions hidden; the APIC ID is the VP index);
//! `RDMSR`/`WRMSR` of the MSRs the VMCB holds (the syscall and
//! segment-base MSRs pass straight through, swapped by VMSAVE/VMLOAD),
//! `EFER` and `PAT` (validated: a bit the guest's CPUID does not offer is
//! #GP), `TSC`, `TSC_AUX` (the VP's own) and `APIC_BASE` (read: the default
//! base, globally disabled); any other MSR is #GP. `IN` from a port without
//! a route reads all ones, `OUT` to one is dropped (as on a bus with no
//! device). `VMMCALL` without the Hv#1 interface and the SVM instructions
//! are #UD; `RDPMC` is #GP (no PMU is virtualised); `RDTSCP` reads the
//! VP's own TSC_AUX; `INVD` and `WBINVD` are skipped; `MOV` to CR4 takes
//! only the bits the guest's CPUID offers (#GP otherwise). `#DB` and `#AC`
//! without a route go straight back to the guest; `#MC` and NMIs are the
//! host's. Every exit that completes an instruction moves RIP past all of
//! it, prefixes included. An interrupt or window exit is the kernel's own
//! business.
//!
//! Exits that have neither a route nor a fast path go to the partition's
//! [`intercept::LIFECYCLE`] route, which every partition MUST have before a
//! VP starts: a triple fault (`UNRECOVERABLE_EXCEPTION`), an access to a
//! GPA outside the partition's mappings without a [`intercept::MEMORY`]
//! route (`UNMAPPED_GPA` / `GPA_INTERCEPT`), string port I/O, a `HLT` with
//! interrupts disabled and nothing to wake it, an invalid VMCB, and a
//! handler that died. The VP is stopped when the kernel sends these; the
//! lifecycle handler decides what happens to the partition.
//!
//! # The exit message (kernel → handler)
//!
//! The VP calls the route's endpoint (with the badge the route's
//! capability carries) with:
//!
//! | word | meaning |
//! | --- | --- |
//! | 0 | the TLFS message type (`HV_MESSAGE_TYPE`, e.g. `X64_IO_PORT_INTERCEPT`) |
//! | 1 | the VP index (bits 31:0); the number of posted writes (bits 39:32) |
//! | 2-5 | the exit's quick fields (per type: `tessera_exit_protocol::Exit`) |
//!
//! and, in the message buffer, first the port writes the kernel posted on
//! the route since its last message ([posted writes](posted), one word
//! each, oldest first; none unless the route posts), then the TLFS
//! intercept message for the type (`tessera_tlfs::intercept`, padded to
//! whole words), then the general registers the route asked for
//! ([`state`]), one word each in mask-bit order.
//!
//! # The reply (handler → kernel)
//!
//! | word | meaning |
//! | --- | --- |
//! | 0 | [`action`] bits |
//! | 1 | with [`action::INJECT`]: the event ([`event`]) |
//! | 2, 3 | with [`action::RESULT`]: the result (per type: `tessera_exit_protocol::Exit`) |
//!
//! plus, with [`action::SET_REGISTERS`], `(HV_REGISTER_NAME, value)` word
//! pairs in the message buffer (general registers, `RIP` and `RFLAGS`
//! only). The kernel checks a reply to a VP before it accepts it: an
//! unknown action or register, a non-canonical `RIP`, reserved `RFLAGS` or
//! event bits make the handler's `Reply` fail with
//! [`Status::InvalidArgument`](crate::Status::InvalidArgument), and the
//! handler still owes the reply. The kernel keeps the accepted reply's
//! values: the message buffer is the handler's again at once (a
//! `ReplyWait` may fill it with the next exit before the VP runs).
//!
//! A reply that stops the VP (with [`action::STOP`], any answer to a
//! lifecycle message, or after a `VpStop`) is applied as the kernel accepts
//! it: when the handler's `Reply` (or `ReplyWait`) returns, the VP is
//! stopped, so the handler may at once read or set its registers, reset
//! its partition's Hv#1 state or restart it. Any other reply is applied
//! when the VP's CPU next runs it.

/// Intercept kinds for `PartitionInstallIntercept` (word 0): the TLFS
/// `HV_INTERCEPT_TYPE` values where the TLFS has one, Tessera's own above
/// `0x8000_0000`.
pub mod intercept {
    /// Ports `first..=last`: parameter word = `first | last << 16`.
    pub const IO_PORT: u64 = 0x0000_0000;
    /// MSRs `first..=last`: parameter word = `first | last << 32`.
    pub const MSR: u64 = 0x0000_0001;
    /// CPUID leaves `first..=last`: parameter word = `first | last << 32`.
    pub const CPUID: u64 = 0x0000_0002;
    /// Exception vectors: parameter word = a bit mask of vectors 0-31
    /// (NMI, 2, and machine checks, 18, are the host's and cannot be
    /// routed).
    pub const EXCEPTION: u64 = 0x0000_0003;
    /// Hypercalls with call codes `first..=last` (at most `0xFFFF`):
    /// parameter word = `first | last << 32`. Only a partition with the
    /// Hv#1 interface makes hypercalls; a route takes a code from the
    /// kernel's own handlers too. The kernel forwards a 64-bit caller at
    /// CPL 0 whose hypercall page is enabled, choosing the route by the
    /// input value's call code (bits 15:0, masked before the lookup) and
    /// decoding nothing else: the handler validates the call.
    pub const HYPERCALL: u64 = 0x0000_0008;
    /// Exits nothing else handles (see the module documentation);
    /// parameter word 0.
    pub const LIFECYCLE: u64 = 0x8000_0000;
    /// `HLT`; parameter word 0. Without it the kernel parks the VP until an
    /// interrupt is asserted.
    pub const HLT: u64 = 0x8000_0001;
    /// Accesses to GPA pages `first..=last` (page numbers, GPA >> 12) that
    /// no mapping allows — memory-mapped I/O: parameter word = `first |
    /// last << 32`. The kernel decodes the instruction (MOV forms to and
    /// from a general register or an immediate); see the memory exit of
    /// `tessera_exit_protocol::Exit`.
    pub const MEMORY: u64 = 0x8000_0002;
    /// EOI broadcasts of level-triggered vectors (since ABI 7); parameter
    /// word 0. A VP whose local APIC ends a level-triggered interrupt
    /// sends [`super::TESSERA_EOI_BROADCAST`] here (the I/O APIC's view of
    /// the EOI message, so its remote IRR clears) and waits for the reply;
    /// its EOI instruction has completed by then (reply with nothing to
    /// do). The owner of a partition gives its interrupt capability
    /// (`PartitionAssertInterrupt`) to this route's server. While a
    /// partition has the route, its VPs' APIC MSR exits take the kernel's
    /// locked path.
    pub const EOI: u64 = 0x8000_0003;
}

/// The general registers a route asks for (word 3 of
/// `PartitionInstallIntercept`), bit n for register n in the x86 encoding
/// order: RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, R8-R15.
pub mod state {
    pub const RAX: u64 = 1 << 0;
    pub const RCX: u64 = 1 << 1;
    pub const RDX: u64 = 1 << 2;
    pub const RBX: u64 = 1 << 3;
    pub const RSP: u64 = 1 << 4;
    pub const RBP: u64 = 1 << 5;
    pub const RSI: u64 = 1 << 6;
    pub const RDI: u64 = 1 << 7;
    /// Every general register.
    pub const ALL: u64 = 0xFFFF;
}

// Words 2-5 of an exit message and the result words of a reply are
// defined per message type, as types with their encoder and decoder, by
// the `tessera-exit-protocol` crate (`Exit`, `ExitReply`), which the kernel
// and `tessera-rt` share; the layouts of the words are unchanged.

/// Message types Tessera adds for the lifecycle route (in the TLFS's
/// hypervisor range, unused there).
pub const TESSERA_HANDLER_DIED: u64 = 0x8000_0F00;
pub const TESSERA_UNSUPPORTED: u64 = 0x8000_0F01;
/// The guest asked for a reset through `HV_X64_MSR_RESET`; no quick words.
pub const TESSERA_RESET_REQUEST: u64 = 0x8000_0F03;
/// The guest reported a crash through the crash MSRs: quick words 2-5
/// are P0-P3 (the kernel logs all five and the message text).
pub const TESSERA_GUEST_CRASH: u64 = 0x8000_0F04;
/// Sent by the partition manager, not the kernel: before it starts a
/// partition it calls each of the partition's route endpoints (through the
/// badged capability the route uses) with word 0 = this type, so handlers
/// learn the name behind a badge (for log tags). Words 1-4: the
/// partition's name, 32 bytes NUL padded; the handler replies with word
/// 0 = 0 to accept.
pub const TESSERA_PARTITION_ATTACH: u64 = 0x8000_0F02;
/// Word 5 of the attach message the partition's interrupt controller (the
/// handler of its [`intercept::EOI`] route) gets, with the partition's
/// interrupt capability (WRITE, for `PartitionAssertInterrupt`): its VP
/// count in bits 15:0 and its memory in 4 KiB pages in bits 63:16 (what
/// QEMU's `fw_cfg` reports). Other handlers get 0 there.
pub const fn attach_shape(memory_bytes: u64, vps: u64) -> u64 {
    (memory_bytes / 4096) << 16 | (vps & 0xFFFF)
}
/// The (memory bytes, VP count) of an [`attach_shape`] word.
pub const fn attach_shape_of(word: u64) -> (u64, u64) {
    ((word >> 16) * 4096, word & 0xFFFF)
}
/// To the [`intercept::EOI`] route: a local APIC ended level-triggered
/// vector word 2 (bits 7:0) and broadcast the EOI; no other words.
pub const TESSERA_EOI_BROADCAST: u64 = 0x8000_0F05;
/// To the [`intercept::EOI`] route (since ABI 11): the bootstrap processor
/// takes the interrupt the 8259 pair's INT output requests (LINT0 in
/// ExtINT mode, or INTR with its APIC off) — the interrupt acknowledge
/// cycle. No other words. The handler replies with [`action::RESULT`],
/// result word 0 the vector the 8259 answers (0-255; its IRR→ISR move
/// happens then), which the kernel injects as an external interrupt; a
/// reply without a result (or a word past 255) means nothing was
/// requested after all, and the kernel forgets the level until it is
/// asserted again.
pub const TESSERA_INTERRUPT_ACKNOWLEDGE: u64 = 0x8000_0F06;
/// To the endpoint a component-owned SynIC port names (since ABI 15,
/// [`crate::Syscall::PartitionCreateOwnedPort`]): a guest's
/// `HvCallPostMessage` or `HvCallSignalEvent` on a connection to port word 2
/// (of the partition behind the badge) left something the owner has not
/// seen. The hypercall is complete (its status is the guest's); the
/// sending VP waits for the reply, which applies nothing. The owner takes
/// what waits with [`crate::Syscall::PartitionPortReceive`] until it finds
/// nothing, which arms the doorbell again.
pub const TESSERA_PORT_ARRIVAL: u64 = 0x8000_0F08;

/// Word 2 of [`crate::Syscall::PartitionSintRoute`].
pub mod sint_route {
    /// Removes the route (`HV_TEST_DEV_SINT_ROUTE_DESTROY`).
    pub const REMOVE: u64 = 0;
    /// Adds it (`HV_TEST_DEV_SINT_ROUTE_CREATE`).
    pub const ADD: u64 = 1;
    /// Raises the SINT through it (`HV_TEST_DEV_SINT_ROUTE_SET_SINT`).
    pub const RAISE: u64 = 2;
}

/// To a port route that posts writes (since ABI 15): the kernel hands
/// over the writes it posted ([`posted`]), with no exit of their own, when
/// the VP halts or leaves its guest for a host interrupt while some wait.
/// No quick words; the buffer holds the writes alone. The handler applies
/// them and replies with no action: the VP goes on where it was (a HLT
/// runs again).
pub const TESSERA_POSTED_WRITES: u64 = 0x8000_0F07;

/// Posted port writes (since ABI 15): an `io` route may name ports whose
/// `OUT`s the kernel completes itself, queueing the write for the route's
/// handler instead of calling it, as a bus posts writes. The handler gets
/// them, in order, ahead of the next exit the route sends it (or in a
/// [`TESSERA_POSTED_WRITES`] message), so it sees every access in the
/// order the guest made them; only a write's side effects that need no
/// access (an interrupt, output) come later. A device whose reads do not
/// depend on timing between accesses (a UART's transmit register with an
/// instant transmitter) loses nothing; the manifest chooses the ports.
pub mod posted {
    /// `PartitionInstallIntercept` word 4 of an `io` route: bit `n` posts
    /// the writes to port `first + n` (`n` below [`MAX_PORTS`] and within
    /// the range).
    /// An `OUT` is posted only if every port it touches is posted, it is
    /// not a string or `REP` instruction, and the route's queue has room;
    /// any other goes to the handler as before, behind the queued ones. A
    /// partition has at most four posting routes: a fifth is refused with
    /// the capability error `OutOfMemory`, as a route past the partition's
    /// route limit is.
    pub const MAX_PORTS: u64 = 32;
    /// Writes the kernel queues per route before it hands them over.
    pub const QUEUE_WRITES: usize = 32;
    /// A posted write, one message-buffer word: the port (bits 15:0), the
    /// size in bytes (bits 23:16: 1, 2 or 4) and the value (bits 63:32).
    pub const fn encode(port: u16, size: u8, value: u32) -> u64 {
        port as u64 | (size as u64) << 16 | (value as u64) << 32
    }
    /// Exit message word 1: the VP index in bits 31:0, the posted writes
    /// before the intercept message in bits 39:32.
    pub const COUNT_SHIFT: u32 = 32;
    pub const COUNT_MASK: u64 = 0xFF;
}

/// Device interrupts: the words of `PartitionAssertInterrupt`, and the
/// interrupt lines components use to drive an interrupt controller's pins.
pub mod interrupt {
    /// The lowest vector a device interrupt may carry (0-15 are illegal
    /// for fixed and lowest-priority delivery, SDM Vol. 3A §10.5.2).
    pub const MIN_VECTOR: u64 = 16;
    /// Word 2: level-triggered (else edge).
    pub const LEVEL: u64 = 1 << 0;
    /// Word 2: logical destination mode (else physical).
    pub const LOGICAL: u64 = 1 << 1;
    /// Word 2 bits 6:4: the delivery mode, as the I/O APIC's redirection
    /// entry (and the ICR) encode it.
    pub const MODE_SHIFT: u32 = 4;
    pub const MODE_MASK: u64 = 0b111 << MODE_SHIFT;
    pub const MODE_FIXED: u64 = 0;
    pub const MODE_LOWEST_PRIORITY: u64 = 1;
    /// The 8259's INT output (word 0: its level, 0 or 1; word 1: 0;
    /// word 2: this mode alone). Since ABI 11.
    pub const MODE_EXTINT: u64 = 7;
    /// Word 2 of an ExtINT call: exactly this.
    pub const EXTINT_FLAGS: u64 = MODE_EXTINT << MODE_SHIFT;
    /// Word 2: every defined bit.
    pub const FLAGS: u64 = LEVEL | LOGICAL | MODE_MASK;
    /// Word 1: the destination (8 bits, the I/O APIC's message format);
    /// `0xFF` in physical mode is every APIC.
    pub const DESTINATION_MASK: u64 = 0xFF;
    pub const BROADCAST: u64 = 0xFF;

    /// An interrupt line is a capability to the interrupt controller's
    /// endpoint whose badge names a partition and a pin, so only its
    /// holder drives that pin: `LINE_BADGE | partition badge << 8 | pin`
    /// (the partition badge is the one its routes carry).
    pub const LINE_BADGE: u64 = 1 << 62;
    /// The I/O APIC's pins (the line badge's pin is below this).
    pub const PINS: u64 = 24;
    /// The badge of the line for `pin` of the partition whose routes carry
    /// `partition`.
    pub const fn line_badge(partition: u64, pin: u64) -> u64 {
        LINE_BADGE | partition << 8 | pin
    }
    /// The (partition badge, pin) a line badge names, if it is one.
    pub const fn line_of(badge: u64) -> Option<(u64, u64)> {
        if badge & LINE_BADGE == 0 || badge & 0xFF >= PINS {
            return None;
        }
        Some(((badge & !LINE_BADGE) >> 8, badge & 0xFF))
    }
    /// Word 0 of a call through a line: word 1 is the line's new level (0
    /// or 1). The controller replies word 0 = 0, or a `Status` code.
    pub const LINE_MESSAGE: u64 = 0x8000_0F10;
    /// A component holds its line of a partition (one per partition) in
    /// slot `LINE_SLOT_BASE + partition badge - 1` (the manifest puts it
    /// there), so a device finds the line of the partition behind an exit
    /// badge.
    pub const LINE_SLOT_BASE: u32 = 40;
    /// The slot of the line of the partition with badge `partition`, if
    /// the capability space has one.
    pub const fn line_slot(partition: u64) -> Option<u32> {
        if partition == 0 || partition > (crate::CSPACE_SLOTS - 1 - LINE_SLOT_BASE) as u64 {
            return None;
        }
        Some(LINE_SLOT_BASE + partition as u32 - 1)
    }
}

/// Reply word 0.
pub mod action {
    /// Move RIP past the intercepted instruction.
    pub const ADVANCE_RIP: u64 = 1 << 0;
    /// Apply the result words (their meaning per exit:
    /// `tessera_exit_protocol::Exit`).
    pub const RESULT: u64 = 1 << 1;
    /// Inject the event in word 1 before the guest runs again.
    pub const INJECT: u64 = 1 << 2;
    /// Apply the register pairs in the message buffer.
    pub const SET_REGISTERS: u64 = 1 << 3;
    /// Stop the VP: it runs again only after `VpStart`.
    pub const STOP: u64 = 1 << 4;
    /// The intercepted MSR access raises #GP (MSR intercepts only).
    pub const FAULT: u64 = 1 << 5;
    /// Every defined bit.
    pub const ALL: u64 = (1 << 6) - 1;
}

/// An event to inject (reply word 1; `VpAssertInterrupt` uses the vector
/// and type): bits 7:0 vector, 10:8 type, 11 error code valid, 63:32 error
/// code. Types as in the VMCB's EVENTINJ: 0 external interrupt, 2 NMI,
/// 3 exception, 4 software interrupt. Other bits are reserved (zero).
pub mod event {
    pub const VECTOR_MASK: u64 = 0xFF;
    pub const TYPE_SHIFT: u32 = 8;
    pub const TYPE_EXTERNAL: u64 = 0;
    pub const TYPE_NMI: u64 = 2;
    pub const TYPE_EXCEPTION: u64 = 3;
    pub const TYPE_SOFTWARE: u64 = 4;
    pub const ERROR_CODE_VALID: u64 = 1 << 11;
    pub const ERROR_CODE_SHIFT: u32 = 32;
    // Bits 10:8 are the type (4, a software interrupt, sets bit 10): a
    // type the table above does not name is refused by type, not here.
    pub const RESERVED: u64 = 0x0000_0000_FFFF_F000;

    /// The event word for `vector` of type `kind` without an error code.
    pub const fn new(vector: u8, kind: u64) -> u64 {
        vector as u64 | (kind << TYPE_SHIFT)
    }
}

/// `PartitionMapGpa` word 2: the TLFS `HV_MAP_GPA_*` flags
/// (TLFS md `hypercalls/HvCallMapGpaPages.md`).
pub mod map {
    pub const READABLE: u64 = 0x1;
    pub const WRITABLE: u64 = 0x2;
    pub const KERNEL_EXECUTABLE: u64 = 0x4;
    pub const USER_EXECUTABLE: u64 = 0x8;
    /// Either executable flag makes the pages executable (nested paging
    /// has one execute bit).
    pub const EXECUTABLE: u64 = KERNEL_EXECUTABLE | USER_EXECUTABLE;
    pub const ALL: u64 = 0xF;
}

/// The highest guest physical address a partition may map (exclusive):
/// 40 bits, well inside what 4-level nested paging translates.
pub const GPA_LIMIT: u64 = 1 << 40;

/// The local APIC a partition's VPs have (`PartitionCreate` word 5).
pub mod apic {
    /// No local APIC: `IA32_APIC_BASE` reads globally disabled, CPUID shows
    /// none, and the guest gets interrupts only from `VpAssertInterrupt`.
    pub const NONE: u64 = 0;
    /// A local APIC per VP in xAPIC mode (the page at `IA32_APIC_BASE`);
    /// CPUID 1 ECX\[21\] clear, so x2APIC mode cannot be entered.
    pub const XAPIC: u64 = 1;
    /// The same, with x2APIC offered (CPUID 1 ECX\[21\]): the guest may
    /// switch to x2APIC mode (MSRs `0x800`-`0x8FF`).
    pub const X2APIC: u64 = 2;
}

/// The SynIC a partition with AccessSynicRegs has (issue 14): the kernel
/// holds every VP's registers, the `synic` component validates what the
/// guest writes to SCONTROL, SIEFP, SIMP, EOM and SINT0-15 (routed to it)
/// and has the kernel store it ([`Syscall::PartitionSynicWrite`](crate::Syscall::PartitionSynicWrite)), and
/// rebuilds its copy from the kernel ([`Syscall::PartitionSynicRead`](crate::Syscall::PartitionSynicRead)),
/// whose answer is [`STATE_WORDS`](synic::STATE_WORDS) message-buffer words laid out as the
/// constants below say.
pub mod synic {
    /// Word: the register policy bits ([`POLICY_POLLING`], [`POLICY_AUTO_EOI`]).
    pub const POLICY: usize = 0;
    /// Word: the end of the partition's GPA space (a SIMP or SIEFP page at
    /// or beyond it is enabled but laid over nothing).
    pub const GPA_LIMIT: usize = 1;
    /// Word: SCONTROL.
    pub const SCONTROL: usize = 2;
    /// Word: SIEFP.
    pub const SIEFP: usize = 3;
    /// Word: SIMP.
    pub const SIMP: usize = 4;
    /// Words: SINT0 to SINT15.
    pub const SINT0: usize = 5;
    /// The answer's length.
    pub const STATE_WORDS: usize = SINT0 + 16;
    /// Policy bit: the SINT Polling bit may be set (`SintPollingModeAvailable`).
    pub const POLICY_POLLING: u64 = 1 << 0;
    /// Policy bit: the SINT AutoEOI bit may be set (no `DeprecateAutoEoi`).
    pub const POLICY_AUTO_EOI: u64 = 1 << 1;

    /// The [`POLICY`] word.
    pub const fn policy_word(polling: bool, auto_eoi: bool) -> u64 {
        (if polling { POLICY_POLLING } else { 0 }) | (if auto_eoi { POLICY_AUTO_EOI } else { 0 })
    }
}

/// The most VPs one partition may have.
pub const MAX_VPS: u64 = 64;

/// Register triples one `VpGetRegisters`/`VpSetRegisters` may carry
/// (three words each in the message buffer: name, low and high half of the
/// 128-bit TLFS value).
pub const MAX_REGISTER_TRIPLES: usize = crate::MESSAGE_BUFFER_WORDS / 3;

/// Register pairs one reply with [`action::SET_REGISTERS`] may carry.
pub const MAX_REPLY_PAIRS: usize = crate::MESSAGE_BUFFER_WORDS / 2;

/// The port-I/O protocol of the guest devices and the partition manager
/// that test guests rely on (not kernel ABI, but shared by guest and host).
pub mod guest_ports {
    /// The first 16550 UART (COM1), ports `COM1..COM1 + 8`.
    pub const COM1: u16 = 0x3F8;
    /// The exit port (like QEMU's isa-debug-exit): a 32-bit or 8-bit write
    /// ends the partition; [`EXIT_PASS`] is a pass, anything else a failure
    /// with that code.
    pub const EXIT: u16 = 0xF4;
    pub const EXIT_PASS: u32 = 0x10;
    pub const EXIT_FAIL: u32 = 0x11;

    /// The probe device (`components/probe-device`, test deployments only):
    /// exits the test guests use to check that routed exits reach a
    /// component and come back.
    pub mod probe {
        /// A 32-bit scratch register: reads return the last value written
        /// (per partition), initially 0.
        pub const SCRATCH_PORT: u16 = 0x510;
        /// Reads the badge of the partition's route (its partition number,
        /// from 1); writes are ignored.
        pub const ID_PORT: u16 = 0x514;
        /// Reads how many HLT exits the probe answered for the partition.
        pub const HALTS_PORT: u16 = 0x518;
        /// Its port range, for the route.
        pub const PORTS: core::ops::RangeInclusive<u16> = 0x510..=0x51F;
        /// CPUID leaves it answers: EAX = leaf ^ [`CPUID_XOR`], EBX =
        /// subleaf, ECX = the partition number, EDX = [`CPUID_SIGNATURE`].
        pub const CPUID_LEAVES: core::ops::RangeInclusive<u32> = 0x4C00_0000..=0x4C00_00FF;
        pub const CPUID_XOR: u32 = 0x1111_1111;
        pub const CPUID_SIGNATURE: u32 = 0x7E55_E7A0;
        /// MSRs it answers: 64-bit scratch registers (per partition),
        /// initially 0; the last one ([`MSR_READ_ONLY`]) raises #GP on a
        /// write.
        pub const MSRS: core::ops::RangeInclusive<u32> = 0x4C00_0000..=0x4C00_000F;
        pub const MSR_READ_ONLY: u32 = 0x4C00_000F;
        /// Its MMIO window, one page at [`MMIO_BASE`] (route it with a
        /// `MEMORY` route; nothing may be mapped there). Its registers are
        /// 64 bits wide, at the offsets below: a decoded access of 1, 2, 4
        /// or 8 bytes at a register's offset reads or writes its low bytes
        /// (a write keeps the bytes above it). An access at any other
        /// offset reads all ones and is ignored as a write; an access the
        /// kernel could not decode stops the VP.
        pub const MMIO_BASE: u64 = 0xFED0_0000;
        pub const MMIO_SIZE: u64 = 0x1000;
        pub const MMIO: core::ops::RangeInclusive<u64> = MMIO_BASE..=MMIO_BASE + MMIO_SIZE - 1;
        /// Offset of a 64-bit scratch register (per partition, separate
        /// from [`SCRATCH_PORT`]), initially 0.
        pub const MMIO_SCRATCH_OFFSET: u64 = 0x0;
        /// Offset of the partition number (as [`ID_PORT`] reads it);
        /// read-only, writes are ignored.
        pub const MMIO_ID_OFFSET: u64 = 0x8;
        /// What the probe puts in RDX when it answers a routed hypercall
        /// (any call code its `HYPERCALL` route takes): the result value
        /// is `HV_STATUS_SUCCESS` with 0 reps completed, RIP moves past the
        /// VMMCALL, and RDX holds this, so the guest can tell the probe's
        /// answer from the kernel's.
        pub const HYPERCALL_SIGNATURE: u64 = 0x7E55_E7A0_4879_7065;
    }
}

/// The Hv#1 configuration of `PartitionSetHv1`: [`hv1::WORDS`] words in
/// the caller's message buffer, the CPUID leaves it produces (TLFS md
/// `feature-discovery.md`):
///
/// | word | contents |
/// | --- | --- |
/// | 0 | leaf `0x40000003` EAX \| EBX << 32: the partition privilege mask |
/// | 1 | leaf `0x40000003` ECX \| EDX << 32 |
/// | 2 | leaf `0x40000004` EAX (recommendations) \| EBX (spinlock retries) << 32 |
/// | 3 | the vendor ID, bytes 0-7 (leaf `0x40000000` EBX, ECX) |
/// | 4 | the vendor ID, bytes 8-11 (EDX) \| leaf `0x40000005` EAX (maximum VPs) << 32 |
/// | 5 | leaf `0x40000006` EAX \| leaf `0x40000004` ECX (physical address bits) << 32 |
/// | 6 | leaf `0x40000002` EAX (build) \| ECX (service pack) << 32 |
/// | 7 | leaf `0x40000002` EBX (major << 16 \| minor) << 32 \| EDX (branch << 24 \| number) |
///
/// A partition never given one has no Hv#1 interface: its hypervisor
/// leaves read zero, synthetic MSRs raise #GP and `VMMCALL` raises #UD.
pub mod hv1 {
    pub const WORDS: usize = 8;
}
