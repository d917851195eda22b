//! Detection metrics exactly as Ultralytics 8.4's `DetectionValidator` computes them:
//! greedy matching per IoU threshold (`BaseValidator.match_predictions`), then per-class average
//! precision with COCO's 101-point interpolation and precision / recall at the confidence that
//! maximises the (smoothed) mean F1 (`ultralytics.utils.metrics.ap_per_class`).
//!
//! Arithmetic follows the reference's dtypes: IoUs and thresholds in f32 (PyTorch tensors), the
//! curves in f64 (NumPy).

/// Number of IoU thresholds (0.50, 0.55, ..., 0.95).
pub const IOU_THRESHOLDS: usize = 10;

/// `torch.linspace(0.5, 0.95, 10)` in f32, as PyTorch computes it (start + i * step, with the
/// second half computed from the end so the last value is exactly 0.95).
pub fn iou_thresholds() -> [f32; IOU_THRESHOLDS] {
    let (start, end) = (0.5f32, 0.95f32);
    let step = (end - start) / (IOU_THRESHOLDS - 1) as f32;
    let half = IOU_THRESHOLDS / 2;
    std::array::from_fn(|i| {
        if i < half {
            start + step * i as f32
        } else {
            end - step * (IOU_THRESHOLDS - 1 - i) as f32
        }
    })
}

/// Ultralytics `box_iou` for one pair of `xyxy` boxes, in f32 with its `eps = 1e-7`.
pub fn box_iou_eps(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let area_a = (a[2] - a[0]) * (a[3] - a[1]);
    let area_b = (b[2] - b[0]) * (b[3] - b[1]);
    inter / (area_a + area_b - inter + 1e-7)
}

/// Which predictions of one image are correct at each IoU threshold. `preds` are `(box, class)`
/// in descending-confidence order; `targets` `(box, class)`. Each target is claimed by at most
/// one prediction per threshold: the first (most confident) prediction whose best unclaimed
/// same-class target reaches the threshold.
pub fn match_predictions(
    preds: &[([f32; 4], usize)],
    targets: &[([f32; 4], usize)],
    thresholds: &[f32; IOU_THRESHOLDS],
) -> Vec<[bool; IOU_THRESHOLDS]> {
    let mut correct = vec![[false; IOU_THRESHOLDS]; preds.len()];
    if preds.is_empty() || targets.is_empty() {
        return correct;
    }
    let min_threshold = thresholds.iter().copied().fold(f32::INFINITY, f32::min);
    let mut matched = vec![[false; IOU_THRESHOLDS]; targets.len()];
    let mut iou = vec![0f32; targets.len()];
    for (j, (pbox, pcls)) in preds.iter().enumerate() {
        for (v, (tbox, tcls)) in iou.iter_mut().zip(targets) {
            *v = if tcls == pcls {
                box_iou_eps(tbox, pbox)
            } else {
                0.0
            };
        }
        if !iou.iter().any(|&v| v >= min_threshold) {
            continue;
        }
        for (t, &threshold) in thresholds.iter().enumerate() {
            // argmax over targets of the IoU with unclaimed targets (claimed count as 0); the
            // first index wins ties, as NumPy's argmax.
            let mut best = (0usize, f32::NEG_INFINITY);
            for (k, &v) in iou.iter().enumerate() {
                let v = if matched[k][t] { 0.0 } else { v };
                if v > best.1 {
                    best = (k, v);
                }
            }
            let hit = best.1 >= threshold;
            correct[j][t] = hit;
            matched[best.0][t] |= hit;
        }
    }
    correct
}

/// Per-class results of [`ap_per_class`], classes in increasing id order (those with targets).
#[derive(Debug, Clone, PartialEq)]
pub struct ClassMetrics {
    /// Class ids with at least one target, ascending.
    pub classes: Vec<usize>,
    /// Targets per class.
    pub targets: Vec<usize>,
    /// Precision at the max-F1 confidence.
    pub precision: Vec<f64>,
    /// Recall at the max-F1 confidence.
    pub recall: Vec<f64>,
    /// AP at each IoU threshold.
    pub ap: Vec<[f64; IOU_THRESHOLDS]>,
}

impl ClassMetrics {
    /// Mean precision over classes (Ultralytics `mp`).
    pub fn mean_precision(&self) -> f64 {
        mean(self.precision.iter().copied())
    }

    /// Mean recall over classes (`mr`).
    pub fn mean_recall(&self) -> f64 {
        mean(self.recall.iter().copied())
    }

    /// Mean AP at IoU 0.5 (`map50`).
    pub fn map50(&self) -> f64 {
        mean(self.ap.iter().map(|a| a[0]))
    }

    /// Mean AP over IoU 0.5:0.95 (`map`).
    pub fn map50_95(&self) -> f64 {
        mean(
            self.ap
                .iter()
                .map(|a| a.iter().sum::<f64>() / IOU_THRESHOLDS as f64),
        )
    }

    /// AP at IoU 0.5 of class row `i`.
    pub fn ap50(&self, i: usize) -> f64 {
        self.ap[i][0]
    }

