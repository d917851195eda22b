//! `linear_assignment` is an exact minimum: on random small problems its total cost (matched costs
//! plus `thresh / 2` for every unmatched row and column, the objective of lap's extended problem)
//! equals the best over every partial matching, found by brute force.

use ghost_track::assignment::linear_assignment;

/// A small deterministic generator (64-bit LCG, high bits), so the test needs no dependencies.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

fn total(cost: &[f32], rows: usize, cols: usize, thresh: f64, matches: &[(usize, usize)]) -> f64 {
    let matched: f64 = matches
        .iter()
        .map(|&(r, c)| f64::from(cost[r * cols + c]))
        .sum();
    let unmatched = (rows - matches.len()) + (cols - matches.len());
    matched + unmatched as f64 * thresh / 2.0
}

/// Best objective over every assignment of rows to distinct columns or to nothing.
fn brute_force(cost: &[f32], rows: usize, cols: usize, thresh: f64) -> f64 {
    fn go(
        r: usize,
        used: &mut Vec<bool>,
        acc: &mut Vec<(usize, usize)>,
        best: &mut f64,
        p: (&[f32], usize, usize, f64),
    ) {
        let (cost, rows, cols, thresh) = p;
        if r == rows {
            *best = best.min(total(cost, rows, cols, thresh, acc));
            return;
        }
        go(r + 1, used, acc, best, p);
        for c in 0..cols {
            if !used[c] {
                used[c] = true;
                acc.push((r, c));
                go(r + 1, used, acc, best, p);
                acc.pop();
                used[c] = false;
            }
        }
    }
    let mut best = f64::INFINITY;
    go(
        0,
        &mut vec![false; cols],
        &mut Vec::new(),
        &mut best,
        (cost, rows, cols, thresh),
    );
    best
}

#[test]
fn matches_brute_force_minimum() {
    let mut rng = Lcg(17);
    for case in 0..3000 {
        let rows = 1 + (rng.next() * 5.0) as usize;
        let cols = 1 + (rng.next() * 5.0) as usize;
        let levels = case % 3 == 0;
        let cost: Vec<f32> = (0..rows * cols)
            .map(|_| {
                if levels {
                    (rng.next() * 6.0).floor() as f32 / 5.0
                } else {
                    rng.next() as f32
                }
            })
            .collect();
        let thresh = [0.5, 0.7, 0.8, 1.5][case % 4];
        let a = linear_assignment(&cost, rows, cols, thresh);
        // A valid partial matching, and the lists partition rows and columns.
        let mut seen_r = vec![false; rows];
        let mut seen_c = vec![false; cols];
        for &(r, c) in &a.matches {
            assert!(!seen_r[r] && !seen_c[c], "case {case}: reused row/column");
            seen_r[r] = true;
            seen_c[c] = true;
        }
        assert_eq!(
            a.unmatched_rows,
            (0..rows).filter(|&r| !seen_r[r]).collect::<Vec<_>>()
        );
        assert_eq!(
            a.unmatched_cols,
            (0..cols).filter(|&c| !seen_c[c]).collect::<Vec<_>>()
        );
        let got = total(&cost, rows, cols, thresh, &a.matches);
        let best = brute_force(&cost, rows, cols, thresh);
        assert!(
            (got - best).abs() < 1e-9,
            "case {case}: {rows}x{cols} {cost:?} thresh {thresh}: {got} vs optimum {best}"
        );
    }
}

#[test]
fn larger_problems_are_solved_quickly_and_validly() {
    // 300 tracks x 300 detections (a crowded scene): an exact solve in well under a second.
    let mut rng = Lcg(5);
    let n = 300;
    let cost: Vec<f32> = (0..n * n).map(|_| rng.next() as f32).collect();
    let start = std::time::Instant::now();
    let a = linear_assignment(&cost, n, n, 0.8);
    assert!(
        start.elapsed().as_secs_f64() < 5.0,
        "took {:?}",
        start.elapsed()
    );
    assert!(a.matches.iter().all(|&(r, c)| cost[r * n + c] < 0.8));
    assert_eq!(a.matches.len() + a.unmatched_rows.len(), n);
}
