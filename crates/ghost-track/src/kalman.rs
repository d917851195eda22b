//! The constant-velocity Kalman filter on (centre x, centre y, aspect ratio w/h, height), as
//! Ultralytics' `KalmanFilterXYAH` (from DeepSORT), in f64 as NumPy computes it there.
//!
//! State: `[cx, cy, a, h, vx, vy, va, vh]`. Process and measurement noise scale with the height
//! (`1/20` of it for positions, `1/160` for velocities); the aspect ratio gets fixed small noise.
//!
//! Precision: Ultralytics' filter runs in f64 (the measurement is cast to float64 in `initiate`; the
//! model matrices are float64). `predict` only adds pairs of entries (the motion matrix is 0/1), so
//! it equals NumPy's bit for bit whatever the summation order. `update` solves a 4x4 system (LAPACK's
//! `gesv` there, the same LU with partial pivoting here) and sums short dot products, whose
//! rounding order differs between BLAS builds: expect ~1e-15 relative differences, far below the
//! f32 the boxes are reported in.

// Small fixed-size matrix code reads as the formulas with explicit indices.
#![allow(clippy::needless_range_loop)]

/// Weight of the position noise relative to the height (Ultralytics' `_std_weight_position`).
const STD_WEIGHT_POSITION: f64 = 1.0 / 20.0;
/// Weight of the velocity noise relative to the height (`_std_weight_velocity`).
const STD_WEIGHT_VELOCITY: f64 = 1.0 / 160.0;

/// A track's Gaussian state.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KalmanState {
    pub mean: [f64; 8],
    pub covariance: [[f64; 8]; 8],
}

fn square(x: f64) -> f64 {
    x * x
}

impl KalmanState {
    /// A new track at `measurement` = (cx, cy, a, h), with zero velocity.
    pub fn initiate(measurement: [f64; 4]) -> Self {
        let h = measurement[3];
        // Written as Python evaluates `2 * self._std_weight_position * measurement[3]` (left to right).
        let std = [
            2.0 * STD_WEIGHT_POSITION * h,
            2.0 * STD_WEIGHT_POSITION * h,
            1e-2,
            2.0 * STD_WEIGHT_POSITION * h,
            10.0 * STD_WEIGHT_VELOCITY * h,
            10.0 * STD_WEIGHT_VELOCITY * h,
            1e-5,
            10.0 * STD_WEIGHT_VELOCITY * h,
        ];
        let mut mean = [0.0; 8];
        mean[..4].copy_from_slice(&measurement);
        let mut covariance = [[0.0; 8]; 8];
        for (i, s) in std.iter().enumerate() {
            covariance[i][i] = square(*s);
        }
        Self { mean, covariance }
    }

    /// One step of constant-velocity motion (`multi_predict`): `mean = F mean`,
    /// `P = (F P) F^T + Q`, with F the identity plus ones coupling each quantity to its velocity.
    pub fn predict(&mut self) {
        let h = self.mean[3];
        let std = [
            STD_WEIGHT_POSITION * h,
            STD_WEIGHT_POSITION * h,
            1e-2,
            STD_WEIGHT_POSITION * h,
            STD_WEIGHT_VELOCITY * h,
            STD_WEIGHT_VELOCITY * h,
            1e-5,
            STD_WEIGHT_VELOCITY * h,
        ];
        for i in 0..4 {
            self.mean[i] += self.mean[i + 4];
        }
        // left = F P: rows 0..4 gain the velocity rows below them.
        let mut left = self.covariance;
        for i in 0..4 {
            for j in 0..8 {
                left[i][j] = self.covariance[i][j] + self.covariance[i + 4][j];
            }
        }
        // P' = left F^T: columns 0..4 gain the velocity columns to their right; then + Q.
        let mut p = left;
        for row in p.iter_mut() {
            for j in 0..4 {
                row[j] += row[j + 4];
            }
        }
        for (i, s) in std.iter().enumerate() {
            p[i][i] += square(*s);
        }
        self.covariance = p;
    }

