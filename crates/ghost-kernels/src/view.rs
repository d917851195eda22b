//! Strided NHWC views: the one data type every kernel reads and writes.
//!
//! A tensor of `n x h x w x c` floats lives in a buffer of `n * h * w` *pixels*, each pixel
//! `pixel_stride` floats apart, with the tensor's channels at `[channel_offset, channel_offset + c)`
//! inside each pixel. Two views over the same buffer with disjoint channel ranges let a Ghost
//! module write its primary and cheap halves side by side, and let every YOLO `Concat` be free:
//! producers write straight into their channel slice of the concatenated buffer.
//!
//! Views hold a raw pointer instead of a slice because two mutable views with interleaved but
//! disjoint channel ranges cannot be expressed as two `&mut [f32]`. Soundness rests on two rules:
//! a view only ever touches elements inside its own channel range, and the only way to get two
//! mutable views of one buffer is [`StridedViewMut::split_channels`], which makes the ranges disjoint.
//! The views are generic over the element ([`ViewElement`]: f32, and u8 for the quantized tensors).

use std::marker::PhantomData;

use crate::error::{KernelError, Result};

/// Geometry of a strided NHWC tensor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NhwcLayout {
    /// Batch size.
    pub n: usize,
    /// Height in pixels.
    pub h: usize,
    /// Width in pixels.
    pub w: usize,
    /// Channels of this tensor.
    pub c: usize,
    /// Floats between consecutive pixels (>= `channel_offset + c`).
    pub pixel_stride: usize,
    /// Index of channel 0 inside a pixel.
    pub channel_offset: usize,
}

impl NhwcLayout {
    /// A contiguous `n x h x w x c` tensor.
    pub fn dense(n: usize, h: usize, w: usize, c: usize) -> Self {
        NhwcLayout {
            n,
            h,
            w,
            c,
            pixel_stride: c,
            channel_offset: 0,
        }
    }

    /// Number of pixels, `n * h * w`.
    pub fn pixels(&self) -> usize {
        self.n * self.h * self.w
    }

    /// Number of logical elements, `n * h * w * c`.
    pub fn elements(&self) -> usize {
        self.pixels() * self.c
    }

    /// `(n, h, w, c)`.
    pub fn shape(&self) -> [usize; 4] {
        [self.n, self.h, self.w, self.c]
    }

    /// Offset of element `(b, y, x, ch)` in the buffer.
    #[inline(always)]
    pub fn index(&self, b: usize, y: usize, x: usize, ch: usize) -> usize {
        ((b * self.h + y) * self.w + x) * self.pixel_stride + self.channel_offset + ch
    }

    /// Offset of channel 0 of pixel number `p` (pixels counted in `n, h, w` order).
    #[inline(always)]
    pub fn pixel_offset(&self, p: usize) -> usize {
        p * self.pixel_stride + self.channel_offset
    }

    /// Floats a buffer must hold for this layout (0 for an empty tensor).
    pub fn required_len(&self) -> usize {
        let pixels = self.pixels();
        if pixels == 0 || self.c == 0 {
            0
        } else {
            (pixels - 1) * self.pixel_stride + self.channel_offset + self.c
        }
    }

    /// Checks the layout is self-consistent and that no size computation overflows.
    pub fn validate(&self, operand: &'static str) -> Result<()> {
        let invalid = |reason: String| KernelError::InvalidLayout { operand, reason };
        let end = self
            .channel_offset
            .checked_add(self.c)
            .ok_or_else(|| invalid("channel range overflows".into()))?;
        if end > self.pixel_stride {
            return Err(invalid(format!(
                "channels [{}, {end}) exceed the pixel stride {}",
                self.channel_offset, self.pixel_stride
            )));
        }
        let pixels = self
            .n
            .checked_mul(self.h)
            .and_then(|v| v.checked_mul(self.w))
            .ok_or_else(|| invalid("pixel count overflows".into()))?;
        pixels
            .checked_mul(self.pixel_stride.max(1))
            .ok_or_else(|| invalid("buffer size overflows".into()))?;
        Ok(())
    }

    /// The same pixels with the channel range `[offset, offset + c)` of this tensor.
    pub fn channels(&self, offset: usize, c: usize) -> Result<NhwcLayout> {
        if offset.checked_add(c).is_none_or(|end| end > self.c) {
            return Err(KernelError::param(
                "channels",
                format!(
                    "[{offset}, {offset}+{c}) is outside the {} channels of the view",
                    self.c
                ),
            ));
        }
        Ok(NhwcLayout {
            c,
            channel_offset: self.channel_offset + offset,
            ..*self
        })
    }

