//! Starting the application processors: INIT, then two startup IPIs
//! (Intel SDM vol. 3A, 9.4.4.1; AMD APM vol. 2, 15.27.8 for the same
//! sequence on AMD), one CPU at a time.
use crate::acpi_tables::Cpu;
use crate::arch::{apic, tsc};
use crate::memory::{self, paging};
use crate::percpu::{self, NewCpu};
use crate::svm;
use core::arch::global_asm;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use tessera_boot_info::MemoryKind;

global_asm!(include_str!("trampoline.s"), options(att_syntax));

unsafe extern "C" {
    static ap_trampoline_start: u8;
    static ap_trampoline_end: u8;
}

/// Must match TRAMPOLINE_BASE in `trampoline.s`.
const TRAMPOLINE_BASE: u64 = 0x8000;
const INIT_DELAY_US: u64 = 10_000;
const STARTUP_DELAY_US: u64 = 200;
/// Under TCG a new CPU can take a while to be scheduled on the host.
const START_TIMEOUT_US: u64 = 2_000_000;

/// What `ap_entry` reads; the layout is fixed by `trampoline.s`.
#[repr(C)]
pub struct ApBoot {
    page_table_root: AtomicU64,
    stack_top: AtomicU64,
    new_cpu: AtomicU64,
}

#[unsafe(no_mangle)]
static AP_BOOT: ApBoot = ApBoot {
    page_table_root: AtomicU64::new(0),
    stack_top: AtomicU64::new(0),
    new_cpu: AtomicU64::new(0),
};

/// Set by the starting CPU once it has copied what `AP_BOOT` points to.
static STARTED: AtomicBool = AtomicBool::new(false);
static ONLINE: AtomicU32 = AtomicU32::new(1);
/// The APIC IDs of the CPUs that came online, by CPU index.
static APIC_IDS: spin::Mutex<alloc::vec::Vec<u32>> = spin::Mutex::new(alloc::vec::Vec::new());

fn install_trampoline(boot_info_usable: bool) {
    if !boot_info_usable {
        crate::exit::fatal(format_args!(
            "the AP start-up page {TRAMPOLINE_BASE:#x} is not usable RAM in the memory map"
        ));
    }
    let start = core::ptr::addr_of!(ap_trampoline_start);
    let end = core::ptr::addr_of!(ap_trampoline_end);
    let len = end as usize - start as usize;
    assert!(len <= 4096, "the AP trampoline outgrew its page");
    let target = memory::physical_to_virtual(TRAMPOLINE_BASE).as_mut_ptr::<u8>();
    // Low memory is kept out of the frame allocator, so the page is
    // the kernel's; source and target are distinct and `len` bytes long.
    // SAFETY: by the argument just above.
    unsafe { core::ptr::copy_nonoverlapping(start, target, len) };
}

fn wait_for(condition: impl Fn() -> bool, timeout_us: u64) -> bool {
    let deadline = tsc::read() + timeout_us * tsc::ticks_per_microsecond();
    while !condition() {
        if tsc::read() > deadline {
            return false;
        }
        core::hint::spin_loop();
    }
    true
}

/// Starts every CPU after the first; returns how many CPUs are online.
pub fn start_application_processors(cpus: &[Cpu], rsdp: Option<u64>) -> usize {
    tsc::calibrate(rsdp);
    crate::arch::wall_clock::read_host(crate::acpi_tables::rtc_century(rsdp));
    log::info!("smp: cpu 0 (apic {}) online", apic::id());
    if cpus.len() > 1 {
        let usable = crate::boot_info().memory_map.iter().any(|region| {
            region.kind == MemoryKind::Usable
                && region.start <= TRAMPOLINE_BASE
                && region.end >= TRAMPOLINE_BASE + 4096
        });
        install_trampoline(usable);
    }
    APIC_IDS.lock().push(apic::id());
    for (index, cpu) in cpus.iter().enumerate().skip(1) {
        let index = u32::try_from(index).expect("fewer than 2^32 CPUs");
        start_one(index, cpu);
    }
    ONLINE.load(Ordering::Acquire) as usize
}

fn start_one(index: u32, cpu: &Cpu) {
    let new_cpu = NewCpu::allocate(index, cpu.apic_id);
    let online_before = ONLINE.load(Ordering::Acquire);
    let root = paging::kernel_root().start_address().as_u64();
    AP_BOOT.page_table_root.store(root, Ordering::Relaxed);
    AP_BOOT
        .stack_top
        .store(new_cpu.kernel_stack_top.as_u64(), Ordering::Relaxed);
    AP_BOOT
        .new_cpu
        .store(&new_cpu as *const NewCpu as u64, Ordering::Relaxed);
    STARTED.store(false, Ordering::Release);

    let vector_page = (TRAMPOLINE_BASE >> 12) as u8;
    apic::send_init(cpu.apic_id);
    tsc::delay_microseconds(INIT_DELAY_US);
    for _ in 0..2 {
        apic::send_startup(cpu.apic_id, vector_page);
        tsc::delay_microseconds(STARTUP_DELAY_US);
        if STARTED.load(Ordering::Acquire) {
            break;
        }
    }
    // `new_cpu` lives on this stack: wait until the new CPU has copied it.
    if !wait_for(|| STARTED.load(Ordering::Acquire), START_TIMEOUT_US) {
        log::warn!("smp: cpu {index} (apic {}) did not start", cpu.apic_id);
        return;
    }
    if !wait_for(
        || ONLINE.load(Ordering::Acquire) > online_before,
        START_TIMEOUT_US,
    ) {
        log::warn!(
            "smp: cpu {index} (apic {}) started but did not come online",
            cpu.apic_id
        );
    }
}

/// Where application processors arrive, on their own stack and the kernel's
/// page tables.
#[unsafe(no_mangle)]
extern "C" fn ap_main(new_cpu: *const NewCpu) -> ! {
    // SAFETY: the starting CPU keeps `*new_cpu` alive until STARTED is set.
    let cpu = unsafe { new_cpu.read() };
    STARTED.store(true, Ordering::Release);
    percpu::install(cpu);
    // SAFETY: global pages only change what the TLB keeps across CR3 loads.
    unsafe {
        x86_64::registers::control::Cr4::update(|cr4| {
            cr4.insert(x86_64::registers::control::Cr4Flags::PAGE_GLOBAL)
        })
    };
    apic::enable();
    svm::require_and_enable();
    log::info!("smp: cpu {} (apic {}) online", cpu.index, cpu.apic_id);
    ONLINE.fetch_add(1, Ordering::AcqRel);
    crate::sched::start(cpu.index as usize)
}

/// Tells every other CPU that there may be work (they idle until then).
pub fn wake_all() {
    for apic_id in APIC_IDS.lock().iter().skip(1) {
        apic::send_fixed(*apic_id, crate::arch::exceptions::VECTOR_WAKEUP);
    }
}
