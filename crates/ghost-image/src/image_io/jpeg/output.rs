//! From component planes to RGB as libjpeg-turbo's default decompression does it: "fancy"
//! (triangle-filter) chroma upsampling for 2x1, 2x2 and 1x2 subsampling (`jdsample.c`), plain
//! replication for other integer factors, and the fixed-point YCbCr -> RGB tables of
//! `jdcolor.c`.

/// One decoded component plane (after the IDCT), in its own (subsampled) resolution.
#[derive(Debug)]
pub struct Plane {
    /// Samples, `stride` per row, at least `height` rows.
    pub samples: Vec<u8>,
    pub stride: usize,
    /// Meaningful samples per row (`ceil(image_width * h / h_max)`).
    pub width: usize,
    /// Meaningful rows (`ceil(image_height * v / v_max)`).
    pub height: usize,
    /// Upsampling factors to the full image (`h_max / h`, `v_max / v`).
    pub h_expand: usize,
    pub v_expand: usize,
}

impl Plane {
    /// Output row `y` of the plane upsampled to full resolution, into `out` (`width` samples);
    /// `colsum` is scratch of at least `self.width` values.
    pub fn upsample_row(&self, y: usize, out: &mut [u8], colsum: &mut [i32]) {
        match (self.h_expand, self.v_expand) {
            (1, 1) => {
                let start = y * self.stride;
                out.copy_from_slice(&self.samples[start..start + out.len()]);
            }
            (2, 1) if self.width > 2 => self.h2v1_fancy(y, out),
            (2, 2) if self.width > 2 => self.h2v2_fancy(y, out, colsum),
            (1, 2) => self.h1v2_fancy(y, out),
            _ => self.replicate(y, out),
        }
    }

    /// Box replication (`int_upsample`, `h2v1_upsample`, `h2v2_upsample`).
    fn replicate(&self, y: usize, out: &mut [u8]) {
        let row = (y / self.v_expand).min(self.height - 1);
        let line = &self.samples[row * self.stride..];
        for (x, o) in out.iter_mut().enumerate() {
            *o = line[x / self.h_expand];
        }
    }

    /// Writes `pairs` (two outputs per input column) into `out`, dropping the last one when the
    /// image width is odd.
    fn emit(out: &mut [u8], x: usize, a: i32, b: i32) {
        out[x] = a as u8;
        if let Some(o) = out.get_mut(x + 1) {
            *o = b as u8;
        }
    }

    /// `h2v1_fancy_upsample`: 3/4 nearer + 1/4 further sample, biases 1 and 2.
    fn h2v1_fancy(&self, y: usize, out: &mut [u8]) {
        let row = y.min(self.height - 1);
        let line = &self.samples[row * self.stride..row * self.stride + self.width];
        let n = self.width;
        let s = |i: usize| i32::from(line[i]);
        Self::emit(out, 0, s(0), (s(0) * 3 + s(1) + 2) >> 2);
        for i in 1..n - 1 {
            let v = s(i) * 3;
            Self::emit(out, 2 * i, (v + s(i - 1) + 1) >> 2, (v + s(i + 1) + 2) >> 2);
        }
        Self::emit(out, 2 * n - 2, (s(n - 1) * 3 + s(n - 2) + 1) >> 2, s(n - 1));
    }

    /// `h2v2_fancy_upsample`: 9/16, 3/16, 3/16, 1/16 weights, biases 8 and 7.
    fn h2v2_fancy(&self, y: usize, out: &mut [u8], colsum: &mut [i32]) {
        let n = self.width;
        let row = (y / 2) as isize;
        // Even output rows lean on the row above, odd ones on the row below.
        let other = if y.is_multiple_of(2) {
            row - 1
        } else {
            row + 1
        };
        let clamp = |r: isize| r.clamp(0, self.height as isize - 1) as usize * self.stride;
        let (near, far) = (clamp(row), clamp(other));
        for (c, sum) in colsum[..n].iter_mut().enumerate() {
            *sum = i32::from(self.samples[near + c]) * 3 + i32::from(self.samples[far + c]);
        }
        let c = &colsum[..n];
        Self::emit(out, 0, (c[0] * 4 + 8) >> 4, (c[0] * 3 + c[1] + 7) >> 4);
        for i in 1..n - 1 {
            Self::emit(
                out,
                2 * i,
                (c[i] * 3 + c[i - 1] + 8) >> 4,
                (c[i] * 3 + c[i + 1] + 7) >> 4,
            );
        }
        Self::emit(
            out,
            2 * n - 2,
            (c[n - 1] * 3 + c[n - 2] + 8) >> 4,
            (c[n - 1] * 4 + 7) >> 4,
        );
    }

    /// `h1v2_fancy_upsample`: vertical 3/4 + 1/4, biases 1 (upper) and 2 (lower).
    fn h1v2_fancy(&self, y: usize, out: &mut [u8]) {
        let row = (y / 2) as isize;
        let (other, bias) = if y.is_multiple_of(2) {
            (row - 1, 1)
        } else {
            (row + 1, 2)
        };
        let clamp = |r: isize| r.clamp(0, self.height as isize - 1) as usize * self.stride;
        let (near, far) = (clamp(row), clamp(other));
        for (x, o) in out.iter_mut().enumerate() {
            let v = i32::from(self.samples[near + x]) * 3 + i32::from(self.samples[far + x]);
            *o = ((v + bias) >> 2) as u8;
        }
    }
}

/// `jdcolor.c` fixed point: 16 fraction bits, tables indexed by the chroma sample.
const SCALEBITS: i32 = 16;
const ONE_HALF: i64 = 1 << (SCALEBITS - 1);

fn fix(x: f64) -> i64 {
    (x * f64::from(1 << SCALEBITS) + 0.5) as i64
}

/// YCbCr -> RGB lookup tables.
#[derive(Debug)]
pub struct YccTables {
    cr_r: [i32; 256],
    cb_b: [i32; 256],
    cr_g: [i64; 256],
    cb_g: [i64; 256],
}

impl YccTables {
    pub fn new() -> Self {
        let mut t = Self {
            cr_r: [0; 256],
            cb_b: [0; 256],
            cr_g: [0; 256],
            cb_g: [0; 256],
        };
        for i in 0..256 {
            let x = i as i64 - 128;
            t.cr_r[i] = ((fix(1.40200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cb_b[i] = ((fix(1.77200) * x + ONE_HALF) >> SCALEBITS) as i32;
            t.cr_g[i] = -fix(0.71414) * x;
            t.cb_g[i] = -fix(0.34414) * x + ONE_HALF;
        }
        t
    }

    /// One pixel.
    #[inline]
    pub fn rgb(&self, y: u8, cb: u8, cr: u8) -> [u8; 3] {
        let y = i32::from(y);
        let (cb, cr) = (usize::from(cb), usize::from(cr));
        let g = ((self.cb_g[cb] + self.cr_g[cr]) >> SCALEBITS) as i32;
        [
            (y + self.cr_r[cr]).clamp(0, 255) as u8,
            (y + g).clamp(0, 255) as u8,
            (y + self.cb_b[cb]).clamp(0, 255) as u8,
        ]
    }
}
