//! A value that lives alone in one physical frame: what hardware that takes
//! a physical address needs (the VMCB is one 4 KiB-aligned page), with the
//! frame's charge to a quota kept by whoever took it (`Charged`).
use super::physical_to_virtual;
use core::marker::PhantomData;
use core::ops::{Deref, DerefMut};
use x86_64::PhysAddr;

/// `T` in a frame of its own, reached through the physical map.
#[derive(Debug)]
pub struct FrameBox<T> {
    frame: PhysAddr,
    /// Where the physical map shows the frame (worked out once: the VMCB
    /// is read and written many times per exit).
    address: u64,
    value: PhantomData<T>,
}

impl<T> FrameBox<T> {
    /// `T` must fit one frame, at no stricter alignment.
    const FITS: () = assert!(size_of::<T>() <= 4096 && align_of::<T>() <= 4096);

    /// Moves `value` into `frame`, a fresh frame the caller took for it
    /// (nothing else may use the frame until `into_frame`).
    pub fn new(frame: PhysAddr, value: T) -> Self {
        let () = Self::FITS;
        let target = physical_to_virtual(frame.as_u64()).as_mut_ptr::<T>();
        // SAFETY: the frame is 4 KiB, page aligned (so aligned for `T`, which
        // fits it: FITS), mapped by the physical map, and the caller's alone.
        unsafe { target.write(value) };
        Self {
            frame,
            address: target as u64,
            value: PhantomData,
        }
    }

    /// The frame's physical address.
    pub fn frame(&self) -> PhysAddr {
        self.frame
    }

    /// Drops the value and hands the frame back, for the caller to free
    /// (and refund).
    pub fn into_frame(self) -> PhysAddr {
        let frame = self.frame;
        // SAFETY: the value was written by `new` and is dropped once: `self`
        // is forgotten below, so its `Drop` does not run.
        unsafe { core::ptr::drop_in_place(self.pointer()) };
        core::mem::forget(self);
        frame
    }

    fn pointer(&self) -> *mut T {
        self.address as *mut T
    }
}

impl<T> Deref for FrameBox<T> {
    type Target = T;

    fn deref(&self) -> &T {
        // SAFETY: `new` wrote a `T` there, which this box owns until
        // `into_frame`; `&self` makes the access shared.
        unsafe { &*self.pointer() }
    }
}

impl<T> DerefMut for FrameBox<T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes the access exclusive.
        unsafe { &mut *self.pointer() }
    }
}

impl<T> Drop for FrameBox<T> {
    /// A box dropped without `into_frame` is a kernel bug (its frame's
    /// charge would never be refunded): the value is dropped and the frame
    /// stays out of the pool, so nothing can reuse it while it is counted.
    fn drop(&mut self) {
        log::error!(
            "kernel bug: a frame box at {:#x} was dropped, not given back",
            self.frame.as_u64()
        );
        // SAFETY: as in `into_frame`; this runs once.
        unsafe { core::ptr::drop_in_place(self.pointer()) };
    }
}
