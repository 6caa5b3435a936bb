//! The virtual interrupt control word (control area `060h`) and the
//! interrupt state word (`068h`).
//!
//! APM Table B-1 and the SVM chapter's virtual-interrupt section (§15.21
//! in recent editions).
//! `V_TPR`, `V_IRQ`, `V_INTR_PRIO`, `V_IGN_TPR`, `V_INTR_MASKING` and
//! `V_INTR_VECTOR`: confirmed by Linux (`V_*_SHIFT`/`MASK`; Linux splits the
//! word into `int_ctl` at `060h` and `int_vector` at `064h`), QEMU (same
//! masks) and Xen (`vintr_t`, one 64-bit word). `V_GIF`, `V_NMI`, their
//! enables and the AVIC bits: Linux and Xen (AVIC and x2AVIC enable: Linux
//! only, **Unconfirmed**). Tessera does not enable AVIC or vGIF; those
//! fields are here so the word is fully described.

use bitfield_struct::bitfield;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// The virtual interrupt control word at `060h` (`VMCB clean bit 3`,
/// "TPR").
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct VIntrControl {
    /// `V_TPR` (bits 7:0): the guest's virtual TPR. Only bits 3:0 are
    /// used (Linux `V_TPR_MASK` is `0x0f`).
    pub v_tpr: u8,
    /// `V_IRQ` (bit 8): a virtual interrupt is pending. The processor
    /// clears it when it takes the interrupt.
    pub v_irq: bool,
    /// `V_GIF` (bit 9): the virtual global interrupt flag (vGIF).
    pub v_gif: bool,
    #[bits(1)]
    __reserved10: u8,
    /// `V_NMI` (bit 11): a virtual NMI is pending (vNMI).
    pub v_nmi_pending: bool,
    /// `V_NMI_MASK` (bit 12): virtual NMIs are blocked (vNMI).
    pub v_nmi_blocking: bool,
    #[bits(3)]
    __reserved13: u8,
    /// `V_INTR_PRIO` (bits 19:16): priority of the pending virtual
    /// interrupt, compared with `V_TPR`.
    #[bits(4)]
    pub v_intr_prio: u8,
    /// `V_IGN_TPR` (bit 20): deliver the pending virtual interrupt
    /// regardless of `V_TPR`.
    pub v_ign_tpr: bool,
    #[bits(3)]
    __reserved21: u8,
    /// `V_INTR_MASKING` (bit 24): virtualize interrupt masking — the
    /// guest's `RFLAGS.IF` and `CR8` govern virtual interrupts only, the
    /// host's `IF` governs physical ones.
    pub v_intr_masking: bool,
    /// Bit 25: enable vGIF.
    pub v_gif_enable: bool,
    /// Bit 26: enable vNMI.
    pub v_nmi_enable: bool,
    #[bits(3)]
    __reserved27: u8,
    /// Bit 30: x2AVIC enable. Reserved for now (Tessera does not use
    /// AVIC). **Unconfirmed** (Linux only).
    pub x2avic_enable: bool,
    /// Bit 31: AVIC enable. Reserved for now (Tessera does not use AVIC).
    /// **Unconfirmed** (Linux only).
    pub avic_enable: bool,
    /// `V_INTR_VECTOR` (bits 39:32): the vector delivered for the pending
    /// virtual interrupt.
    pub v_intr_vector: u8,
    #[bits(24)]
    __reserved40: u32,
}

/// The interrupt state word at `068h`.
///
/// Bit 0: Linux, QEMU (`SVM_INTERRUPT_SHADOW_MASK`) and Xen (`intstat_t`).
/// Bit 1: Linux (`SVM_GUEST_INTERRUPT_MASK`) and Xen.
#[bitfield(u64)]
#[derive(PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct InterruptState {
    /// `INTERRUPT_SHADOW` (bit 0): the guest is in an interrupt shadow
    /// (after MOV SS or STI); no interrupt may be injected before the next
    /// instruction.
    pub interrupt_shadow: bool,
    /// `GUEST_INTERRUPT_MASK` (bit 1): the guest's `RFLAGS.IF`, written by
    /// the processor on `#VMEXIT` when interrupt masking is virtualized.
    pub guest_interrupt_mask: bool,
    #[bits(62)]
    __reserved: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linux_masks() {
        let v = VIntrControl::new().with_v_tpr(0xF);
        assert_eq!(v.into_bits(), 0x0F);
        assert_eq!(VIntrControl::new().with_v_irq(true).into_bits(), 1 << 8);
        assert_eq!(VIntrControl::new().with_v_gif(true).into_bits(), 1 << 9);
        assert_eq!(
            VIntrControl::new().with_v_nmi_pending(true).into_bits(),
            1 << 11
        );
        assert_eq!(
            VIntrControl::new().with_v_nmi_blocking(true).into_bits(),
            1 << 12
        );
        assert_eq!(
            VIntrControl::new().with_v_intr_prio(0xF).into_bits(),
            0x0F << 16
        );
        assert_eq!(
            VIntrControl::new().with_v_ign_tpr(true).into_bits(),
            1 << 20
        );
        assert_eq!(
            VIntrControl::new().with_v_intr_masking(true).into_bits(),
            1 << 24
        );
        assert_eq!(
            VIntrControl::new().with_v_gif_enable(true).into_bits(),
            1 << 25
        );
        assert_eq!(
            VIntrControl::new().with_v_nmi_enable(true).into_bits(),
            1 << 26
        );
        assert_eq!(
            VIntrControl::new().with_avic_enable(true).into_bits(),
            1 << 31
        );
    }

    #[test]
    fn pending_virtual_interrupt() {
        // What a hypervisor writes to request vector 0x30 at priority 3,
        // ignoring the TPR: the vector lands in the second dword (Linux's
        // int_vector at 064h).
        let v = VIntrControl::new()
            .with_v_irq(true)
            .with_v_intr_prio(3)
            .with_v_ign_tpr(true)
            .with_v_intr_masking(true)
            .with_v_intr_vector(0x30);
        let raw = v.into_bits();
        assert_eq!(raw as u32, (1 << 8) | (3 << 16) | (1 << 20) | (1 << 24));
        assert_eq!((raw >> 32) as u32, 0x30);
    }

    #[test]
    fn interrupt_state_bits() {
        assert_eq!(
            InterruptState::new()
                .with_interrupt_shadow(true)
                .into_bits(),
            1
        );
        assert_eq!(
            InterruptState::new()
                .with_guest_interrupt_mask(true)
                .into_bits(),
            2
        );
        assert!(InterruptState::from_bits(3).interrupt_shadow());
    }
}
