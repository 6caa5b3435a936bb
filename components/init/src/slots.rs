//! Where init keeps the capabilities it makes while building: one slot per
//! component's domain and thread, one per endpoint, above the kernel-given
//! slots 0-3, and, if any component manages partitions, one scratch slot for
//! the manager data region it is filling (it fills one manager's at a time
//! and deletes its own copy when the manager holds one). Its capability
//! space has 64 slots, which bounds what one init can build at once; a plan
//! that needs more is refused up front.
use alloc::format;
use alloc::string::String;
use tessera_rt::{CSPACE_SLOTS, slot};

pub struct Slots {
    components: u32,
    endpoints: u32,
}

impl Slots {
    pub fn new(components: usize, endpoints: usize, scratch: bool) -> Result<Self, String> {
        // The formula the manifest checks too (`init_slots_needed`).
        let needed =
            tessera_boot_plan::init_slots_needed(components, endpoints, usize::from(scratch));
        let room = (CSPACE_SLOTS - slot::FIRST_GRANTED) as usize;
        if needed > room {
            let manager = if scratch { ", 1 for manager data" } else { "" };
            return Err(format!(
                "the plan needs {needed} capability slots to build ({components} components, \
                 {endpoints} endpoints{manager}); init has {room}"
            ));
        }
        Ok(Slots {
            components: components as u32,
            endpoints: endpoints as u32,
        })
    }

    pub fn domain(&self, component: u16) -> u32 {
        slot::FIRST_GRANTED + u32::from(component)
    }

    pub fn thread(&self, component: u16) -> u32 {
        slot::FIRST_GRANTED + self.components + u32::from(component)
    }

    pub fn endpoint(&self, index: usize) -> u32 {
        slot::FIRST_GRANTED + 2 * self.components + index as u32
    }

    /// The slot of the manager data region being filled (free unless the
    /// plan has partitions: `new` counted it then).
    pub fn scratch(&self) -> u32 {
        slot::FIRST_GRANTED + 2 * self.components + self.endpoints
    }

    /// Every slot init fills while building and holds until the end (the
    /// scratch slot is emptied as it goes, and is not among them).
    pub fn all(&self) -> impl Iterator<Item = u32> {
        slot::FIRST_GRANTED..slot::FIRST_GRANTED + 2 * self.components + self.endpoints
    }
}