    /// Batch item `b` alone (same strides).
    fn batch_item(&self, b: usize) -> (usize, NhwcLayout) {
        let offset = b * self.h * self.w * self.pixel_stride;
        (offset, NhwcLayout { n: 1, ..*self })
    }
}

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

/// The element types of the strided views: `f32` ([`TensorView`]) and `u8` (the quantized
/// tensors' [`crate::quant::U8View`]). Sealed: the views' soundness argument is written for
/// plain `Copy` data.
pub trait ViewElement: Copy + sealed::Sealed + 'static {
    /// The operand a read-only view's construction errors name.
    const VIEW: &'static str;
    /// The operand a mutable view's construction errors name.
    const VIEW_MUT: &'static str;
    /// The read-only view's name in `Debug` output.
    const DEBUG: &'static str;
    /// The mutable view's name in `Debug` output.
    const DEBUG_MUT: &'static str;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for u8 {}
}

impl ViewElement for f32 {
    const VIEW: &'static str = "view";
    const VIEW_MUT: &'static str = "output view";
    const DEBUG: &'static str = "TensorView";
    const DEBUG_MUT: &'static str = "TensorViewMut";
}

impl ViewElement for u8 {
    const VIEW: &'static str = "u8 view";
    const VIEW_MUT: &'static str = "u8 output view";
    const DEBUG: &'static str = "U8View";
    const DEBUG_MUT: &'static str = "U8ViewMut";
}

/// A read-only strided NHWC view of f32 data.
pub type TensorView<'a> = StridedView<'a, f32>;
/// A mutable strided NHWC view of f32 data.
pub type TensorViewMut<'a> = StridedViewMut<'a, f32>;

/// A read-only strided NHWC view of `T` (strides counted in elements).
pub struct StridedView<'a, T: ViewElement> {
    ptr: *const T,
    len: usize,
    layout: NhwcLayout,
    _borrow: PhantomData<&'a [T]>,
}

impl<T: ViewElement> Clone for StridedView<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: ViewElement> Copy for StridedView<'_, T> {}

// SAFETY: a StridedView is a shared borrow of plain data, like `&[T]` (f32 or u8), which is Send
// and Sync.
unsafe impl<T: ViewElement> Send for StridedView<'_, T> {}
// SAFETY: as above; it never writes.
unsafe impl<T: ViewElement> Sync for StridedView<'_, T> {}

