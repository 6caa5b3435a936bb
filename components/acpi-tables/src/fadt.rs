//! The fixed ACPI description table (ACPI 6.5 §5.2.9, Table 5.9), for a
//! hardware-reduced ACPI platform (§4.1): no PM1/PM2/GPE blocks, no PM
//! timer, no SMI command port, no FACS; power-off through the sleep
//! control and status registers ([`crate::power`]), reset through the
//! reset register.
//!
//! What Linux asks of such a FADT (drivers/acpi/acpica and
//! arch/x86/kernel/acpi/boot.c in 6.1): the `HW_REDUCED_ACPI` flag makes
//! it skip the legacy register blocks and the SCI handler, use
//! `acpi_hw_extended_sleep` (which needs both sleep registers, or no S5
//! and so no ACPI power-off) and set up no 8259 or PIT
//! (`acpi_generic_reduced_hw_init`); `X_DSDT` is where it finds the DSDT
//! (`DSDT` stays 0, §5.2.9: "if X_DSDT is non-zero, DSDT must be
//! ignored", so the two never disagree); IAPC_BOOT_ARCH's "no VGA" keeps
//! it from probing one, and without the 8042 bit it probes no keyboard
//! controller. A partition with the `platform` component's CMOS clock
//! has `CENTURY` at its century register; one without says "no CMOS RTC"
//! (Linux 6.1 still reads the clock at boot then, and waits a second for
//! an update that never ends: the clock is worth having).

