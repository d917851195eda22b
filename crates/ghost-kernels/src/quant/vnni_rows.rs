//! The row pointers of the AVX-512 VNNI GEMM driver ([`super::vnni_gemm`]): for a tile of
//! [`MR8`] output pixels, one pointer per tap and row into the input (or the zero-point row in
//! the padding), tap-major (`a[t * MR8 + r]`).
//!
//! The output position (image, row, column) is advanced pixel by pixel from one division per
//! driver call ([`Cursor::new`]), where the shared driver's `fill_rows` divides three times per
//! row and tile.

use super::gemm::{Source, WindowSource, MAX_TAPS};

/// Rows (output pixels) per tile of the VNNI driver.
pub(crate) const MR8: usize = 8;

/// The row-pointer table of one tile.
pub(crate) type RowTable = [*const u8; MAX_TAPS * MR8];

/// The output position of the next pixel of a window source (pointwise sources ignore it).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Cursor {
    b: usize,
    oy: usize,
    ox: usize,
}

impl Cursor {
    /// The position of output pixel `p` (`p < n * oh * ow` or one past the end).
    pub fn new(w: &WindowSource, p: usize) -> Self {
        let plane = w.oh * w.ow;
        let (b, q) = (p / plane, p % plane);
        Cursor {
            b,
            oy: q / w.ow,
            ox: q % w.ow,
        }
    }

    /// Moves to the next output pixel.
    #[inline(always)]
    fn advance(&mut self, w: &WindowSource) {
        self.ox += 1;
        if self.ox == w.ow {
            self.ox = 0;
            self.oy += 1;
            if self.oy == w.oh {
                self.oy = 0;
                self.b += 1;
            }
        }
    }
}

/// Fills row `r` of every tap with the window of the cursor's pixel.
#[inline(always)]
fn fill_window(w: &WindowSource, at: &Cursor, r: usize, a: &mut RowTable) {
    let iy0 = (at.oy * w.sh).wrapping_sub(w.pad_top);
    let ix0 = (at.ox * w.sw).wrapping_sub(w.pad_left);
    let inside = iy0 < w.ih && ix0 < w.iw && iy0 + w.kh <= w.ih && ix0 + w.kw <= w.iw;
    let image = at.b * w.ih;
    if inside {
        // The whole window lies in the image: tap `(ky, kx)` is `(ky * iw + kx)` pixels on.
        let base = w.ptr.wrapping_add(((image + iy0) * w.iw + ix0) * w.stride);
        for ky in 0..w.kh {
            let line = base.wrapping_add(ky * w.iw * w.stride);
            for kx in 0..w.kw {
                a[(ky * w.kw + kx) * MR8 + r] = line.wrapping_add(kx * w.stride);
            }
        }
        return;
    }
    for ky in 0..w.kh {
        let iy = iy0.wrapping_add(ky);
        for kx in 0..w.kw {
            let ix = ix0.wrapping_add(kx);
            a[(ky * w.kw + kx) * MR8 + r] = if iy < w.ih && ix < w.iw {
                w.ptr.wrapping_add(((image + iy) * w.iw + ix) * w.stride)
            } else {
                w.zp_row
            };
        }
    }
}

/// Fills the table for pixels `start .. start + valid` (`1 <= valid <= MR8`); rows past `valid`
/// repeat the last valid row (their sums are computed and dropped). `cursor` is at `start` on
/// entry (window sources) and at `start + valid` on return.
#[inline(always)]
pub(crate) fn fill_tile(
    source: &Source,
    cursor: &mut Cursor,
    taps: usize,
    start: usize,
    valid: usize,
    a: &mut RowTable,
) {
    match *source {
        Source::Pointwise { ptr, stride } => {
            for (r, row) in a.iter_mut().take(MR8).enumerate() {
                *row = ptr.wrapping_add((start + r.min(valid - 1)) * stride);
            }
        }
        Source::Window(ref w) => {
            for r in 0..valid {
                fill_window(w, cursor, r, a);
                cursor.advance(w);
            }
            for r in valid..MR8 {
                for t in 0..taps {
                    a[t * MR8 + r] = a[t * MR8 + valid - 1];
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The incremental table equals the per-pixel definition (`gemm::fill_rows`' arithmetic)
    /// for every pixel of a padded stride-2 window over two images, tiles of every length.
    #[test]
    fn window_rows_match_the_definition() {
        let zp = [0u8; 4];
        let data = vec![0u8; 2 * 5 * 7 * 4];
        let w = WindowSource {
            ptr: data.as_ptr(),
            stride: 4,
            ih: 5,
            iw: 7,
            oh: 3,
            ow: 4,
            kh: 3,
            kw: 3,
            sh: 2,
            sw: 2,
            pad_top: 1,
            pad_left: 1,
            zp_row: zp.as_ptr(),
        };
        let total = 2 * w.oh * w.ow;
        for tile in 1..=MR8 {
            let mut cursor = Cursor::new(&w, 0);
            let mut start = 0;
            while start < total {
                let valid = (total - start).min(tile);
                let mut a = [std::ptr::null(); MAX_TAPS * MR8];
                fill_tile(&Source::Window(w), &mut cursor, 9, start, valid, &mut a);
                for r in 0..MR8 {
                    let p = start + r.min(valid - 1);
                    let (b, oy, ox) = (p / 12, p / 4 % 3, p % 4);
                    for ky in 0..3 {
                        for kx in 0..3 {
                            let iy = (oy * 2 + ky).wrapping_sub(1);
                            let ix = (ox * 2 + kx).wrapping_sub(1);
                            let want = if iy < 5 && ix < 7 {
                                data.as_ptr().wrapping_add(((b * 5 + iy) * 7 + ix) * 4)
                            } else {
                                zp.as_ptr()
                            };
                            assert_eq!(a[(ky * 3 + kx) * MR8 + r], want, "p {p} tap {ky},{kx}");
                        }
                    }
                }
                start += valid;
            }
        }
    }
}
