//! INT8 families (`gemm-i8`: pointwise and dense convolutions; `depthwise-i8`; `quantize`,
//! `dequantize`) on every back end against the i64 references of `ghost_kernels::quant::naive`.
//!
//! - The integer accumulators are checked **exactly**: with unit scales, no bias and the
//!   identity, the f32 output is the zero-point-corrected i32 sum itself (exact in f32 below
//!   2^24, which every case here stays under), compared bit for bit with the i64 reference.
//! - The f32 epilogue (every activation x residual order) within
//!   `tolerance::int8_epilogue_bound`, the requantized u8 output within
//!   `tolerance::requantized_code_bound` codes.
//! - Edge tiles (1..13 pixels around the 4-row tile), K = 1, odd channel counts (1, 3, 5, 17,
//!   33 ...) around the 4-channel groups and 16-channel panels, strided / channel-slice input
//!   and outputs inside sentinel-filled buffers, 1 vs 2 threads bit for bit.

use ghost_kernels::quant::{
    conv2d_i8_with_isa, depthwise_i8_with_isa, dequantize_with_isa, naive, pointwise_i8_with_isa,
    quantize_weights_per_channel, quantize_with_isa, I8Output, PackedConvI8, PackedDepthwiseI8,
    PackedPointwiseI8, QuantParams, U8View, U8ViewMut, DEPTHWISE_WEIGHT_QMAX, GEMM_WEIGHT_QMAX,
};
use ghost_kernels::testing::values;
use ghost_kernels::tolerance::{int8_epilogue_bound, requantized_code_bound};
use ghost_kernels::{
    Activation, AddOrder, Backend, Epilogue, NhwcLayout, TensorViewMut, Threads, Window,
};

use crate::check::{assert_exact, assert_within, run_threads, Strided};
use crate::common::strided;
use crate::{backends, epilogues};

/// Sentinel byte around u8 views: must survive every kernel.
const SENTINEL: u8 = 0xA5;

pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
    values(seed, len)
        .into_iter()
        .map(|v| ((v + 1.0) * 127.99) as u8)
        .collect()
}

/// A strided u8 buffer (channel offset 1, 2 bytes after) holding `data` (dense).
struct StridedU8 {
    layout: NhwcLayout,
    buf: Vec<u8>,
}

impl StridedU8 {
    fn new(shape: [usize; 4], data: &[u8]) -> Self {
        let [n, h, w, c] = shape;
        let layout = strided(n, h, w, c, 1, 2);
        let mut buf = vec![SENTINEL; layout.pixels() * layout.pixel_stride];
        U8ViewMut::new(&mut buf, layout)
            .unwrap()
            .copy_from_dense(data)
            .unwrap();
        StridedU8 { layout, buf }
    }

    fn view(&self) -> U8View<'_> {
        U8View::new(&self.buf, self.layout).unwrap()
    }
}

