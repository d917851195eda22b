//! Strided NHWC views of u8 (quantized) tensors: the same [`NhwcLayout`] geometry as the f32
//! views ([`crate::view`]), counted in bytes, with the same soundness rules (a view only
//! touches its own channel range; [`U8ViewMut::split_channels`] is the only way to get two
//! mutable views of one buffer), so an INT8 conv can read one half of a Ghost module buffer
//! and write the other.

use std::marker::PhantomData;

use crate::error::{KernelError, Result};
use crate::view::NhwcLayout;

fn check_buffer(operand: &'static str, layout: &NhwcLayout, len: usize) -> Result<()> {
    layout.validate(operand)?;
    let needed = layout.required_len();
    if len < needed {
        return Err(KernelError::BufferTooSmall {
            operand,
            needed,
            len,
        });
    }
    Ok(())
}

/// A read-only strided NHWC view of u8 data.
#[derive(Clone, Copy)]
pub struct U8View<'a> {
    ptr: *const u8,
    len: usize,
    layout: NhwcLayout,
    _borrow: PhantomData<&'a [u8]>,
}

// SAFETY: a U8View is a shared borrow of u8 data, like `&[u8]`, which is Send and Sync.
unsafe impl Send for U8View<'_> {}
// SAFETY: as above; it never writes.
unsafe impl Sync for U8View<'_> {}

impl<'a> U8View<'a> {
    /// Views `data` with `layout` (strides in bytes); fails if the layout is invalid or the
    /// slice too short.
    pub fn new(data: &'a [u8], layout: NhwcLayout) -> Result<Self> {
        check_buffer("u8 view", &layout, data.len())?;
        Ok(U8View {
            ptr: data.as_ptr(),
            len: data.len(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// Views a contiguous `n x h x w x c` slice.
    pub fn dense(data: &'a [u8], n: usize, h: usize, w: usize, c: usize) -> Result<Self> {
        Self::new(data, NhwcLayout::dense(n, h, w, c))
    }

    /// The layout.
    pub fn layout(&self) -> &NhwcLayout {
        &self.layout
    }

    /// `(n, h, w, c)`.
    pub fn shape(&self) -> [usize; 4] {
        self.layout.shape()
    }

    /// A view of channels `[offset, offset + c)`.
    pub fn channels(&self, offset: usize, c: usize) -> Result<U8View<'a>> {
        Ok(U8View {
            layout: self.layout.channels(offset, c)?,
            ..*self
        })
    }

    /// The `c` channels of pixel `p` (pixels counted in `n, h, w` order).
    pub fn pixel(&self, p: usize) -> &'a [u8] {
        assert!(p < self.layout.pixels(), "pixel {p} out of range");
        let start = self.layout.pixel_offset(p);
        // SAFETY: start + c <= required_len <= len, checked at construction.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), self.layout.c) }
    }

    /// Element `(b, y, x, ch)`.
    pub fn get(&self, b: usize, y: usize, x: usize, ch: usize) -> u8 {
        let l = &self.layout;
        assert!(
            b < l.n && y < l.h && x < l.w && ch < l.c,
            "index out of range"
        );
        // SAFETY: in-range indices address an element below required_len <= len.
        unsafe { *self.ptr.add(l.index(b, y, x, ch)) }
    }

    /// Copies the logical contents into a dense `n*h*w*c` vector.
    pub fn to_dense(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.layout.elements());
        for p in 0..self.layout.pixels() {
            out.extend_from_slice(self.pixel(p));
        }
        out
    }

    /// Raw base pointer (element `(0,0,0,0)` is at `as_ptr() + channel_offset`).
    pub fn as_ptr(&self) -> *const u8 {
        self.ptr
    }

    /// Length of the underlying buffer from `as_ptr()`.
    pub fn buffer_len(&self) -> usize {
        self.len
    }
}

/// A mutable strided NHWC view of u8 data.
pub struct U8ViewMut<'a> {
    ptr: *mut u8,
    len: usize,
    layout: NhwcLayout,
    _borrow: PhantomData<&'a mut [u8]>,
}

