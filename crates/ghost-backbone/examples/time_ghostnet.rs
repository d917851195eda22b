//! Rough wall-clock timing of a GhostNet forward (seeded weights), for quick checks while
//! developing; the criterion benches are the measurement of record.
//!
//! `cargo run --release -p ghost-backbone --example time_ghostnet -- [width] [size] [threads] [iters]`

use std::time::Instant;

use ghost_backbone::{GhostNet, GhostNetConfig};
use ghost_kernels::Threads;
use ghost_layers::{Context, SeededWeights, Tensor};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: &str| args.get(i).cloned().unwrap_or_else(|| default.to_string());
    let width: f64 = arg(0, "1.0").parse()?;
    let size: usize = arg(1, "224").parse()?;
    let threads: usize = arg(2, "1").parse()?;
    let iters: usize = arg(3, "50").parse()?;
    let net = GhostNet::load(
        &SeededWeights::new(1),
        GhostNetConfig::timm(width).with_num_classes(1000),
    )?;
    let cost = net.cost_table([1, size, size, 3])?.total();
    let x = Tensor::zeros([1, size, size, 3]);
    let mut ctx = Context::new(Threads::new(threads)?);
    for _ in 0..3 {
        net.forward(&mut ctx, &x.view())?;
    }
    let mut times = Vec::with_capacity(iters);
    for _ in 0..iters {
        let t = Instant::now();
        net.forward(&mut ctx, &x.view())?;
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let median = times[iters / 2];
    println!(
        "ghostnet width {width} {size}x{size} threads {threads}: median {median:.3} ms, min {:.3} ms, {:.1} GFLOP/s (fused FLOPs {:.1} M)",
        times[0],
        cost.flops_fused as f64 / median / 1e6,
        cost.flops_fused as f64 / 1e6
    );
    Ok(())
}