    /// AP over IoU 0.5:0.95 of class row `i`.
    pub fn ap50_95(&self, i: usize) -> f64 {
        self.ap[i].iter().sum::<f64>() / IOU_THRESHOLDS as f64
    }
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = values.fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    if n == 0 {
        0.0
    } else {
        sum / n as f64
    }
}

/// One prediction as the AP computation sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoredPrediction {
    /// Correct at each IoU threshold.
    pub tp: [bool; IOU_THRESHOLDS],
    /// Confidence.
    pub conf: f32,
    /// Predicted class.
    pub class: usize,
}

/// Ultralytics `ap_per_class` over every prediction and target class of a dataset.
pub fn ap_per_class(predictions: &[ScoredPrediction], target_classes: &[usize]) -> ClassMetrics {
    const EPS: f64 = 1e-16;
    const POINTS: usize = 1000;
    let mut order: Vec<usize> = (0..predictions.len()).collect();
    // np.argsort(-conf): descending confidence; ties keep their input order (NumPy's default
    // sort is not guaranteed stable; stable is the reproducible choice).
    order.sort_by(|&a, &b| predictions[b].conf.total_cmp(&predictions[a].conf));

    let mut classes: Vec<usize> = target_classes.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let targets: Vec<usize> = classes
        .iter()
        .map(|c| target_classes.iter().filter(|&&t| t == *c).count())
        .collect();
    let x: Vec<f64> = (0..POINTS)
        .map(|i| i as f64 / (POINTS - 1) as f64)
        .collect();
    let neg_x: Vec<f64> = x.iter().map(|v| -v).collect();

    let mut ap = vec![[0.0; IOU_THRESHOLDS]; classes.len()];
    let mut p_curve = vec![vec![0.0; POINTS]; classes.len()];
    let mut r_curve = vec![vec![0.0; POINTS]; classes.len()];
    for (ci, &c) in classes.iter().enumerate() {
        let mine: Vec<&ScoredPrediction> = order
            .iter()
            .map(|&i| &predictions[i])
            .filter(|p| p.class == c)
            .collect();
        let n_l = targets[ci] as f64;
        if mine.is_empty() {
            continue;
        }
        let neg_conf: Vec<f64> = mine.iter().map(|p| -(p.conf as f64)).collect();
        let mut recall = vec![[0.0; IOU_THRESHOLDS]; mine.len()];
        let mut precision = vec![[0.0; IOU_THRESHOLDS]; mine.len()];
        let mut tpc = [0.0f64; IOU_THRESHOLDS];
        let mut fpc = [0.0f64; IOU_THRESHOLDS];
        for (k, p) in mine.iter().enumerate() {
            for t in 0..IOU_THRESHOLDS {
                if p.tp[t] {
                    tpc[t] += 1.0;
                } else {
                    fpc[t] += 1.0;
                }
                recall[k][t] = tpc[t] / (n_l + EPS);
                precision[k][t] = tpc[t] / (tpc[t] + fpc[t]);
            }
        }
        let r0: Vec<f64> = recall.iter().map(|r| r[0]).collect();
        let p0: Vec<f64> = precision.iter().map(|p| p[0]).collect();
        for (i, &xv) in neg_x.iter().enumerate() {
            r_curve[ci][i] = interp(xv, &neg_conf, &r0, Some(0.0));
            p_curve[ci][i] = interp(xv, &neg_conf, &p0, Some(1.0));
        }
        for t in 0..IOU_THRESHOLDS {
            let rt: Vec<f64> = recall.iter().map(|r| r[t]).collect();
            let pt: Vec<f64> = precision.iter().map(|p| p[t]).collect();
            ap[ci][t] = compute_ap(&rt, &pt);
        }
    }

    let (mut precision, mut recall) = (vec![0.0; classes.len()], vec![0.0; classes.len()]);
    if !classes.is_empty() {
        let f1_mean: Vec<f64> = (0..POINTS)
            .map(|i| {
                let sum: f64 = (0..classes.len())
                    .map(|ci| {
                        let (p, r) = (p_curve[ci][i], r_curve[ci][i]);
                        2.0 * p * r / (p + r + EPS)
                    })
                    .sum();
                sum / classes.len() as f64
            })
            .collect();
        let best = argmax(&smooth(&f1_mean, 0.1));
        for ci in 0..classes.len() {
            precision[ci] = p_curve[ci][best];
            recall[ci] = r_curve[ci][best];
        }
    }
    ClassMetrics {
        classes,
        targets,
        precision,
        recall,
        ap,
    }
}

/// Ultralytics `compute_ap`: precision envelope, then the trapezoid rule over NumPy's linear
/// interpolation at 101 recall points.
pub fn compute_ap(recall: &[f64], precision: &[f64]) -> f64 {
    let last = recall.last().copied().unwrap_or(1.0);
    let mut mrec = Vec::with_capacity(recall.len() + 3);
    mrec.push(0.0);
    mrec.extend_from_slice(recall);
    mrec.extend([last, 1.0]);
    let mut mpre = Vec::with_capacity(precision.len() + 3);
    mpre.push(1.0);
    mpre.extend_from_slice(precision);
    mpre.extend([0.0, 0.0]);
    for i in (0..mpre.len() - 1).rev() {
        mpre[i] = mpre[i].max(mpre[i + 1]);
    }
    let xs: Vec<f64> = (0..101).map(|i| i as f64 / 100.0).collect();
    let ys: Vec<f64> = xs.iter().map(|&x| interp(x, &mrec, &mpre, None)).collect();
    // np.trapezoid(y, x)
    xs.windows(2)
        .zip(ys.windows(2))
        .map(|(x, y)| (x[1] - x[0]) * (y[0] + y[1]) / 2.0)
        .sum()
}