/// Runs `f` on a sentinel-filled strided u8 output with 1 and 2 threads; checks the sentinels
/// and that both runs agree; returns the dense output.
fn run_threads_u8(
    what: &str,
    shape: [usize; 4],
    mut f: impl FnMut(&mut U8ViewMut<'_>, &Threads),
) -> Vec<u8> {
    let [n, h, w, c] = shape;
    let layout = strided(n, h, w, c, 2, 3);
    let mut first: Option<Vec<u8>> = None;
    for threads in [Threads::single(), Threads::new(2).unwrap()] {
        let mut buf = vec![SENTINEL; layout.pixels() * layout.pixel_stride];
        let mut out = U8ViewMut::new(&mut buf, layout).unwrap();
        f(&mut out, &threads);
        let dense = out.as_view().to_dense();
        for (i, &v) in buf.iter().enumerate() {
            let ch = i % layout.pixel_stride;
            let inside = ch >= layout.channel_offset && ch < layout.channel_offset + c;
            assert!(
                inside || v == SENTINEL,
                "{what}: wrote outside the output (byte {i})"
            );
        }
        match &first {
            None => first = Some(dense),
            Some(one) => assert_eq!(one, &dense, "{what}: 1 and 2 threads differ"),
        }
    }
    first.unwrap()
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Kind {
    Pointwise,
    Dense(Window),
    Depthwise(Window),
}

pub(crate) struct Case {
    pub kind: Kind,
    /// Input `(n, h, w, cin)`.
    pub shape: [usize; 4],
    pub cout: usize,
    pub act: Activation,
    pub residual: Option<AddOrder>,
    pub seed: u64,
}

impl Case {
    fn window(&self) -> Window {
        match self.kind {
            Kind::Pointwise => Window::square(1, 1, 0),
            Kind::Dense(w) | Kind::Depthwise(w) => w,
        }
    }

    pub(crate) fn out_shape(&self) -> [usize; 4] {
        let [n, h, w, _] = self.shape;
        let (oh, ow) = self.window().output_size(h, w).unwrap();
        [n, oh, ow, self.cout]
    }

    pub(crate) fn weights_per_out(&self) -> usize {
        let w = self.window();
        let k = w.kernel_h * w.kernel_w;
        match self.kind {
            Kind::Depthwise(_) => k,
            _ => k * self.shape[3],
        }
    }

    fn qmax(&self) -> i8 {
        match self.kind {
            Kind::Depthwise(_) => DEPTHWISE_WEIGHT_QMAX,
            _ => GEMM_WEIGHT_QMAX,
        }
    }
}

/// Packed weights of any family.
enum Packed {
    Pointwise(PackedPointwiseI8),
    Dense(PackedConvI8),
    Depthwise(PackedDepthwiseI8),
}

fn pack(c: &Case, codes: &[i8], scales: &[f32], bias: Option<&[f32]>) -> Packed {
    let [_, _, _, cin] = c.shape;
    let w = c.window();
    match c.kind {
        Kind::Pointwise => Packed::Pointwise(
            PackedPointwiseI8::from_quantized(codes, scales, bias, cin, c.cout).unwrap(),
        ),
        Kind::Dense(_) => Packed::Dense(
            PackedConvI8::from_quantized(codes, scales, bias, cin, c.cout, w.kernel_h, w.kernel_w)
                .unwrap(),
        ),
        Kind::Depthwise(_) => Packed::Depthwise(
            PackedDepthwiseI8::from_quantized(codes, scales, bias, cin, w.kernel_h, w.kernel_w)
                .unwrap(),
        ),
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    b: &Backend,
    c: &Case,
    packed: &Packed,
    input: &U8View<'_>,
    params: QuantParams,
    epilogue: &Epilogue<'_>,
    output: I8Output<'_, '_>,
    threads: &Threads,
) {
    let win = c.window();
    match packed {
        Packed::Pointwise(p) => {
            pointwise_i8_with_isa(b.isa(), input, params, p, epilogue, output, threads)
        }
        Packed::Dense(p) => {
            conv2d_i8_with_isa(b.isa(), input, params, p, &win, epilogue, output, threads)
        }
        Packed::Depthwise(p) => {
            depthwise_i8_with_isa(b.isa(), input, params, p, &win, epilogue, output, threads)
        }
    }
    .unwrap()
}

fn reference_acc(c: &Case, input: &U8View<'_>, zp: u8, codes: &[i8]) -> Vec<i64> {
    match c.kind {
        Kind::Depthwise(w) => naive::depthwise_acc(input, zp, codes, &w).unwrap(),
        _ => naive::conv2d_acc(input, zp, codes, c.cout, &c.window()).unwrap(),
    }
}

/// The accumulators, exactly: unit scales, no bias, identity, f32 output.
pub(crate) fn check_exact(b: &Backend, c: &Case) {
    let what = format!(
        "{} {:?} {:?} -> {} exact",
        b.label(),
        c.kind,
        c.shape,
        c.cout
    );
    let [n, h, w, cin] = c.shape;
    let input = StridedU8::new(c.shape, &bytes(c.seed, n * h * w * cin));
    let qmax = i32::from(c.qmax());
    let codes: Vec<i8> = bytes(c.seed ^ 1, c.cout * c.weights_per_out())
        .into_iter()
        .map(|v| (i32::from(v) * (2 * qmax + 1) / 256 - qmax) as i8)
        .collect();
    // Both extremes of the range, so that the kernels' worst case is exercised.
    let mut codes = codes;
    codes[0] = -c.qmax();
    *codes.last_mut().unwrap() = c.qmax();
    let scales = vec![1.0f32; c.cout];
    let packed = pack(c, &codes, &scales, None);
    for zp in [0u8, 3, 128, 255] {
        let params = QuantParams::new(1.0, zp).unwrap();
        let epilogue = Epilogue::act(Activation::Identity);
        let got = run_threads(&what, c.out_shape(), |out, threads| {
            run(
                b,
                c,
                &packed,
                &input.view(),
                params,
                &epilogue,
                I8Output::F32(out),
                threads,
            )
        });
        let acc = reference_acc(c, &input.view(), zp, &codes);
        assert!(
            acc.iter().all(|a| a.unsigned_abs() < 1 << 24),
            "{what}: case too large"
        );
        let want: Vec<f32> = acc.iter().map(|&a| a as f32).collect();
        assert_exact(&format!("{what} zp {zp}"), &got, &want);
    }
}

/// Every epilogue, f32 and requantized u8 output.
fn check_epilogues(b: &Backend, c: &Case) {
    let what = format!(
        "{} {:?} {:?} -> {} {:?} {:?}",
        b.label(),
        c.kind,
        c.shape,
        c.cout,
        c.act,
        c.residual
    );
    let [n, h, w, cin] = c.shape;
    let out_shape = c.out_shape();
    let [_, oh, ow, cout] = out_shape;
    let input = StridedU8::new(c.shape, &bytes(c.seed, n * h * w * cin));
    let params = QuantParams::from_range(-0.7, 2.3).unwrap();
    let real: Vec<f32> = values(c.seed ^ 1, cout * c.weights_per_out())
        .iter()
        .enumerate()
        .map(|(i, v)| v * (1.0 + (i / c.weights_per_out()) as f32 * 0.1))
        .collect();
    let (codes, scales) = quantize_weights_per_channel(&real, cout, c.qmax()).unwrap();
    let bias = values(c.seed ^ 2, cout);
    let res = Strided::new(out_shape, 1, 1, &values(c.seed ^ 3, n * oh * ow * cout));
    let epilogue = match c.residual {
        None => Epilogue::act(c.act),
        Some(order) => Epilogue::with_residual(c.act, res.view(), order),
    };
    let packed = match c.kind {
        Kind::Pointwise => {
            Packed::Pointwise(PackedPointwiseI8::new(&real, Some(&bias), cin, cout).unwrap())
        }
        Kind::Dense(win) => Packed::Dense(
            PackedConvI8::new(&real, Some(&bias), cin, cout, win.kernel_h, win.kernel_w).unwrap(),
        ),
        Kind::Depthwise(win) => Packed::Depthwise(
            PackedDepthwiseI8::new(&real, Some(&bias), cin, win.kernel_h, win.kernel_w).unwrap(),
        ),
    };
    let acc = reference_acc(c, &input.view(), params.zero_point, &codes);
    let want = naive::finish(&acc, cout, params.scale, &scales, Some(&bias), &epilogue);
    let bound = |i: usize| {
        let ch = i % cout;
        let r = epilogue
            .residual
            .map_or(0.0, |r| f64::from(r.view.pixel(i / cout)[ch]).abs());
        let abs_sum = (acc[i] as f64 * f64::from(params.scale) * f64::from(scales[ch])).abs()
            + f64::from(bias[ch]).abs()
            + r;
        int8_epilogue_bound(abs_sum, want[i])
    };
    let got = run_threads(&what, out_shape, |out, threads| {
        run(
            b,
            c,
            &packed,
            &input.view(),
            params,
            &epilogue,
            I8Output::F32(out),
            threads,
        )
    });
    let want32: Vec<f32> = want.iter().map(|&v| v as f32).collect();
    assert_within(&what, &got, &want32, bound);

    let out_params = QuantParams::from_range(-1.5, 3.0).unwrap();
    let got = run_threads_u8(&what, out_shape, |out, threads| {
        run(
            b,
            c,
            &packed,
            &input.view(),
            params,
            &epilogue,
            I8Output::U8(out, out_params),
            threads,
        )
    });
    for (i, (&g, &y)) in got.iter().zip(&want).enumerate() {
        let q = naive::requantize(y, out_params);
        let allowed = requantized_code_bound(bound(i), out_params.scale);
        assert!(
            u32::from(g.abs_diff(q)) <= allowed,
            "{what} u8: element {i}: got {g}, reference {q} (from {y}), allowed {allowed}"
        );
    }
}

fn pointwise_cases() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut seed = 100;
    for pixels in [1, 2, 3, 4, 5, 7, 9, 13] {
        for cin in [1, 3, 4, 5, 17, 33] {
            for cout in [1, 3, 16, 17, 33] {
                seed += 1;
                cases.push(Case {
                    kind: Kind::Pointwise,
                    shape: [1, 1, pixels, cin],
                    cout,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                });
            }
        }
    }
    // Long reduction, and a case big enough to be split over 2 threads.
    for (shape, cout) in [([1, 1, 5, 600], 17), ([2, 6, 7, 64], 64)] {
        seed += 1;
        cases.push(Case {
            kind: Kind::Pointwise,
            shape,
            cout,
            act: Activation::Identity,
            residual: None,
            seed,
        });
    }
    cases
}

fn windows() -> Vec<Window> {
    vec![
        Window::same(3, 1),
        Window::same(3, 2),
        Window::same(5, 1),
        Window::same(5, 2),
        Window::square(3, 1, 0),
        Window {
            kernel_h: 1,
            kernel_w: 3,
            stride_h: 1,
            stride_w: 2,
            padding: ghost_kernels::Padding {
                top: 0,
                left: 1,
                bottom: 0,
                right: 0,
            },
        },
        Window::same(7, 1),
    ]
}

fn window_cases(depthwise: bool) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut seed = 500 + u64::from(depthwise) * 1000;
    for win in windows() {
        let chans: &[usize] = if depthwise {
            &[1, 3, 8, 16, 17, 33]
        } else {
            &[1, 3, 5, 17]
        };
        for &c in chans {
            for (h, w) in [(7, 9), (8, 5)] {
                seed += 1;
                let (kind, cout) = if depthwise {
                    (Kind::Depthwise(win), c)
                } else {
                    (Kind::Dense(win), [1, 17, 20][c % 3])
                };
                cases.push(Case {
                    kind,
                    shape: [1 + (seed % 2) as usize, h, w, c],
                    cout,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                });
            }
        }
    }
    cases
}

/// Per family, a few shapes through every epilogue.
fn epilogue_cases() -> Vec<Case> {
    let kinds = [
        (Kind::Pointwise, [1, 3, 5, 19], 21),
        (Kind::Dense(Window::same(3, 2)), [1, 7, 6, 6], 18),
        (Kind::Depthwise(Window::same(3, 1)), [1, 5, 6, 19], 19),
        (Kind::Depthwise(Window::same(5, 2)), [1, 9, 7, 12], 12),
        // The GEMM's narrow-output path over several 64-pixel blocks.
        (Kind::Pointwise, [1, 9, 17, 7], 6),
        // A row of several tiling periods (the depthwise row path: 37 x 6 = 222 elements).
        (Kind::Depthwise(Window::same(3, 1)), [1, 3, 37, 6], 6),
    ];
    let mut cases = Vec::new();
    let mut seed = 9000;
    for (kind, shape, cout) in kinds {
        for (act, residual) in epilogues() {
            seed += 1;
            cases.push(Case {
                kind,
                shape,
                cout,
                act,
                residual,
                seed,
            });
        }
    }
    cases
}

#[test]
fn gemm_i8_pointwise_accumulators_are_exact() {
    for b in backends() {
        for c in pointwise_cases() {
            check_exact(b, &c);
        }
    }
}

#[test]
fn gemm_i8_dense_accumulators_are_exact() {
    for b in backends() {
        for c in window_cases(false) {
            check_exact(b, &c);
        }
    }
}

#[test]
fn depthwise_i8_accumulators_are_exact() {
    for b in backends() {
        for c in window_cases(true) {
            check_exact(b, &c);
        }
    }
}

/// Depthwise rows of several tiling periods (`lcm(c, 16)` elements) with narrow and odd
/// channel counts, every stride phase layout: strided views (the row path's per-pixel fill and
/// stores) through [`check_exact`], and dense input and output (its one-copy fill and direct
/// flat stores, f32 and u8) against the reference bit for bit.
#[test]
fn depthwise_i8_wide_rows_are_exact() {
    let mut seed = 7000;
    for b in backends() {
        for win in [Window::same(3, 1), Window::same(3, 2), Window::same(5, 2)] {
            for c in [2, 5, 6, 12, 24, 40] {
                seed += 1;
                let case = Case {
                    kind: Kind::Depthwise(win),
                    shape: [2, 4, 37, c],
                    cout: c,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                };
                check_exact(b, &case);

                let what = format!("{} dense depthwise {win:?} {c} channels", b.label());
                let codes: Vec<i8> = bytes(seed ^ 7, c * win.kernel_h * win.kernel_w)
                    .into_iter()
                    .map(|v| (v as i8).max(-DEPTHWISE_WEIGHT_QMAX))
                    .collect();
                check_dense_exact(b, &case, &codes, &what);
            }
        }
    }
}

/// The row path's input fill at the edges: narrow maps (1-6 and 17 columns), strides 2 and 3,
/// paddings 0-2 (the zero-point runs left and right of the input, empty inside runs), channel
/// counts around the 16-byte copies (1, 3, 4, 12, 15, 16, 17), strided and dense views,
/// exact against the reference.
#[test]
fn depthwise_i8_row_fill_edges_are_exact() {
    let mut seed = 9700;
    for b in backends() {
        for (k, stride, pad) in [(3, 2, 0), (3, 2, 1), (3, 3, 1), (5, 2, 2), (3, 2, 2)] {
            let win = Window::square(k, stride, pad);
            for w in [1, 2, 3, 4, 5, 6, 17] {
                for c in [1, 3, 4, 12, 15, 16, 17] {
                    seed += 1;
                    if win.output_size(5, w).is_err() {
                        continue;
                    }
                    let case = Case {
                        kind: Kind::Depthwise(win),
                        shape: [2, 5, w, c],
                        cout: c,
                        act: Activation::Identity,
                        residual: None,
                        seed,
                    };
                    check_exact(b, &case);
                    let what = format!(
                        "{} dense depthwise {win:?} {w} wide, {c} channels",
                        b.label()
                    );
                    let codes: Vec<i8> = bytes(seed ^ 7, c * k * k)
                        .into_iter()
                        .map(|v| (v as i8).max(-DEPTHWISE_WEIGHT_QMAX))
                        .collect();
                    check_dense_exact(b, &case, &codes, &what);
                }
            }
        }
    }
}

/// `case` (seeded inputs) with weight `codes` on dense input and output views, the kernels'
/// flat-row paths: f32 output, f32 with a dense residual added before and after the
/// activation, and u8 output, each against the reference bit for bit. `what` names the case.
pub(crate) fn check_dense_exact(b: &Backend, case: &Case, codes: &[i8], what: &str) {
    let [n, h, w, cin] = case.shape;
    let [_, oh, ow, cout] = case.out_shape();
    let x = bytes(case.seed, n * h * w * cin);
    let input = U8View::dense(&x, n, h, w, cin).unwrap();
    let packed = pack(case, codes, &vec![1.0; cout], None);
    let params = QuantParams::new(1.0, 201).unwrap();
    let acc = reference_acc(case, &input, params.zero_point, codes);
    let epilogue = Epilogue::act(Activation::Identity);
    let single = Threads::single();
    let mut out = vec![f32::NAN; n * oh * ow * cout];
    let mut view = TensorViewMut::dense(&mut out, n, oh, ow, cout).unwrap();
    let f32_out = I8Output::F32(&mut view);
    run(
        b, case, &packed, &input, params, &epilogue, f32_out, &single,
    );
    let want: Vec<f32> = acc.iter().map(|&a| a as f32).collect();
    assert_exact(what, &out, &want);

    // A dense residual (read in place as a flat row), integer-valued so that `acc + r` stays
    // exact in f32.
    let res: Vec<f32> = (0..out.len()).map(|i| (i % 29) as f32 - 14.0).collect();
    let res_view = ghost_kernels::TensorView::dense(&res, n, oh, ow, cout).unwrap();
    for order in [AddOrder::BeforeActivation, AddOrder::AfterActivation] {
        let e = Epilogue::with_residual(Activation::Identity, res_view, order);
        let mut view = TensorViewMut::dense(&mut out, n, oh, ow, cout).unwrap();
        let f32_out = I8Output::F32(&mut view);
        run(b, case, &packed, &input, params, &e, f32_out, &single);
        let want: Vec<f32> = want.iter().zip(&res).map(|(w, r)| w + r).collect();
        assert_exact(&format!("{what} dense residual {order:?}"), &out, &want);
    }

    let out_params = QuantParams::new(16.0, 128).unwrap();
    let mut out = vec![0u8; n * oh * ow * cout];
    let mut view = U8ViewMut::dense(&mut out, n, oh, ow, cout).unwrap();
    let u8_out = I8Output::U8(&mut view, out_params);
    run(b, case, &packed, &input, params, &epilogue, u8_out, &single);
    for (i, (&g, &a)) in out.iter().zip(&acc).enumerate() {
        let q = naive::requantize(a as f64, out_params);
        assert_eq!(g, q, "{what} u8: element {i} (sum {a})");
    }
}

/// One-panel outputs (`cout < 16`, the GEMM's narrow-output path) over several 64-pixel blocks
/// with a partial last one, pointwise and 3x3: strided views through [`check_exact`], dense
/// input and output (direct flat stores, f32 and u8) against the reference bit for bit.
#[test]
fn gemm_i8_narrow_outputs_are_exact() {
    let mut seed = 8000;
    for b in backends() {
        for kind in [Kind::Pointwise, Kind::Dense(Window::same(3, 1))] {
            for (cin, cout) in [(4, 2), (4, 6), (12, 3), (5, 10), (20, 15)] {
                seed += 1;
                let case = Case {
                    kind,
                    shape: [1, 9, 17, cin],
                    cout,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                };
                check_exact(b, &case);

                let what = format!("{} dense {kind:?} {cin} -> {cout}", b.label());
                let codes: Vec<i8> = bytes(seed ^ 7, cout * case.weights_per_out())
                    .into_iter()
                    .map(|v| (v as i8).clamp(-GEMM_WEIGHT_QMAX, GEMM_WEIGHT_QMAX))
                    .collect();
                check_dense_exact(b, &case, &codes, &what);
            }
        }
    }
}

/// The narrow pointwise kernel (`cout < 16`, AVX-512 VBMI where the CPU has it): input channel
/// counts 1..67 (partial 4-channel groups, windows of 2-16 pixels up to the 128-byte limit and
/// past it, where the tile takes over) x outputs 1..15 (tiling periods of 16-240 elements),
/// batch 2 of a non-square map (270 pixels: four full 64-pixel blocks and a partial one),
/// channel-slice input and output, four zero points, 1 and 2 threads ([`check_exact`]), and
/// dense views with f32 / u8 output ([`check_dense_exact`]), all against the reference bit for
/// bit.
#[test]
fn gemm_i8_narrow_pointwise_channel_sweep_is_exact() {
    let mut seed = 9000;
    for b in backends() {
        for cin in [1, 2, 3, 4, 5, 7, 8, 12, 13, 20, 24, 33, 40, 67] {
            for cout in [1, 2, 3, 4, 6, 10, 15] {
                seed += 1;
                let case = Case {
                    kind: Kind::Pointwise,
                    shape: [2, 5, 27, cin],
                    cout,
                    act: Activation::Identity,
                    residual: None,
                    seed,
                };
                check_exact(b, &case);
                let what = format!("{} dense narrow pointwise {cin} -> {cout}", b.label());
                let codes: Vec<i8> = bytes(seed ^ 7, cout * cin)
                    .into_iter()
                    .map(|v| (v as i8).clamp(-GEMM_WEIGHT_QMAX, GEMM_WEIGHT_QMAX))
                    .collect();
                check_dense_exact(b, &case, &codes, &what);
            }
        }
    }
}

#[test]
fn int8_epilogues_match_the_reference() {
    for b in backends() {
        for c in epilogue_cases() {
            check_epilogues(b, &c);
        }
    }
}

#[test]
fn quantize_and_dequantize_match_the_scalar_definition() {
    for b in backends() {
        for (shape, seed) in [([1, 1, 1, 1], 1), ([1, 3, 5, 17], 2), ([2, 9, 31, 37], 3)] {
            let [n, h, w, c] = shape;
            let mut x = values(seed, n * h * w * c);
            x.iter_mut().for_each(|v| *v *= 4.0);
            // Ties, saturation and non-finite values.
            let special = [0.5, 1.5, -0.5, 2.5, 1e9, -1e9, f32::NAN, f32::INFINITY, 0.0];
            for (v, s) in x.iter_mut().zip(special) {
                *v = s * 0.02;
            }
            if x.len() > special.len() {
                x[special.len()] = f32::NAN;
            }
            let params = QuantParams::new(0.02, 77).unwrap();
            let input = Strided::new(shape, 1, 2, &x);
            let what = format!("{} quantize {shape:?}", b.label());
            let got = run_threads_u8(&what, shape, |out, threads| {
                quantize_with_isa(b.isa(), &input.view(), params, out, threads).unwrap()
            });
            let want: Vec<u8> = x.iter().map(|&v| params.quantize(v)).collect();
            assert_eq!(got, want, "{what}");
            // Dense on both sides (one flat row per chunk).
            let mut dense = vec![0u8; x.len()];
            let dense_in = ghost_kernels::TensorView::dense(&x, n, h, w, c).unwrap();
            for threads in [Threads::single(), Threads::new(2).unwrap()] {
                let mut out = U8ViewMut::dense(&mut dense, n, h, w, c).unwrap();
                quantize_with_isa(b.isa(), &dense_in, params, &mut out, &threads).unwrap();
                assert_eq!(dense, want, "{what} dense");
            }
            // Against the f64 definition, for the finite values.
            for (&g, &v) in got.iter().zip(&x) {
                if v.is_finite() {
                    assert_eq!(g, naive::requantize(f64::from(v), params), "{what}: {v}");
                }
            }

            let codes = bytes(seed ^ 5, n * h * w * c);
            let qin = StridedU8::new(shape, &codes);
            let what = format!("{} dequantize {shape:?}", b.label());
            let got = run_threads(&what, shape, |out: &mut TensorViewMut<'_>, threads| {
                dequantize_with_isa(b.isa(), &qin.view(), params, out, threads).unwrap()
            });
            let want: Vec<f32> = codes.iter().map(|&q| params.dequantize(q)).collect();
            assert_exact(&what, &got, &want);
        }
    }
}

