//! Association costs, computed in f32 as Ultralytics' `matching.iou_distance` and `fuse_score` do
//! (both cast the boxes to float32 and keep NumPy's float32 arithmetic).

/// `1 - IoU` for every (a, b) pair, row-major `a.len() x b.len()`, with Ultralytics' `bbox_ioa(...,
/// iou=True)` operation order and its `eps = 1e-7` in the denominator.
pub(crate) fn iou_distance(a: &[[f32; 4]], b: &[[f32; 4]]) -> Vec<f32> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for p in a {
        let area_a = (p[2] - p[0]) * (p[3] - p[1]);
        for q in b {
            let iw = (p[2].min(q[2]) - p[0].max(q[0])).max(0.0);
            let ih = (p[3].min(q[3]) - p[1].max(q[1])).max(0.0);
            let inter = iw * ih;
            let area_b = (q[2] - q[0]) * (q[3] - q[1]);
            let union = area_b + area_a - inter;
            out.push(1.0 - inter / (union + 1e-7f32));
        }
    }
    out
}

/// Ultralytics' `fuse_score`: cost `1 - (1 - cost) * score` per detection column.
pub(crate) fn fuse_score(cost: &mut [f32], scores: &[f32]) {
    if scores.is_empty() {
        return;
    }
    for row in cost.chunks_exact_mut(scores.len()) {
        for (c, s) in row.iter_mut().zip(scores) {
            *c = 1.0 - (1.0 - *c) * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_boxes_cost_zero_and_disjoint_boxes_cost_one() {
        let a = [[0.0, 0.0, 10.0, 10.0]];
        let b = [
            [0.0, 0.0, 10.0, 10.0],
            [20.0, 20.0, 30.0, 30.0],
            [5.0, 0.0, 15.0, 10.0],
        ];
        let d = iou_distance(&a, &b);
        assert!(d[0].abs() < 1e-6);
        assert_eq!(d[1], 1.0);
        // Half overlap: 50 / 150.
        assert!((d[2] - (1.0 - 50.0 / 150.0)).abs() < 1e-6);
    }

    #[test]
    fn fusing_scales_the_similarity_per_column() {
        let mut c = vec![0.2, 0.5, 0.2, 0.5];
        fuse_score(&mut c, &[0.5, 1.0]);
        assert!((c[0] - 0.6).abs() < 1e-6 && (c[1] - 0.5).abs() < 1e-6);
        assert!((c[2] - 0.6).abs() < 1e-6 && (c[3] - 0.5).abs() < 1e-6);
    }
}