/// `np.interp(x, xp, fp, left)` for non-decreasing `xp` (duplicates allowed): the last `j` with
/// `xp[j] <= x` is the left end of the segment, as NumPy's binary search picks it.
fn interp(x: f64, xp: &[f64], fp: &[f64], left: Option<f64>) -> f64 {
    let n = xp.len();
    let j = xp.partition_point(|&v| v <= x);
    if j == 0 {
        return left.unwrap_or(fp[0]);
    }
    let j = j - 1;
    if j == n - 1 || xp[j] == x {
        return fp[j];
    }
    let slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
    slope * (x - xp[j]) + fp[j]
}

/// Ultralytics `smooth(y, f)`: a box filter of odd width `round(len * f * 2) // 2 + 1`, with the
/// ends padded by the edge values.
fn smooth(y: &[f64], f: f64) -> Vec<f64> {
    let nf = (y.len() as f64 * f * 2.0).round_ties_even() as usize / 2 + 1;
    let pad = nf / 2;
    let mut padded = Vec::with_capacity(y.len() + 2 * pad);
    padded.extend(std::iter::repeat_n(y[0], pad));
    padded.extend_from_slice(y);
    padded.extend(std::iter::repeat_n(y[y.len() - 1], pad));
    let w = 1.0 / nf as f64;
    padded
        .windows(nf)
        .map(|win| win.iter().map(|v| v * w).sum())
        .collect()
}

/// First index of the maximum.
fn argmax(v: &[f64]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_are_torch_linspace() {
        let t = iou_thresholds();
        assert_eq!(t[0], 0.5);
        assert_eq!(t[9], 0.95);
        for (i, v) in t.iter().enumerate() {
            assert!((*v as f64 - (0.5 + 0.05 * i as f64)).abs() < 1e-6);
        }
    }

    #[test]
    fn interp_matches_numpy_on_duplicates_and_ends() {
        let xp = [0.0, 0.5, 0.5, 1.0];
        let fp = [1.0, 0.8, 0.6, 0.0];
        assert_eq!(interp(-1.0, &xp, &fp, Some(7.0)), 7.0);
        assert_eq!(interp(-1.0, &xp, &fp, None), 1.0);
        assert_eq!(interp(2.0, &xp, &fp, None), 0.0);
        // x == 0.5 hits the last of the duplicates.
        assert_eq!(interp(0.5, &xp, &fp, None), 0.6);
        assert!((interp(0.25, &xp, &fp, None) - 0.9).abs() < 1e-15);
        assert!((interp(0.75, &xp, &fp, None) - 0.3).abs() < 1e-15);
    }

    #[test]
    fn perfect_detections_give_ap_one() {
        let t = iou_thresholds();
        let targets = [([0.0, 0.0, 10.0, 10.0], 0), ([20.0, 20.0, 40.0, 30.0], 1)];
        let preds = [([0.0, 0.0, 10.0, 10.0], 0), ([20.0, 20.0, 40.0, 30.0], 1)];
        let tp = match_predictions(&preds, &targets, &t);
        assert!(tp.iter().all(|row| row.iter().all(|&b| b)));
        let scored: Vec<ScoredPrediction> = tp
            .iter()
            .zip(&preds)
            .map(|(tp, p)| ScoredPrediction {
                tp: *tp,
                conf: 0.9,
                class: p.1,
            })
            .collect();
        let m = ap_per_class(&scored, &[0, 1]);
        // Ultralytics' 101-point interpolation reads precision 0 at recall 1.0 (the sentinel), so
        // a perfect detector scores 0.995, not 1.
        assert!((m.map50_95() - 0.995).abs() < 1e-12, "{m:?}");
        assert!((m.mean_precision() - 1.0).abs() < 1e-9);
        assert!((m.mean_recall() - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_target_is_claimed_once_per_threshold() {
        let t = iou_thresholds();
        let targets = [([0.0, 0.0, 10.0, 10.0], 0)];
        let preds = [([0.0, 0.0, 10.0, 10.0], 0), ([0.0, 0.0, 10.0, 10.0], 0)];
        let tp = match_predictions(&preds, &targets, &t);
        assert!(tp[0].iter().all(|&b| b));
        assert!(
            tp[1].iter().all(|&b| !b),
            "the duplicate finds the target claimed"
        );
        let wrong_class = [([0.0, 0.0, 10.0, 10.0], 1)];
        assert!(match_predictions(&wrong_class, &targets, &t)[0]
            .iter()
            .all(|&b| !b));
    }
}
