//! Where init keeps the capabilities it makes while building: one slot per
//! component's domain and thread, one per endpoint, above the kernel-given
//! slots 0-3. Its capability space has 64 slots, which bounds what one
//! init can build at once; a plan that needs more is refused up front.
use alloc::format;
use alloc::string::String;
use tessera_rt::{CSPACE_SLOTS, slot};

pub struct Slots {
    components: u32,
    endpoints: u32,
}

impl Slots {
    pub fn new(components: usize, endpoints: usize) -> Result<Self, String> {
        let needed = 2 * components + endpoints;
        let room = (CSPACE_SLOTS - slot::FIRST_GRANTED) as usize;
        if needed > room {
            return Err(format!(
                "the plan needs {needed} capability slots to build ({components} components, {endpoints} endpoints); init has {room}"
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

    /// Every slot init fills while building.
    pub fn all(&self) -> impl Iterator<Item = u32> {
        slot::FIRST_GRANTED..slot::FIRST_GRANTED + 2 * self.components + self.endpoints
    }
}
