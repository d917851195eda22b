//! An owned NHWC f32 tensor: the buffer every layer reads from and writes to.
//!
//! A [`Tensor`] owns its floats and an [`NhwcLayout`]. Usually the layout is dense (`pixel_stride
//! == c`), but a tensor may also own a wider buffer and expose only a channel range of it, which is
//! how a YOLO `Concat` output is allocated once and filled in place by its producers through
//! [`Tensor::view_mut`] + [`TensorViewMut::channels_mut`].
//!
//! PyTorch tensors are NCHW; [`Tensor::from_nchw`] / [`Tensor::to_nchw`] convert at the boundary
//! (images in, features and logits out) through `ndarray`.

use ndarray::{Array4, ArrayView4};

use crate::error::{LayerError, Result};
use ghost_kernels::{NhwcLayout, TensorView, TensorViewMut};

/// An owned, possibly pixel-strided, NHWC f32 tensor. Its buffer may be longer than the layout
/// needs (a recycled buffer, see `Context::alloc`); only the layout's elements are its contents.
#[derive(Clone)]
pub struct Tensor {
    data: Vec<f32>,
    layout: NhwcLayout,
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tensor")
            .field("shape_nhwc", &self.shape())
            .field("pixel_stride", &self.layout.pixel_stride)
            .field("channel_offset", &self.layout.channel_offset)
            .finish()
    }
}

/// Equal shapes and equal logical elements (gaps and unused buffer space are ignored; NaN is
/// unequal to itself as usual).
impl PartialEq for Tensor {
    fn eq(&self, other: &Tensor) -> bool {
        if self.shape() != other.shape() {
            return false;
        }
        let (a, b) = (self.view(), other.view());
        (0..self.layout.pixels()).all(|p| a.pixel(p) == b.pixel(p))
    }
}

impl Tensor {
    /// A dense `n x h x w x c` tensor of zeros.
    pub fn zeros(shape: [usize; 4]) -> Self {
        let [n, h, w, c] = shape;
        Tensor {
            data: vec![0.0; n * h * w * c],
            layout: NhwcLayout::dense(n, h, w, c),
        }
    }

    /// A zeroed buffer of `n x h x w` pixels, `pixel_stride` floats each, whose logical tensor is
    /// channels `[channel_offset, channel_offset + c)` of every pixel.
    pub fn zeros_strided(
        shape: [usize; 4],
        pixel_stride: usize,
        channel_offset: usize,
    ) -> Result<Self> {
        let [n, h, w, c] = shape;
        let layout = NhwcLayout {
            n,
            h,
            w,
            c,
            pixel_stride,
            channel_offset,
        };
        layout
            .validate("tensor")
            .map_err(|e| LayerError::Tensor(e.to_string()))?;
        Ok(Tensor {
            data: vec![0.0; n * h * w * pixel_stride],
            layout,
        })
    }

    /// Wraps dense NHWC data of shape `(n, h, w, c)`.
    pub fn from_nhwc_vec(shape: [usize; 4], data: Vec<f32>) -> Result<Self> {
        let [n, h, w, c] = shape;
        let expected = n
            .checked_mul(h)
            .and_then(|v| v.checked_mul(w))
            .and_then(|v| v.checked_mul(c));
        if expected != Some(data.len()) {
            return Err(LayerError::Tensor(format!(
                "shape {shape:?} needs {expected:?} floats, got {}",
                data.len()
            )));
        }
        Ok(Tensor {
            data,
            layout: NhwcLayout::dense(n, h, w, c),
        })
    }

    /// Wraps a buffer with an explicit (possibly strided) layout.
    pub fn from_parts(data: Vec<f32>, layout: NhwcLayout) -> Result<Self> {
        layout
            .validate("tensor")
            .map_err(|e| LayerError::Tensor(e.to_string()))?;
        if data.len() < layout.required_len() {
            return Err(LayerError::Tensor(format!(
                "layout {layout:?} needs {} floats, buffer holds {}",
                layout.required_len(),
                data.len()
            )));
        }
        Ok(Tensor { data, layout })
    }