    /// Corrects the state with `measurement` = (cx, cy, a, h).
    pub fn update(&mut self, measurement: [f64; 4]) {
        let h = self.mean[3];
        let std = [
            STD_WEIGHT_POSITION * h,
            STD_WEIGHT_POSITION * h,
            1e-1,
            STD_WEIGHT_POSITION * h,
        ];
        // Projected covariance S = H P H^T + R (H picks the first four state entries).
        let mut s = [[0.0f64; 4]; 4];
        for i in 0..4 {
            for j in 0..4 {
                s[i][j] = self.covariance[i][j];
            }
            s[i][i] += square(std[i]);
        }
        // Kalman gain K (8x4) from S K^T = (P H^T)^T, i.e. S X = B with B[r][c] = P[c][r].
        let mut b = [[0.0f64; 8]; 4];
        for (r, row) in b.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = self.covariance[c][r];
            }
        }
        let x = solve_4x4(s, b);
        let mut gain = [[0.0f64; 4]; 8];
        for (r, row) in gain.iter_mut().enumerate() {
            for (c, v) in row.iter_mut().enumerate() {
                *v = x[c][r];
            }
        }
        let innovation: [f64; 4] = std::array::from_fn(|i| measurement[i] - self.mean[i]);
        for (r, m) in self.mean.iter_mut().enumerate() {
            let mut acc = 0.0;
            for c in 0..4 {
                acc += innovation[c] * gain[r][c];
            }
            *m += acc;
        }
        // P' = P - K S K^T.
        let mut ks = [[0.0f64; 4]; 8];
        for r in 0..8 {
            for c in 0..4 {
                let mut acc = 0.0;
                for k in 0..4 {
                    acc += gain[r][k] * s[k][c];
                }
                ks[r][c] = acc;
            }
        }
        for r in 0..8 {
            for c in 0..8 {
                let mut acc = 0.0;
                for k in 0..4 {
                    acc += ks[r][k] * gain[c][k];
                }
                self.covariance[r][c] -= acc;
            }
        }
    }
}

/// Solves `a x = b` for 4x4 `a` and 8 right-hand sides by LU with partial pivoting (LAPACK `gesv`'s
/// method). `a` is a positive definite covariance here, so pivots are never zero for finite input.
fn solve_4x4(mut a: [[f64; 4]; 4], mut b: [[f64; 8]; 4]) -> [[f64; 8]; 4] {
    for k in 0..4 {
        let pivot = (k..4)
            .max_by(|&p, &q| a[p][k].abs().total_cmp(&a[q][k].abs()))
            .unwrap_or(k);
        a.swap(k, pivot);
        b.swap(k, pivot);
        for i in k + 1..4 {
            let factor = a[i][k] / a[k][k];
            for j in k..4 {
                a[i][j] -= factor * a[k][j];
            }
            for j in 0..8 {
                b[i][j] -= factor * b[k][j];
            }
        }
    }
    let mut x = [[0.0f64; 8]; 4];
    for i in (0..4).rev() {
        for j in 0..8 {
            let mut acc = b[i][j];
            for k in i + 1..4 {
                acc -= a[i][k] * x[k][j];
            }
            x[i][j] = acc / a[i][i];
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solve_recovers_a_known_solution() {
        let a = [
            [4.0, 1.0, 0.5, 0.0],
            [1.0, 3.0, 0.0, 0.2],
            [0.5, 0.0, 2.0, 0.1],
            [0.0, 0.2, 0.1, 1.0],
        ];
        let x_true: [[f64; 8]; 4] =
            std::array::from_fn(|i| std::array::from_fn(|j| (i * 8 + j) as f64 - 7.5));
        let mut b = [[0.0; 8]; 4];
        for i in 0..4 {
            for j in 0..8 {
                b[i][j] = (0..4).map(|k| a[i][k] * x_true[k][j]).sum();
            }
        }
        let x = solve_4x4(a, b);
        for i in 0..4 {
            for j in 0..8 {
                assert!(
                    (x[i][j] - x_true[i][j]).abs() < 1e-12,
                    "{i},{j}: {} vs {}",
                    x[i][j],
                    x_true[i][j]
                );
            }
        }
    }

    #[test]
    fn a_static_object_stays_put_and_its_uncertainty_shrinks() {
        let z = [100.0, 50.0, 0.5, 40.0];
        let mut k = KalmanState::initiate(z);
        let p0 = k.covariance[0][0];
        for _ in 0..10 {
            k.predict();
            k.update(z);
        }
        for i in 0..4 {
            assert!((k.mean[i] - z[i]).abs() < 1e-9, "mean[{i}] = {}", k.mean[i]);
        }
        assert!(k.covariance[0][0] < p0);
    }

    #[test]
    fn constant_velocity_is_learned() {
        let mut k = KalmanState::initiate([0.0, 0.0, 1.0, 20.0]);
        for t in 1..60 {
            k.predict();
            k.update([3.0 * t as f64, -2.0 * t as f64, 1.0, 20.0]);
        }
        assert!((k.mean[4] - 3.0).abs() < 1e-3, "vx = {}", k.mean[4]);
        assert!((k.mean[5] + 2.0).abs() < 1e-3, "vy = {}", k.mean[5]);
    }
}
