//! The INT8 GEMM (pointwise and dense convolutions) per layer shape, in CPU time of the calling
//! thread (one kernel thread), three variants interleaved round by round on the same operands:
//! the AVX2 back end (`vpmaddubsw` 4 x 16 tile), the AVX-512 VNNI back end through the shared
//! 4 x 16 ymm driver and tile (`vnni-4x16`, the design before session 14, kept reachable by
//! `quant::USE_SHARED_DRIVER`) and the VNNI back end's own 8 x 32 zmm driver (`vnni-8x32`).
//! First checks that the three outputs are bitwise equal, then prints every round (as INT8
//! GOPS, 2 ops per multiply-add) and the median per shape with its % of the measured
//! `vpdpbusd` peak (a register-only loop of 16 independent chains, zmm and ymm, printed first).
//!
//! Shapes: yolo11n-ghost's INT8 GEMM layers at 640 (`n_*`: the Detect box 3x3 convs, the
//! stride-2 head convs, the C3k2 1x1 convs, the class branch 64 -> 64 and its COCO form
//! 64 -> 80, the split conv's K = 12 half with its upsampled partial sum as residual), and a
//! few of yolo11m-ghost's (`m_*`).
//!
//! ```sh
//! cargo bench -p ghost-benches --bench int8_gemm_cpu -- [ROUNDS] [SHAPE ...]
//! ```
//! (skips, with a line, on CPUs without AVX-512 VNNI.)

fn main() {
    #[cfg(target_arch = "x86_64")]
    x86::main();
    #[cfg(not(target_arch = "x86_64"))]
    println!("int8_gemm_cpu: AVX-512 VNNI only (x86-64), skipped");
}