    /// Copies an NCHW array (PyTorch order) into a dense NHWC tensor.
    pub fn from_nchw(array: ArrayView4<'_, f32>) -> Self {
        let (n, c, h, w) = array.dim();
        let mut t = Tensor::zeros([n, h, w, c]);
        t.copy_from_nchw(array)
            .expect("a tensor of the transposed shape fits");
        t
    }

    /// Copies an NCHW array (PyTorch order) into this tensor, whose shape must be the array's
    /// NHWC transpose. Allocates nothing (a forward pass converts its input into a pooled
    /// buffer with it).
    pub fn copy_from_nchw(&mut self, array: ArrayView4<'_, f32>) -> Result<()> {
        let (n, c, h, w) = array.dim();
        if self.shape() != [n, h, w, c] {
            return Err(LayerError::Tensor(format!(
                "an NCHW array of shape {:?} does not fit an NHWC tensor of shape {:?}",
                array.shape(),
                self.shape()
            )));
        }
        let plane = h * w;
        match (
            array.as_slice(),
            self.layout == NhwcLayout::dense(n, h, w, c),
        ) {
            // Standard layout (every letterboxed image) into a dense tensor: one pass that reads
            // the `c` planes side by side and writes pixels in order, chosen because ndarray's
            // permuted iterator was slow (see
            // docs/performance.md#measurements-behind-code-decisions-model-level).
            (Some(src), true) if plane > 0 && c > 0 => {
                let dst = &mut self.data[..n * plane * c];
                for (src, dst) in src
                    .chunks_exact(c * plane)
                    .zip(dst.chunks_exact_mut(c * plane))
                {
                    if c == 3 {
                        let (r, gb) = src.split_at(plane);
                        let (g, b) = gb.split_at(plane);
                        for (px, ((r, g), b)) in dst.chunks_exact_mut(3).zip(r.iter().zip(g).zip(b))
                        {
                            px.copy_from_slice(&[*r, *g, *b]);
                        }
                    } else {
                        for (ch, p) in src.chunks_exact(plane).enumerate() {
                            for (i, &v) in p.iter().enumerate() {
                                dst[i * c + ch] = v;
                            }
                        }
                    }
                }
            }
            _ => {
                let mut view = self.view_mut();
                for ((b, ch, y, x), &v) in array.indexed_iter() {
                    view.set(b, y, x, ch, v);
                }
            }
        }
        Ok(())
    }

    /// Copies an NHWC array into a dense NHWC tensor.
    pub fn from_nhwc(array: ArrayView4<'_, f32>) -> Self {
        let (n, h, w, c) = array.dim();
        Tensor {
            data: array.iter().copied().collect(),
            layout: NhwcLayout::dense(n, h, w, c),
        }
    }

    /// Copies the logical contents into an NCHW array (PyTorch order).
    pub fn to_nchw(&self) -> Array4<f32> {
        let [n, h, w, c] = self.shape();
        let mut out = Array4::<f32>::zeros((n, c, h, w));
        let view = self.view();
        for b in 0..n {
            for y in 0..h {
                for x in 0..w {
                    let pixel = view.pixel((b * h + y) * w + x);
                    for (ch, &v) in pixel.iter().enumerate() {
                        out[[b, ch, y, x]] = v;
                    }
                }
            }
        }
        out
    }

    /// Copies the logical contents into an NHWC array.
    pub fn to_nhwc(&self) -> Array4<f32> {
        let [n, h, w, c] = self.shape();
        Array4::from_shape_vec((n, h, w, c), self.to_dense_vec())
            .expect("to_dense_vec returns exactly n*h*w*c floats")
    }

    /// `(n, h, w, c)`.
    pub fn shape(&self) -> [usize; 4] {
        self.layout.shape()
    }

    /// The layout (strides included).
    pub fn layout(&self) -> &NhwcLayout {
        &self.layout
    }