// SAFETY: an exclusive borrow of the bytes in its channel range, like `&mut [u8]` (Send);
// `&U8ViewMut` only allows reads (Sync).
unsafe impl Send for U8ViewMut<'_> {}
// SAFETY: see above.
unsafe impl Sync for U8ViewMut<'_> {}

impl<'a> U8ViewMut<'a> {
    /// Views `data` with `layout`; fails if the layout is invalid or the slice too short.
    pub fn new(data: &'a mut [u8], layout: NhwcLayout) -> Result<Self> {
        check_buffer("u8 output view", &layout, data.len())?;
        Ok(U8ViewMut {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// Views a contiguous `n x h x w x c` slice.
    pub fn dense(data: &'a mut [u8], n: usize, h: usize, w: usize, c: usize) -> Result<Self> {
        Self::new(data, NhwcLayout::dense(n, h, w, c))
    }

    /// The layout.
    pub fn layout(&self) -> &NhwcLayout {
        &self.layout
    }

    /// `(n, h, w, c)`.
    pub fn shape(&self) -> [usize; 4] {
        self.layout.shape()
    }

    /// A shared view of the same elements.
    pub fn as_view(&self) -> U8View<'_> {
        U8View {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// Reborrows as a shorter-lived mutable view.
    pub fn reborrow(&mut self) -> U8ViewMut<'_> {
        U8ViewMut {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// A mutable view of channels `[offset, offset + c)`, borrowed from this one.
    pub fn channels_mut(&mut self, offset: usize, c: usize) -> Result<U8ViewMut<'_>> {
        Ok(U8ViewMut {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout.channels(offset, c)?,
            _borrow: PhantomData,
        })
    }

    /// Splits into channels `[0, at)` and `[at, c)`: two mutable views of one buffer whose
    /// element sets are disjoint (a Ghost module's primary and cheap halves).
    pub fn split_channels(self, at: usize) -> Result<(U8ViewMut<'a>, U8ViewMut<'a>)> {
        let left = self.layout.channels(0, at)?;
        let right = self.layout.channels(at, self.layout.c - at)?;
        Ok((
            U8ViewMut {
                ptr: self.ptr,
                len: self.len,
                layout: left,
                _borrow: PhantomData,
            },
            U8ViewMut {
                layout: right,
                ..self
            },
        ))
    }

    /// The `c` channels of pixel `p`, mutable.
    pub fn pixel_mut(&mut self, p: usize) -> &mut [u8] {
        assert!(p < self.layout.pixels(), "pixel {p} out of range");
        let start = self.layout.pixel_offset(p);
        // SAFETY: start + c <= required_len <= len; these bytes belong to this view's channel
        // range, which no other live view can touch.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), self.layout.c) }
    }

    /// Sets element `(b, y, x, ch)`.
    pub fn set(&mut self, b: usize, y: usize, x: usize, ch: usize, value: u8) {
        let l = &self.layout;
        assert!(
            b < l.n && y < l.h && x < l.w && ch < l.c,
            "index out of range"
        );
        // SAFETY: in-range indices address an element of this view below len.
        unsafe { *self.ptr.add(l.index(b, y, x, ch)) = value }
    }

    /// Copies a dense `n*h*w*c` slice into the view.
    pub fn copy_from_dense(&mut self, src: &[u8]) -> Result<()> {
        let c = self.layout.c;
        if src.len() != self.layout.elements() {
            return Err(KernelError::shape(
                "dense source",
                self.layout.elements(),
                src.len(),
            ));
        }
        for (p, chunk) in src
            .chunks_exact(c.max(1))
            .enumerate()
            .take(self.layout.pixels())
        {
            self.pixel_mut(p).copy_from_slice(chunk);
        }
        Ok(())
    }

    /// Raw base pointer (element `(0,0,0,0)` is at `as_mut_ptr() + channel_offset`).
    pub fn as_mut_ptr(&mut self) -> *mut u8 {
        self.ptr
    }

    /// Length of the underlying buffer from `as_mut_ptr()`.
    pub fn buffer_len(&self) -> usize {
        self.len
    }
}

impl std::fmt::Debug for U8View<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("U8View")
            .field("layout", &self.layout)
            .finish()
    }
}

impl std::fmt::Debug for U8ViewMut<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("U8ViewMut")
            .field("layout", &self.layout)
            .finish()
    }
}
