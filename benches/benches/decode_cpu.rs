//! Detect's decode of yolo11n/m at 640x640 (levels 80x80, 40x40, 20x20; 16 DFL bins, 80
//! classes) in CPU time of the calling thread (one kernel thread): `ghost_kernels::detect_decode`
//! (one pass per level) against the session-12 sequence it replaced in
//! `yolo11-ghost/src/blocks/detect.rs` (the `dfl` kernel into a distance tensor, the scalar
//! dist2bbox loop, the blocked class-logit transpose, then the sigmoid over all class rows),
//! re-created here as the baseline. Rounds alternate the two; prints every round and the median.
//!
//! ```sh
//! cargo bench -p ghost-benches --bench decode_cpu -- [ROUNDS]
//! ```

use ghost_benches::{cpu_ms_per_call, median, values};
use ghost_kernels::detect_decode::{detect_decode, DecodeTarget};
use ghost_kernels::dfl::dfl;
use ghost_kernels::elementwise::activate_inplace;
use ghost_kernels::{Activation, TensorView, TensorViewMut, Threads};

const BINS: usize = 16;
const NC: usize = 80;
const LEVELS: [(usize, f32); 3] = [(80, 8.0), (40, 16.0), (20, 32.0)];

/// The session-12 decode of one level (see the module docs).
fn baseline(logits: &[f32], side: usize, stride: f32, offset: usize, out: &mut [f32], t: &Threads) {
    let (pixels, c, anchors) = (side * side, 4 * BINS + NC, out.len() / (4 + NC));
    let input = TensorView::dense(logits, 1, side, side, c).unwrap();
    let mut dist = vec![0.0f32; pixels * 4];
    dfl(
        &input.channels(0, 4 * BINS).unwrap(),
        BINS,
        &mut TensorViewMut::dense(&mut dist, 1, side, side, 4).unwrap(),
        t,
    )
    .unwrap();
    for p in 0..pixels {
        let d = &dist[p * 4..p * 4 + 4];
        let (ax, ay) = ((p % side) as f32 + 0.5, (p / side) as f32 + 0.5);
        let (x1, y1, x2, y2) = (ax - d[0], ay - d[1], ax + d[2], ay + d[3]);
        let a = offset + p;
        out[a] = (x1 + x2) / 2.0 * stride;
        out[anchors + a] = (y1 + y2) / 2.0 * stride;
        out[2 * anchors + a] = (x2 - x1) * stride;
        out[3 * anchors + a] = (y2 - y1) * stride;
    }
    for start in (0..pixels).step_by(64) {
        let end = (start + 64).min(pixels);
        for k in 0..NC {
            let row = &mut out[(4 + k) * anchors..(5 + k) * anchors];
            for p in start..end {
                row[offset + p] = logits[p * c + 4 * BINS + k];
            }
        }
    }
}

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(7);
    let t = Threads::single();
    let c = 4 * BINS + NC;
    let inputs: Vec<Vec<f32>> = LEVELS
        .iter()
        .enumerate()
        .map(|(i, &(s, _))| {
            values(i as u64 + 1, s * s * c)
                .iter()
                .map(|v| v * 8.0)
                .collect()
        })
        .collect();
    let anchors: usize = LEVELS.iter().map(|(s, _)| s * s).sum();
    let mut out = vec![0.0f32; (4 + NC) * anchors];
    let mut run = |new: bool| {
        let mut offset = 0;
        for (x, &(s, stride)) in inputs.iter().zip(&LEVELS) {
            if new {
                let input = TensorView::dense(x, 1, s, s, c).unwrap();
                let mut target = DecodeTarget {
                    data: &mut out,
                    anchors,
                    offset,
                };
                detect_decode(&input, BINS, NC, stride, &mut target, &t).unwrap();
            } else {
                baseline(x, s, stride, offset, &mut out, &t);
            }
            offset += s * s;
        }
        if !new {
            let scores = &mut out[4 * anchors..];
            let len = scores.len();
            let mut v = TensorViewMut::dense(scores, 1, 1, len / 256, 256).unwrap();
            activate_inplace(&mut v, Activation::Sigmoid, &t).unwrap();
        }
    };
    let reps = 20;
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        for which in if round % 2 == 0 {
            [false, true]
        } else {
            [true, false]
        } {
            run(which);
            let ms = cpu_ms_per_call(reps, || run(which));
            if which {
                new.push(ms)
            } else {
                old.push(ms)
            }
        }
    }
    let fmt = |v: &[f64]| {
        v.iter()
            .map(|t| format!("{t:.3}"))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("session-12 decode: {:.3} ms [{}]", median(&old), fmt(&old));
    println!("detect_decode:     {:.3} ms [{}]", median(&new), fmt(&new));
}