    /// Whether the logical elements are stored densely (`pixel_stride == c`, no channel offset)
    /// from the start of the buffer.
    pub fn is_dense(&self) -> bool {
        self.layout.pixel_stride == self.layout.c && self.layout.channel_offset == 0
    }

    /// A read-only kernel view of the whole tensor.
    pub fn view(&self) -> TensorView<'_> {
        TensorView::new(&self.data, self.layout)
            .expect("a Tensor's layout was validated against its buffer at construction")
    }

    /// A mutable kernel view of the whole tensor.
    pub fn view_mut(&mut self) -> TensorViewMut<'_> {
        TensorViewMut::new(&mut self.data, self.layout)
            .expect("a Tensor's layout was validated against its buffer at construction")
    }

    /// The underlying buffer (including any gaps of a strided layout).
    pub fn buffer(&self) -> &[f32] {
        &self.data
    }

    /// The underlying buffer, consuming the tensor.
    pub fn into_buffer(self) -> Vec<f32> {
        self.data
    }

    /// The logical contents as a dense NHWC vector (a copy).
    pub fn to_dense_vec(&self) -> Vec<f32> {
        if self.is_dense() {
            self.data[..self.layout.elements()].to_vec()
        } else {
            self.view().to_dense()
        }
    }

    /// The tensor made dense, with a buffer of exactly its elements (no copy when it already is
    /// dense).
    pub fn into_dense(mut self) -> Tensor {
        if self.is_dense() {
            let elements = self.layout.elements();
            self.data.truncate(elements);
            return self;
        }
        let [n, h, w, c] = self.shape();
        Tensor {
            data: self.to_dense_vec(),
            layout: NhwcLayout::dense(n, h, w, c),
        }
    }

    /// Copies a view's logical contents into a new dense tensor.
    pub fn from_view(view: &TensorView<'_>) -> Tensor {
        let [n, h, w, c] = view.shape();
        Tensor {
            data: view.to_dense(),
            layout: NhwcLayout::dense(n, h, w, c),
        }
    }

    /// Whether every logical element is finite.
    pub fn all_finite(&self) -> bool {
        let view = self.view();
        (0..self.layout.pixels()).all(|p| view.pixel(p).iter().all(|v| v.is_finite()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nchw_round_trip_reorders_axes() {
        let nchw = Array4::from_shape_fn((2, 3, 4, 5), |(n, c, h, w)| {
            (n * 1000 + c * 100 + h * 10 + w) as f32
        });
        let t = Tensor::from_nchw(nchw.view());
        assert_eq!(t.shape(), [2, 4, 5, 3]);
        // NHWC element (n=1, h=2, w=3, c=1) is NCHW (1, 1, 2, 3).
        assert_eq!(t.view().get(1, 2, 3, 1), 1123.0);
        assert_eq!(t.to_nchw(), nchw);
        let nhwc = t.to_nhwc();
        assert_eq!(nhwc[[1, 2, 3, 1]], 1123.0);
        assert_eq!(Tensor::from_nhwc(nhwc.view()), t);
    }

    #[test]
    fn strided_tensor_exposes_only_its_channels() {
        let mut t = Tensor::zeros_strided([1, 1, 2, 2], 5, 1).unwrap();
        t.view_mut().fill(7.0);
        assert_eq!(
            t.buffer(),
            &[0.0, 7.0, 7.0, 0.0, 0.0, 0.0, 7.0, 7.0, 0.0, 0.0]
        );
        assert_eq!(t.to_dense_vec(), vec![7.0; 4]);
        assert!(!t.is_dense());
        let d = t.into_dense();
        assert!(d.is_dense());
        assert_eq!(d.buffer(), &[7.0; 4]);
    }

    #[test]
    fn wrong_length_is_an_error() {
        assert!(Tensor::from_nhwc_vec([1, 2, 2, 3], vec![0.0; 11]).is_err());
        assert!(Tensor::zeros_strided([1, 2, 2, 3], 2, 0).is_err());
    }
}
