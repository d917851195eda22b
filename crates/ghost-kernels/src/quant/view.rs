//! Strided NHWC views of u8 (quantized) tensors: the generic views of [`crate::view`] on `u8`,
//! so they share the f32 views' [`crate::NhwcLayout`] geometry (counted in bytes), construction checks
//! and soundness rules (a view only touches its own channel range;
//! [`StridedViewMut::split_channels`] is the only way to get two mutable views of one buffer),
//! and an INT8 conv can read one half of a Ghost module buffer and write the other.

use crate::view::{StridedView, StridedViewMut};

/// A read-only strided NHWC view of u8 data.
pub type U8View<'a> = StridedView<'a, u8>;

/// A mutable strided NHWC view of u8 data.
pub type U8ViewMut<'a> = StridedViewMut<'a, u8>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::KernelError;
    use crate::view::NhwcLayout;

    #[test]
    fn u8_views_keep_their_own_error_names() {
        let data = vec![0u8; 11];
        let err = U8View::dense(&data, 1, 2, 2, 3).unwrap_err();
        assert_eq!(
            err,
            KernelError::BufferTooSmall {
                operand: "u8 view",
                needed: 12,
                len: 11
            }
        );
        let mut data = vec![0u8; 11];
        let err = U8ViewMut::dense(&mut data, 1, 2, 2, 3).unwrap_err();
        assert!(matches!(
            err,
            KernelError::BufferTooSmall {
                operand: "u8 output view",
                ..
            }
        ));
        let data = vec![0u8; 12];
        let v = U8View::dense(&data, 1, 2, 2, 3).unwrap();
        assert!(format!("{v:?}").starts_with("U8View"));
    }

    #[test]
    fn u8_split_halves_write_disjoint_channels() {
        let mut data = vec![0u8; 2 * 5];
        let layout = NhwcLayout {
            n: 1,
            h: 1,
            w: 2,
            c: 4,
            pixel_stride: 5,
            channel_offset: 1,
        };
        let full = U8ViewMut::new(&mut data, layout).unwrap();
        let (mut a, mut b) = full.split_channels(1).unwrap();
        a.fill(1);
        b.fill(2);
        assert_eq!(data, vec![0, 1, 2, 2, 2, 0, 1, 2, 2, 2]);
    }
}