/// The bench proper (the VNNI switch and peak loop exist on x86-64 only).
#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::sync::atomic::Ordering;

    use ghost_benches::{cpu_ms_per_call, median, rounds_and_shapes, values};
    use ghost_kernels::quant::vnni_peak::vnni_peak_macs;
    use ghost_kernels::quant::{
        conv2d_i8_with_isa, pointwise_i8_with_isa, I8Output, PackedConvI8, PackedPointwiseI8,
        QuantParams, U8View, U8ViewMut, USE_SHARED_DRIVER,
    };
    use ghost_kernels::{
        Activation, AddOrder, Epilogue, Isa, TensorView, TensorViewMut, Threads, Window,
    };

    /// One INT8 GEMM layer.
    #[derive(Clone, Copy)]
    struct Shape {
        name: &'static str,
        /// Input height = width.
        hw: usize,
        cin: usize,
        cout: usize,
        /// 1 (pointwise) or 3.
        k: usize,
        stride: usize,
        /// A residual added before the activation (the split conv's upsampled partial sum).
        residual: bool,
        /// Requantized u8 output (the next layer is INT8) instead of f32.
        u8_out: bool,
        /// SiLU, or the identity (the GEMM without the activation's cost).
        act: Activation,
    }

    const fn s(
        name: &'static str,
        hw: usize,
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
    ) -> Shape {
        Shape {
            name,
            hw,
            cin,
            cout,
            k,
            stride,
            residual: false,
            u8_out: false,
            act: Activation::Silu,
        }
    }

    const SHAPES: &[Shape] = &[
        s("n_19_cv2_0_0_3x3_80_64x64", 80, 64, 64, 3, 1),
        s("n_19_cv2_1_0_3x3_40_128x64", 40, 128, 64, 3, 1),
        s("n_13_3x3s2_80_64x64", 80, 64, 64, 3, 2),
        s("n_16_3x3s2_40_128x128", 40, 128, 128, 3, 2),
        s("n_12_cv2_1x1_80_96x64", 80, 96, 64, 1, 1),
        s("n_19_cv3_0_0_1_1x1_80_64x64", 80, 64, 64, 1, 1),
        Shape {
            act: Activation::Identity,
            ..s("n_19_cv3_0_0_1_1x1_80_64x64_identity", 80, 64, 64, 1, 1)
        },
        s("n_coco_cls_1x1_80_64x80", 80, 64, 80, 1, 1),
        Shape {
            residual: true,
            ..s("n_12_cv1_split_1x1_80_12x64_res", 80, 12, 64, 1, 1)
        },
        Shape {
            u8_out: true,
            ..s("n_15_cv1_1x1_40_192x128_u8", 40, 192, 128, 1, 1)
        },
        s("n_6_qkv_1x1_20_128x256", 20, 128, 256, 1, 1),
        s("m_19_cv2_0_0_3x3_80_256x64", 80, 256, 64, 3, 1),
        s("m_3x3s2_80_256x256", 80, 256, 256, 3, 2),
        s("m_c3k_3x3_40_128x128", 40, 128, 128, 3, 1),
        s("m_1x1_80_384x256", 80, 384, 256, 1, 1),
        s("m_1x1_40_768x512", 40, 768, 512, 1, 1),
    ];

    /// The variants, in the order timed each round.
    const VARIANTS: [(&str, Isa, bool); 3] = [
        ("avx2", Isa::Avx2Fma, false),
        ("vnni-4x16", Isa::Avx512Vnni, true),
        ("vnni-8x32", Isa::Avx512Vnni, false),
    ];

    pub fn main() {
        let args: Vec<String> = std::env::args().collect();
        let is_shape = |a: &str| SHAPES.iter().any(|s| s.name == a);
        let defaults: Vec<&str> = SHAPES.iter().map(|s| s.name).collect();
        let (rounds, names) = rounds_and_shapes(&args, 5, is_shape, &defaults);
        if !Isa::Avx512Vnni.is_supported() {
            println!("int8_gemm_cpu: this CPU has no AVX-512 VNNI, skipped");
            return;
        }
        let peak = peak_gops();
        for name in names {
            let shape = SHAPES.iter().find(|s| s.name == name).expect("known shape");
            run_shape(shape, rounds, peak);
        }
        USE_SHARED_DRIVER.store(false, Ordering::Relaxed);
    }

    /// The measured `vpdpbusd` peak in INT8 GOPS (zmm and ymm, 5 rounds each, the best of the
    /// medians); prints both.
    fn peak_gops() -> f64 {
        let iters = 20_000_000;
        let mut best: f64 = 0.0;
        for (wide, label) in [(true, "zmm"), (false, "ymm")] {
            let g: Vec<f64> = (0..5)
                .map(|_| {
                    let mut macs = 0;
                    let ms =
                        cpu_ms_per_call(1, || macs = vnni_peak_macs(iters, wide).expect("vnni"));
                    2.0 * macs as f64 / ms / 1e6
                })
                .collect();
            let m = median(&g);
            best = best.max(m);
            let list: Vec<String> = g.iter().map(|v| format!("{v:.0}")).collect();
            println!("vpdpbusd peak {label}: {m:.0} GOPS [{}]", list.join(" "));
        }
        best
    }

    fn run_shape(sh: &Shape, rounds: usize, peak: f64) {
        let threads = Threads::single();
        let win = if sh.k == 1 {
            Window::square(1, 1, 0)
        } else {
            Window::same(sh.k, sh.stride)
        };
        let (oh, ow) = win.output_size(sh.hw, sh.hw).expect("window");
        let x: Vec<u8> = values(1, sh.hw * sh.hw * sh.cin)
            .iter()
            .map(|v| ((v + 1.0) * 127.9) as u8)
            .collect();
        let real = values(2, sh.cout * sh.cin * sh.k * sh.k);
        let bias = values(3, sh.cout);
        let res = values(4, oh * ow * sh.cout);
        let input = U8View::dense(&x, 1, sh.hw, sh.hw, sh.cin).expect("input");
        let params = QuantParams::from_range(-0.3, 4.0).expect("params");
        let out_params = QuantParams::from_range(-0.3, 5.0).expect("params");
        let res_view = TensorView::dense(&res, 1, oh, ow, sh.cout).expect("residual");
        let epilogue = if sh.residual {
            Epilogue::with_residual(sh.act, res_view, AddOrder::BeforeActivation)
        } else {
            Epilogue::act(sh.act)
        };
        let pw = (sh.k == 1)
            .then(|| PackedPointwiseI8::new(&real, Some(&bias), sh.cin, sh.cout).expect("pack"));
        let dense = (sh.k != 1).then(|| {
            PackedConvI8::new(&real, Some(&bias), sh.cin, sh.cout, sh.k, sh.k).expect("pack")
        });
        let len = oh * ow * sh.cout;
        let mut out_f32 = vec![0.0f32; len];
        let mut out_u8 = vec![0u8; len];
        // One call; with `snapshot`, returns the output's bits.
        let mut call = |isa: Isa, shared: bool, snapshot: bool| -> Option<Vec<u32>> {
            USE_SHARED_DRIVER.store(shared, Ordering::Relaxed);
            let mut f = TensorViewMut::dense(&mut out_f32, 1, oh, ow, sh.cout).expect("out");
            let mut q = U8ViewMut::dense(&mut out_u8, 1, oh, ow, sh.cout).expect("out");
            let output = if sh.u8_out {
                I8Output::U8(&mut q, out_params)
            } else {
                I8Output::F32(&mut f)
            };
            match (&pw, &dense) {
                (Some(p), _) => {
                    pointwise_i8_with_isa(isa, &input, params, p, &epilogue, output, &threads)
                }
                (_, Some(d)) => {
                    conv2d_i8_with_isa(isa, &input, params, d, &win, &epilogue, output, &threads)
                }
                _ => unreachable!("one of the two is packed"),
            }
            .expect("run");
            snapshot.then(|| {
                if sh.u8_out {
                    out_u8.iter().map(|&v| u32::from(v)).collect()
                } else {
                    out_f32.iter().map(|v| v.to_bits()).collect()
                }
            })
        };
        let outs = VARIANTS.map(|(_, isa, shared)| call(isa, shared, true).expect("snapshot"));
        assert!(
            outs[0] == outs[1] && outs[1] == outs[2],
            "{}: the variants' outputs differ",
            sh.name
        );
        let ops = 2.0 * (oh * ow * sh.cin * sh.cout * sh.k * sh.k) as f64;
        let reps = ((2e8 / ops) as usize).clamp(2, 20_000);
        let mut ms = [vec![], vec![], vec![]];
        for _ in 0..rounds {
            for ((_, isa, shared), times) in VARIANTS.iter().zip(&mut ms) {
                call(*isa, *shared, false);
                times.push(cpu_ms_per_call(reps, || {
                    call(*isa, *shared, false);
                }));
            }
        }
        let cells: Vec<String> = VARIANTS
            .iter()
            .zip(&ms)
            .map(|((label, _, _), t)| {
                let g = ops / median(t) / 1e6;
                let list: Vec<String> = t.iter().map(|v| format!("{:.0}", ops / v / 1e6)).collect();
                format!(
                    "{label} {g:.0} GOPS ({:.0}%) [{}]",
                    100.0 * g / peak,
                    list.join(" ")
                )
            })
            .collect();
        println!(
            "{}: {} | old/new time {:.2}",
            sh.name,
            cells.join(" | "),
            median(&ms[1]) / median(&ms[2])
        );
    }
}
