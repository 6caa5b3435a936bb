//! The host MSRs a guest could try to change, compared with what they were
//! when the CPU started (a check of the world switch, run whenever a VP
//! stops). A difference is a kernel bug that ends the run.
use crate::arch::msr;
use crate::tlb::MAX_CPUS;
use spin::Mutex;

const WATCHED: [(u32, &str); 11] = [
    (0xC000_0080, "EFER"),
    (0xC000_0081, "STAR"),
    (0xC000_0082, "LSTAR"),
    (0xC000_0083, "CSTAR"),
    (0xC000_0084, "SFMASK"),
    (0xC000_0101, "GS_BASE"),
    (0xC000_0102, "KERNEL_GS_BASE"),
    (0x174, "SYSENTER_CS"),
    (0x175, "SYSENTER_ESP"),
    (0x176, "SYSENTER_EIP"),
    (0x277, "PAT"),
];

static SNAPSHOTS: Mutex<[Option<[u64; 11]>; MAX_CPUS]> = Mutex::new([None; MAX_CPUS]);

fn read_all() -> [u64; 11] {
    WATCHED.map(|(number, _)| msr::read(number))
}

/// Remembers this CPU's values (after SVM and the syscall MSRs are set up).
pub fn snapshot(cpu: usize) {
    SNAPSHOTS.lock()[cpu] = Some(read_all());
}

/// Compares this CPU's MSRs with its snapshot.
pub fn check(cpu: usize) {
    let Some(expected) = SNAPSHOTS.lock()[cpu] else {
        return;
    };
    let now = read_all();
    let mut intact = true;
    for ((number, name), (was, is)) in WATCHED.iter().zip(expected.iter().zip(now.iter())) {
        if was != is {
            log::error!(
                "cpu {cpu}: host MSR {name} ({number:#x}) changed from {was:#x} to {is:#x}"
            );
            intact = false;
        }
    }
    if !intact {
        crate::exit::fatal(format_args!(
            "a guest changed host MSRs: the world switch is broken"
        ));
    }
    log::debug!("cpu {cpu}: host MSRs intact");
}
