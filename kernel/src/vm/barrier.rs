//! The indirect branch prediction barrier when a CPU goes from one
//! partition's VP to another partition's (`tessera_vcpu::speculation`
//! decides; this keeps each CPU's last partition and issues the barrier).
use crate::tlb::MAX_CPUS;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;
use tessera_vcpu::speculation;

/// Per CPU: the serial of the partition whose VP it entered last (0: none).
static LAST_PARTITION: [AtomicU64; MAX_CPUS] = [const { AtomicU64::new(0) }; MAX_CPUS];

fn offered() -> bool {
    static OFFERED: Once<bool> = Once::new();
    *OFFERED.call_once(|| {
        let ebx = raw_cpuid::native_cpuid::cpuid_count(0x8000_0008, 0).ebx;
        let offered = speculation::ibpb_offered(ebx);
        log::info!(
            "speculation: IBPB between partitions {}",
            if offered {
                "on"
            } else {
                "not offered by the CPU"
            }
        );
        offered
    })
}

/// Before `cpu` enters a VP of the partition with serial `partition`.
pub fn entering(cpu: usize, partition: u64) {
    let previous = LAST_PARTITION[cpu].swap(partition, Ordering::Relaxed);
    if speculation::needs_barrier((previous != 0).then_some(previous), partition) && offered() {
        // SAFETY: PRED_CMD exists (CPUID says IBPB); the barrier only
        // drops predictions.
        unsafe { crate::arch::msr::write(speculation::PRED_CMD, speculation::PRED_CMD_IBPB) };
    }
}
