//! Portable vector math over `wide::f32x8` (SSE2 pairs on baseline x86-64, NEON on aarch64).

use wide::f32x8;

use crate::act::Activation;

/// `exp(x)` (wide's implementation, ~1 ulp).
#[inline(always)]
pub fn exp(x: f32x8) -> f32x8 {
    x.exp()
}

/// `1 / (1 + exp(-x))`.
#[inline(always)]
pub fn sigmoid(x: f32x8) -> f32x8 {
    f32x8::ONE / (f32x8::ONE + exp(-x))
}

/// `x / (1 + exp(-x))`.
#[inline(always)]
pub fn silu(x: f32x8) -> f32x8 {
    x / (f32x8::ONE + exp(-x))
}

/// `relu6(x + 3) / 6`, same operation order as [`Activation::apply`].
#[inline(always)]
pub fn hard_sigmoid(x: f32x8) -> f32x8 {
    (x + f32x8::splat(3.0))
        .max(f32x8::ZERO)
        .min(f32x8::splat(6.0))
        * f32x8::splat(1.0 / 6.0)
}

/// `max(x, 0)`.
#[inline(always)]
pub fn relu(x: f32x8) -> f32x8 {
    x.max(f32x8::ZERO)
}

/// Applies `act` to 8 lanes.
#[inline(always)]
pub fn activate(act: Activation, x: f32x8) -> f32x8 {
    match act {
        Activation::Identity => x,
        Activation::Relu => relu(x),
        Activation::Silu => silu(x),
        Activation::HardSigmoid => hard_sigmoid(x),
        Activation::Sigmoid => sigmoid(x),
    }
}

/// Applies `act` to every element of `data` (tails through a padded temporary).
#[cfg(test)]
pub fn activate_slice(act: Activation, data: &mut [f32]) {
    let mut chunks = data.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = f32x8::from(<[f32; 8]>::try_from(&*chunk).expect("chunk of 8"));
        chunk.copy_from_slice(&activate(act, v).to_array());
    }
    let tail = chunks.into_remainder();
    if !tail.is_empty() {
        let mut buf = [0.0f32; 8];
        buf[..tail.len()].copy_from_slice(tail);
        let out = activate(act, f32x8::from(buf)).to_array();
        tail.copy_from_slice(&out[..tail.len()]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vector_activations_match_f64() {
        let mut xs: Vec<f32> = (-2000..=2000).map(|i| i as f32 * 0.01).collect();
        xs.extend([-100.0, -88.0, -87.0, 87.0, 88.0, 100.0, 0.0, 1e-8]);
        for act in Activation::ALL {
            let mut ys = xs.clone();
            activate_slice(act, &mut ys);
            for (&x, &y) in xs.iter().zip(&ys) {
                let r = act.apply_f64(x as f64);
                let err = (y as f64 - r).abs();
                let bound = crate::tolerance::ACT_REL * r.abs() + 1e-30;
                assert!(
                    err <= bound,
                    "{act:?}({x}) = {y}, expected {r} (err {err:e} > {bound:e})"
                );
            }
        }
    }
}