impl<'a, T: ViewElement> StridedView<'a, T> {
    /// Views `data` with `layout`; fails if the layout is invalid or the slice too short.
    pub fn new(data: &'a [T], layout: NhwcLayout) -> Result<Self> {
        check_buffer(T::VIEW, &layout, data.len())?;
        Ok(StridedView {
            ptr: data.as_ptr(),
            len: data.len(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// Views a contiguous `n x h x w x c` slice.
    pub fn dense(data: &'a [T], n: usize, h: usize, w: usize, c: usize) -> Result<Self> {
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
    pub fn channels(&self, offset: usize, c: usize) -> Result<StridedView<'a, T>> {
        Ok(StridedView {
            layout: self.layout.channels(offset, c)?,
            ..*self
        })
    }

    /// A view of batch item `b`.
    pub fn batch_item(&self, b: usize) -> Result<StridedView<'a, T>> {
        if b >= self.layout.n {
            return Err(KernelError::param(
                "batch",
                format!("{b} >= n = {}", self.layout.n),
            ));
        }
        let (offset, layout) = self.layout.batch_item(b);
        // SAFETY: offset < len because batch item b has at least one element inside the
        // buffer checked at construction (or the tensor is empty and offset is 0).
        let ptr = unsafe { self.ptr.add(offset.min(self.len)) };
        Ok(StridedView {
            ptr,
            len: self.len - offset.min(self.len),
            layout,
            _borrow: PhantomData,
        })
    }

    /// The `c` channels of pixel `p` (pixels counted in `n, h, w` order).
    pub fn pixel(&self, p: usize) -> &'a [T] {
        assert!(p < self.layout.pixels(), "pixel {p} out of range");
        let start = self.layout.pixel_offset(p);
        // SAFETY: start + c <= required_len <= len, checked at construction.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), self.layout.c) }
    }

    /// Element `(b, y, x, ch)`.
    pub fn get(&self, b: usize, y: usize, x: usize, ch: usize) -> T {
        let l = &self.layout;
        assert!(
            b < l.n && y < l.h && x < l.w && ch < l.c,
            "index out of range"
        );
        // SAFETY: in-range indices address an element below required_len <= len.
        unsafe { *self.ptr.add(l.index(b, y, x, ch)) }
    }

    /// Copies the logical contents into a dense `n*h*w*c` vector.
    pub fn to_dense(&self) -> Vec<T> {
        let mut out = Vec::with_capacity(self.layout.elements());
        for p in 0..self.layout.pixels() {
            out.extend_from_slice(self.pixel(p));
        }
        out
    }

    /// Raw base pointer (element `(0,0,0,0)` is at `as_ptr() + channel_offset`).
    pub fn as_ptr(&self) -> *const T {
        self.ptr
    }

    /// Length of the underlying buffer from `as_ptr()`.
    pub fn buffer_len(&self) -> usize {
        self.len
    }
}

/// A mutable strided NHWC view of `T` (strides counted in elements).
pub struct StridedViewMut<'a, T: ViewElement> {
    ptr: *mut T,
    len: usize,
    layout: NhwcLayout,
    _borrow: PhantomData<&'a mut [T]>,
}

// SAFETY: a StridedViewMut is an exclusive borrow of the elements in its channel range, like
// `&mut [T]` (f32 or u8), which is Send. It is also Sync: `&StridedViewMut` only allows reads.
unsafe impl<T: ViewElement> Send for StridedViewMut<'_, T> {}
// SAFETY: see above.
unsafe impl<T: ViewElement> Sync for StridedViewMut<'_, T> {}

impl<'a, T: ViewElement> StridedViewMut<'a, T> {
    /// Views `data` with `layout`; fails if the layout is invalid or the slice too short.
    pub fn new(data: &'a mut [T], layout: NhwcLayout) -> Result<Self> {
        check_buffer(T::VIEW_MUT, &layout, data.len())?;
        Ok(StridedViewMut {
            ptr: data.as_mut_ptr(),
            len: data.len(),
            layout,
            _borrow: PhantomData,
        })
    }

    /// Views a contiguous `n x h x w x c` slice.
    pub fn dense(data: &'a mut [T], n: usize, h: usize, w: usize, c: usize) -> Result<Self> {
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
    pub fn as_view(&self) -> StridedView<'_, T> {
        StridedView {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// Reborrows as a shorter-lived mutable view.
    pub fn reborrow(&mut self) -> StridedViewMut<'_, T> {
        StridedViewMut {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// A mutable view of channels `[offset, offset + c)`, borrowed from this one.
    pub fn channels_mut(&mut self, offset: usize, c: usize) -> Result<StridedViewMut<'_, T>> {
        Ok(StridedViewMut {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout.channels(offset, c)?,
            _borrow: PhantomData,
        })
    }

    /// Splits into channels `[0, at)` and `[at, c)`: two mutable views of one buffer whose
    /// element sets are disjoint. This is how a Ghost module's cheap operation reads the primary
    /// half while writing the other.
    pub fn split_channels(
        self,
        at: usize,
    ) -> Result<(StridedViewMut<'a, T>, StridedViewMut<'a, T>)> {
        let left = self.layout.channels(0, at)?;
        let right = self.layout.channels(at, self.layout.c - at)?;
        Ok((
            StridedViewMut {
                layout: left,
                ..self.duplicate()
            },
            StridedViewMut {
                layout: right,
                ..self
            },
        ))
    }

    fn duplicate(&self) -> StridedViewMut<'a, T> {
        StridedViewMut {
            ptr: self.ptr,
            len: self.len,
            layout: self.layout,
            _borrow: PhantomData,
        }
    }

    /// A mutable view of batch item `b`.
    pub fn batch_item_mut(&mut self, b: usize) -> Result<StridedViewMut<'_, T>> {
        if b >= self.layout.n {
            return Err(KernelError::param(
                "batch",
                format!("{b} >= n = {}", self.layout.n),
            ));
        }
        let (offset, layout) = self.layout.batch_item(b);
        let offset = offset.min(self.len);
        // SAFETY: offset <= len, so the pointer stays inside (or one past) the buffer.
        let ptr = unsafe { self.ptr.add(offset) };
        Ok(StridedViewMut {
            ptr,
            len: self.len - offset,
            layout,
            _borrow: PhantomData,
        })
    }