use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::{Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::header::{GenericAddress, SdtHeader};
use crate::power;

/// The FADT's major version (header revision) and minor version: ACPI 6.5.
pub const REVISION: u8 = 6;
pub const MINOR_REVISION: u8 = 5;

/// Fixed feature flags (§5.2.9, Table 5.10).
pub mod flags {
    /// `WBINVD` works as the architecture says (required of new systems).
    pub const WBINVD: u32 = 1 << 0;
    /// The power button, if any, is a control-method device.
    pub const PWR_BUTTON: u32 = 1 << 4;
    /// The sleep button, if any, is a control-method device.
    pub const SLP_BUTTON: u32 = 1 << 5;
    /// `RESET_REG` is supported.
    pub const RESET_REG_SUP: u32 = 1 << 10;
    /// Hardware-reduced ACPI (§4.1).
    pub const HW_REDUCED_ACPI: u32 = 1 << 20;
}

/// IA-PC boot architecture flags (§5.2.9.3, Table 5.11).
pub mod boot_arch {
    /// No VGA hardware: the OS must not probe for it.
    pub const VGA_NOT_PRESENT: u16 = 1 << 2;
    /// No CMOS real-time clock.
    pub const CMOS_RTC_NOT_PRESENT: u16 = 1 << 5;
}

/// The reset register (the PC chipset's reset control port) and the value
/// that resets: the partition manager resets the partition on it.
pub const RESET_PORT: u16 = 0xCF9;
pub const RESET_VALUE: u8 = 0x06;

/// The ISA IRQ of the SCI. A hardware-reduced platform signals no SCI
/// (Linux installs no handler), but the MADT still overrides it as PC
/// firmware does ([`crate::madt`]).
pub const SCI_IRQ: u8 = 9;

/// The FADT, 276 bytes (ACPI 6.0 and later).
#[derive(Clone, Copy, Debug, IntoBytes, Immutable, KnownLayout, Unaligned)]
#[repr(C)]
pub struct Fadt {
    pub header: SdtHeader,
    pub firmware_ctrl: U32,
    pub dsdt: U32,
    pub reserved0: u8,
    pub preferred_pm_profile: u8,
    pub sci_int: U16,
    pub smi_cmd: U32,
    pub acpi_enable: u8,
    pub acpi_disable: u8,
    pub s4bios_req: u8,
    pub pstate_cnt: u8,
    pub pm1a_evt_blk: U32,
    pub pm1b_evt_blk: U32,
    pub pm1a_cnt_blk: U32,
    pub pm1b_cnt_blk: U32,
    pub pm2_cnt_blk: U32,
    pub pm_tmr_blk: U32,
    pub gpe0_blk: U32,
    pub gpe1_blk: U32,
    pub pm1_evt_len: u8,
    pub pm1_cnt_len: u8,
    pub pm2_cnt_len: u8,
    pub pm_tmr_len: u8,
    pub gpe0_blk_len: u8,
    pub gpe1_blk_len: u8,
    pub gpe1_base: u8,
    pub cst_cnt: u8,
    pub p_lvl2_lat: U16,
    pub p_lvl3_lat: U16,
    pub flush_size: U16,
    pub flush_stride: U16,
    pub duty_offset: u8,
    pub duty_width: u8,
    pub day_alrm: u8,
    pub mon_alrm: u8,
    pub century: u8,
    pub iapc_boot_arch: U16,
    pub reserved1: u8,
    pub flags: U32,
    pub reset_reg: GenericAddress,
    pub reset_value: u8,
    pub arm_boot_arch: U16,
    pub minor_version: u8,
    pub x_firmware_ctrl: U64,
    pub x_dsdt: U64,
    pub x_pm1a_evt_blk: GenericAddress,
    pub x_pm1b_evt_blk: GenericAddress,
    pub x_pm1a_cnt_blk: GenericAddress,
    pub x_pm1b_cnt_blk: GenericAddress,
    pub x_pm2_cnt_blk: GenericAddress,
    pub x_pm_tmr_blk: GenericAddress,
    pub x_gpe0_blk: GenericAddress,
    pub x_gpe1_blk: GenericAddress,
    pub sleep_control_reg: GenericAddress,
    pub sleep_status_reg: GenericAddress,
    pub hypervisor_vendor_identity: [u8; 8],
}

const _: () = assert!(size_of::<Fadt>() == 276);

/// The CMOS clock's century register (the PC convention).
pub const CENTURY_REGISTER: u8 = 0x32;

/// The hypervisor vendor identity (§5.2.9: the vendor's name, no version).
pub const HYPERVISOR_VENDOR: [u8; 8] = *b"Tessera\0";

impl Fadt {
    /// The FADT of a hardware-reduced platform whose DSDT is at `dsdt`,
    /// with the CMOS clock when `rtc` holds. Its length and checksum are
    /// set when it is sealed ([`crate::header::seal`]).
    #[must_use]
    pub fn new(dsdt: u64, rtc: bool) -> Self {
        let boot_arch = if rtc {
            boot_arch::VGA_NOT_PRESENT
        } else {
            boot_arch::VGA_NOT_PRESENT | boot_arch::CMOS_RTC_NOT_PRESENT
        };
        let none = GenericAddress::default();
        Self {
            header: SdtHeader::new(*b"FACP", REVISION),
            firmware_ctrl: U32::new(0),
            dsdt: U32::new(0),
            reserved0: 0,
            preferred_pm_profile: 0,
            sci_int: U16::new(u16::from(SCI_IRQ)),
            smi_cmd: U32::new(0),
            acpi_enable: 0,
            acpi_disable: 0,
            s4bios_req: 0,
            pstate_cnt: 0,
            pm1a_evt_blk: U32::new(0),
            pm1b_evt_blk: U32::new(0),
            pm1a_cnt_blk: U32::new(0),
            pm1b_cnt_blk: U32::new(0),
            pm2_cnt_blk: U32::new(0),
            pm_tmr_blk: U32::new(0),
            gpe0_blk: U32::new(0),
            gpe1_blk: U32::new(0),
            pm1_evt_len: 0,
            pm1_cnt_len: 0,
            pm2_cnt_len: 0,
            pm_tmr_len: 0,
            gpe0_blk_len: 0,
            gpe1_blk_len: 0,
            gpe1_base: 0,
            cst_cnt: 0,
            p_lvl2_lat: U16::new(0),
            p_lvl3_lat: U16::new(0),
            flush_size: U16::new(0),
            flush_stride: U16::new(0),
            duty_offset: 0,
            duty_width: 0,
            day_alrm: 0,
            mon_alrm: 0,
            century: if rtc { CENTURY_REGISTER } else { 0 },
            iapc_boot_arch: U16::new(boot_arch),
            reserved1: 0,
            flags: U32::new(
                flags::WBINVD
                    | flags::PWR_BUTTON
                    | flags::SLP_BUTTON
                    | flags::RESET_REG_SUP
                    | flags::HW_REDUCED_ACPI,
            ),
            reset_reg: GenericAddress::io_byte(RESET_PORT),
            reset_value: RESET_VALUE,
            arm_boot_arch: U16::new(0),
            minor_version: MINOR_REVISION,
            x_firmware_ctrl: U64::new(0),
            x_dsdt: U64::new(dsdt),
            x_pm1a_evt_blk: none,
            x_pm1b_evt_blk: none,
            x_pm1a_cnt_blk: none,
            x_pm1b_cnt_blk: none,
            x_pm2_cnt_blk: none,
            x_pm_tmr_blk: none,
            x_gpe0_blk: none,
            x_gpe1_blk: none,
            sleep_control_reg: GenericAddress::io_byte(power::SLEEP_CONTROL_PORT),
            sleep_status_reg: GenericAddress::io_byte(power::SLEEP_STATUS_PORT),
            hypervisor_vendor_identity: HYPERVISOR_VENDOR,
        }
    }
}
