//! VMBus from the host's side, as pure state machines with no hardware
//! access, for the ring-3 `vmbus` component and the device components
//! behind it (the README is the design note: the component split, what the
//! kernel provides, restart, the ACPI device, the test guest to come).
//!
//! VMBus is not in the TLFS. The facts here come from the guest's side in
//! Linux 6.1 (`drivers/hv/connection.c`, `channel_mgmt.c`, `channel.c`,
//! `ring_buffer.c`, `hv_util.c`, `vmbus_drv.c`, `include/linux/hyperv.h`;
//! Debian's `linux-source-6.1`, the kernel Tessera boots) and from
//! OpenVMM's host (`vm/devices/vmbus/`, `vm/devices/hyperv_ic*`). Where the
//! sources leave a choice, the item says **Choice:**.
//!
//! | module | what |
//! | --- | --- |
//! | [`version`] | protocol versions, what each changes, the message connections and SINT |
//! | [`protocol`] | the channel messages as typed layouts, reading the guest's, building the host's |
//! | [`server`] | one partition's channel management: contact, offers, GPADLs, open, close, rescind, unload |
//! | [`gpadl`] | GPADL range data: assembly from header and bodies, checks |
//! | [`ring`] | a channel's ring buffers: packets, the host's reading and writing ends, signalling |
//! | [`ic`] | the integration services: the IC framework, heartbeat, shutdown, time sync |
//! | [`synic`] | what VMBus needs from the SynIC, in its terms |
//! | [`acpi`] | the DSDT device Linux looks for |

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod acpi;
pub mod gpadl;
pub mod ic;
pub mod protocol;
pub mod ring;
pub mod server;
pub mod synic;
pub mod version;

pub use server::{Config, Device, DeviceId, DeviceRequest, Outgoing, VmbusServer};
pub use version::Version;