    /// The `c` channels of pixel `p`, mutable.
    pub fn pixel_mut(&mut self, p: usize) -> &mut [T] {
        assert!(p < self.layout.pixels(), "pixel {p} out of range");
        let start = self.layout.pixel_offset(p);
        // SAFETY: start + c <= required_len <= len; these elements belong to this view's channel
        // range, which no other live view can touch.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.add(start), self.layout.c) }
    }

    /// The `c` channels of pixel `p`.
    pub fn pixel(&self, p: usize) -> &[T] {
        assert!(p < self.layout.pixels(), "pixel {p} out of range");
        let start = self.layout.pixel_offset(p);
        // SAFETY: as in `pixel_mut`, read-only.
        unsafe { std::slice::from_raw_parts(self.ptr.add(start), self.layout.c) }
    }

    /// Sets element `(b, y, x, ch)`.
    pub fn set(&mut self, b: usize, y: usize, x: usize, ch: usize, value: T) {
        let l = &self.layout;
        assert!(
            b < l.n && y < l.h && x < l.w && ch < l.c,
            "index out of range"
        );
        // SAFETY: in-range indices address an element of this view below len.
        unsafe { *self.ptr.add(l.index(b, y, x, ch)) = value }
    }

    /// Fills every element of the view with `value`.
    pub fn fill(&mut self, value: T) {
        for p in 0..self.layout.pixels() {
            self.pixel_mut(p).fill(value);
        }
    }

    /// Copies a dense `n*h*w*c` slice into the view.
    pub fn copy_from_dense(&mut self, src: &[T]) -> Result<()> {
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
    pub fn as_mut_ptr(&mut self) -> *mut T {
        self.ptr
    }

    /// Length of the underlying buffer from `as_mut_ptr()`.
    pub fn buffer_len(&self) -> usize {
        self.len
    }
}

impl<T: ViewElement> std::fmt::Debug for StridedView<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(T::DEBUG)
            .field("layout", &self.layout)
            .finish()
    }
}

impl<T: ViewElement> std::fmt::Debug for StridedViewMut<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(T::DEBUG_MUT)
            .field("layout", &self.layout)
            .finish()
    }
}

/// A raw output pointer that may cross to worker threads. Kernels use it to let each thread write
/// its own disjoint rows of one output view.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SendPtr(pub *mut f32);
// SAFETY: only used by kernels whose threads write disjoint element sets of one view.
unsafe impl Send for SendPtr {}
// SAFETY: as above.
unsafe impl Sync for SendPtr {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_rejects_channels_beyond_stride() {
        let l = NhwcLayout {
            n: 1,
            h: 2,
            w: 2,
            c: 4,
            pixel_stride: 5,
            channel_offset: 2,
        };
        assert!(matches!(
            l.validate("x"),
            Err(KernelError::InvalidLayout { .. })
        ));
    }

    #[test]
    fn short_buffer_is_an_error() {
        let data = vec![0.0; 11];
        let err = TensorView::dense(&data, 1, 2, 2, 3).unwrap_err();
        assert_eq!(
            err,
            KernelError::BufferTooSmall {
                operand: "view",
                needed: 12,
                len: 11
            }
        );
    }

    #[test]
    fn split_halves_write_disjoint_channels() {
        let mut data = vec![0.0; 2 * 5];
        let full = TensorViewMut::new(
            &mut data,
            NhwcLayout {
                n: 1,
                h: 1,
                w: 2,
                c: 4,
                pixel_stride: 5,
                channel_offset: 1,
            },
        )
        .unwrap();
        let (mut a, mut b) = full.split_channels(1).unwrap();
        a.fill(1.0);
        b.fill(2.0);
        assert_eq!(data, vec![0.0, 1.0, 2.0, 2.0, 2.0, 0.0, 1.0, 2.0, 2.0, 2.0]);
    }

    #[test]
    fn batch_item_views_the_right_image() {
        let data: Vec<f32> = (0..2 * 2 * 3).map(|v| v as f32).collect();
        let v = TensorView::dense(&data, 2, 2, 1, 3).unwrap();
        let second = v.batch_item(1).unwrap();
        assert_eq!(second.get(0, 0, 0, 0), 6.0);
        assert_eq!(second.to_dense(), data[6..].to_vec());
    }
}