#[test]
fn bad_operands_are_typed_errors() {
    let data = vec![0u8; 2 * 3 * 4];
    let input = U8View::dense(&data, 1, 2, 3, 4).unwrap();
    let params = QuantParams::new(0.1, 3).unwrap();
    let p = PackedPointwiseI8::new(&values(1, 4 * 5), None, 4, 5).unwrap();
    let mut out = vec![0.0f32; 2 * 3 * 6];
    let mut view = TensorViewMut::dense(&mut out, 1, 2, 3, 6).unwrap();
    let err = ghost_kernels::quant::pointwise_i8(
        &input,
        params,
        &p,
        &Epilogue::default(),
        &mut view,
        &Threads::single(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("output"), "{err}");
    let bad = QuantParams {
        scale: f32::NAN,
        zero_point: 0,
    };
    let mut out = vec![0.0f32; 2 * 3 * 5];
    let mut view = TensorViewMut::dense(&mut out, 1, 2, 3, 5).unwrap();
    let err = ghost_kernels::quant::pointwise_i8(
        &input,
        bad,
        &p,
        &Epilogue::default(),
        &mut view,
        &Threads::single(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("scale"), "{err}");
    // Codes outside the kernel's range, wrong scale counts, too long a reduction.
    assert!(PackedPointwiseI8::from_quantized(&[65; 4], &[1.0], None, 4, 1).is_err());
    assert!(PackedPointwiseI8::from_quantized(&[1; 4], &[1.0, 1.0], None, 4, 1).is_err());
    assert!(PackedPointwiseI8::from_quantized(&[1; 4], &[0.0], None, 4, 1).is_err());
    assert!(PackedPointwiseI8::new(&vec![0.5; 40_000], None, 40_000, 1).is_err());
    assert!(PackedConvI8::new(&vec![0.5; 81], None, 1, 1, 9, 9).is_err());
    assert!(PackedDepthwiseI8::new(&[0.5; 9], Some(&[f32::NAN]), 1, 3, 3).is_err());
    // A window that does not match the packed kernel.
    let dw = PackedDepthwiseI8::new(&[0.5; 4 * 9], None, 4, 3, 3).unwrap();
    let mut out = vec![0.0f32; 2 * 3 * 4];
    let mut view = TensorViewMut::dense(&mut out, 1, 2, 3, 4).unwrap();
    let err = ghost_kernels::quant::depthwise_i8(
        &input,
        params,
        &dw,
        &Window::same(5, 1),
        &Epilogue::default(),
        &mut view,
        &Threads::single(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("window"), "{err}");
}
