//! Buffers with NaN sentinels, 1-vs-2-thread runs and tolerance checks shared by the families.

use ghost_kernels::{NhwcLayout, Padding, TensorView, TensorViewMut, Threads, Window};

use crate::common::{fill, inside, strided};

/// A strided view's buffer: `offset` NaN floats before the channels of each pixel, `extra`
/// after, holding `values` (dense).
pub struct Strided {
    pub layout: NhwcLayout,
    pub buf: Vec<f32>,
}

impl Strided {
    pub fn new(shape: [usize; 4], offset: usize, extra: usize, values: &[f32]) -> Self {
        let [n, h, w, c] = shape;
        let layout = strided(n, h, w, c, offset, extra);
        Strided {
            buf: fill(&layout, values),
            layout,
        }
    }

    pub fn view(&self) -> TensorView<'_> {
        TensorView::new(&self.buf, self.layout).unwrap()
    }
}

/// Runs `f` on a fresh NaN-filled strided output of `shape` (channel offset 2, 3 floats after)
/// with 1 and then 2 threads; checks that nothing outside the output's channels was written
/// and that both runs agree bit for bit; returns the (dense) output.
pub fn run_threads(
    what: &str,
    shape: [usize; 4],
    mut f: impl FnMut(&mut TensorViewMut<'_>, &Threads),
) -> Vec<f32> {
    let [n, h, w, c] = shape;
    let layout = strided(n, h, w, c, 2, 3);
    let mut first: Option<Vec<f32>> = None;
    for threads in [Threads::single(), Threads::new(2).unwrap()] {
        let mut buf = vec![f32::NAN; layout.pixels() * layout.pixel_stride];
        let mut out = TensorViewMut::new(&mut buf, layout).unwrap();
        f(&mut out, &threads);
        let dense = out.as_view().to_dense();
        for (i, v) in buf.iter().enumerate() {
            assert!(
                inside(&layout, i) || v.is_nan(),
                "{what}: wrote {v} outside the output channels (float {i})"
            );
        }
        match &first {
            None => first = Some(dense),
            Some(one) => assert!(same_bits(one, &dense), "{what}: 1 and 2 threads differ"),
        }
    }
    first.unwrap()
}

/// Runs `f` in place on a copy of `x` (strided, NaN sentinels) with 1 and 2 threads; the same
/// checks as [`run_threads`].
pub fn run_threads_inplace(
    what: &str,
    x: &Strided,
    mut f: impl FnMut(&mut TensorViewMut<'_>, &Threads),
) -> Vec<f32> {
    let mut first: Option<Vec<f32>> = None;
    for threads in [Threads::single(), Threads::new(2).unwrap()] {
        let mut buf = x.buf.clone();
        let mut view = TensorViewMut::new(&mut buf, x.layout).unwrap();
        f(&mut view, &threads);
        let dense = view.as_view().to_dense();
        for (i, v) in buf.iter().enumerate() {
            assert!(
                inside(&x.layout, i) || v.is_nan(),
                "{what}: wrote {v} outside the view's channels (float {i})"
            );
        }
        match &first {
            None => first = Some(dense),
            Some(one) => assert!(same_bits(one, &dense), "{what}: 1 and 2 threads differ"),
        }
    }
    first.unwrap()
}

pub fn same_bits(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
}

/// Asserts `|got[i] - want[i]| <= bound(i)` for every element.
pub fn assert_within(what: &str, got: &[f32], want: &[f32], bound: impl Fn(usize) -> f64) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    for (i, (&g, &r)) in got.iter().zip(want).enumerate() {
        let err = (f64::from(g) - f64::from(r)).abs();
        let b = bound(i);
        assert!(
            err <= b,
            "{what}: element {i}: got {g}, oracle {r}, error {err:e} > bound {b:e}"
        );
    }
}

/// Asserts bitwise equality with the oracle.
pub fn assert_exact(what: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{what}: output length");
    for (i, (&g, &r)) in got.iter().zip(want).enumerate() {
        assert!(
            g.to_bits() == r.to_bits(),
            "{what}: element {i}: got {g}, oracle {r} (exact)"
        );
    }
}

/// A `kh` x `kw` window with the same stride both ways.
pub fn window(kh: usize, kw: usize, stride: usize, padding: Padding) -> Window {
    Window {
        kernel_h: kh,
        kernel_w: kw,
        stride_h: stride,
        stride_w: stride,
        padding,
    }
}

/// A square `k` x `k` window with the same stride both ways.
pub fn square_window(k: usize, stride: usize, padding: Padding) -> Window {
    window(k, k, stride, padding)
}
