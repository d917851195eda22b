//! Minimum-cost assignment with a per-pair cost limit, as Ultralytics' `matching.linear_assignment`
//! gets it from `lap.lapjv(cost, extend_cost=True, cost_limit=thresh)`.
//!
//! lap turns the `rows x cols` problem into a square one of side `rows + cols`: the real costs in the
//! top-left block, `cost_limit / 2` everywhere else except a zero bottom-right block. Leaving a row
//! and a column unmatched then costs `cost_limit` in all, so a pair is only worth matching when its
//! cost is below the limit, and the optimum of the square problem is the minimum-cost partial
//! matching. It solves the square problem with the Jonker-Volgenant shortest augmenting path
//! algorithm (R. Jonker, A. Volgenant, "A shortest augmenting path algorithm for dense and sparse
//! linear assignment problems", Computing 38, 1987): column reduction with reduction transfer, two
//! rounds of augmenting row reduction, then one Dijkstra-like augmentation per remaining free row.
//!
//! Any exact solver returns *an* optimum; when several matchings tie (equal costs, common with
//! duplicate boxes), which one comes back depends on the order in which the algorithm visits rows and
//! columns. [`lapjv`] follows lap's phases, visiting order and comparisons (`<` versus `<=`) so that it
//! returns lap's matching in those cases too; `tests/lapjv_parity.rs` checks that against lap 0.5.12
//! on tie-heavy random matrices, and `tests/assignment_optimal.rs` checks optimality against brute
//! force.

// Index loops mirror the algorithm's description (rows, columns, prices). The scans below start at
// the current `hi` and deliberately move `hi` during the loop without changing the loop's range
// (cols[hi..] shrinks from the front as columns join the SCAN set behind the cursor).
#![allow(clippy::needless_range_loop, clippy::mut_range_bound)]

/// What lap initialises the column prices with (its `LARGE`). Costs at or above it behave as in lap.
const LARGE: f64 = 1_000_000.0;

/// Rows and columns matched by [`linear_assignment`], each list in increasing order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Assignment {
    /// `(row, column)` pairs, in increasing row order.
    pub matches: Vec<(usize, usize)>,
    /// Rows left unmatched, increasing.
    pub unmatched_rows: Vec<usize>,
    /// Columns left unmatched, increasing.
    pub unmatched_cols: Vec<usize>,
}

/// Ultralytics' `linear_assignment(cost, thresh)`: `cost` is row-major `rows x cols` (f32, as the
/// tracker's IoU costs are); a pair is matched only if that lowers the total cost against leaving
/// both unmatched at `thresh / 2` each.
///
/// A NaN cost (degenerate boxes) is treated as `2.0`, above every threshold the tracker uses, so it
/// is never matched and cannot stall the solver.
///
/// # Panics
/// If `cost.len() != rows * cols` (a programming error inside this crate).
pub fn linear_assignment(cost: &[f32], rows: usize, cols: usize, thresh: f64) -> Assignment {
    assert_eq!(cost.len(), rows * cols, "cost matrix is not rows x cols");
    if rows == 0 || cols == 0 {
        return Assignment {
            matches: Vec::new(),
            unmatched_rows: (0..rows).collect(),
            unmatched_cols: (0..cols).collect(),
        };
    }
    // lap's extension: side rows + cols, limit / 2 outside the real block, 0 in the dummy block.
    let n = rows + cols;
    let fill = thresh / 2.0;
    let mut square = vec![fill; n * n];
    for r in 0..n {
        for c in 0..n {
            square[r * n + c] = if r < rows && c < cols {
                let v = cost[r * cols + c];
                if v.is_nan() {
                    2.0
                } else {
                    f64::from(v).clamp(-LARGE / 4.0, LARGE / 4.0)
                }
            } else if r >= rows && c >= cols {
                0.0
            } else {
                fill
            };
        }
    }
    let (x, y) = lapjv(&square, n);
    let mut out = Assignment::default();
    for (r, &c) in x.iter().take(rows).enumerate() {
        if c < cols {
            out.matches.push((r, c));
        } else {
            out.unmatched_rows.push(r);
        }
    }
    for (c, &r) in y.iter().take(cols).enumerate() {
        if r >= rows {
            out.unmatched_cols.push(c);
        }
    }
    out
}

/// Solves the square assignment problem `cost` (row-major `n x n`, finite values) exactly and returns
/// `(x, y)`: `x[row]` is the row's column and `y[col]` the column's row.
pub fn lapjv(cost: &[f64], n: usize) -> (Vec<usize>, Vec<usize>) {
    assert_eq!(cost.len(), n * n, "cost matrix is not n x n");
    if n == 0 {
        return (Vec::new(), Vec::new());
    }
    let mut solver = Solver {
        n,
        cost,
        x: vec![NONE; n],
        y: vec![NONE; n],
        v: vec![0.0; n],
        free_rows: Vec::with_capacity(n),
    };
    solver.column_reduction();
    let mut rounds = 0;
    while !solver.free_rows.is_empty() && rounds < 2 {
        solver.augmenting_row_reduction();
        rounds += 1;
    }
    if !solver.free_rows.is_empty() {
        solver.augment();
    }
    let to_index = |v: Vec<isize>| v.into_iter().map(|i| i as usize).collect();
    (to_index(solver.x), to_index(solver.y))
}

/// "Unassigned" in `x` / `y` (lap's -1).
const NONE: isize = -1;

struct Solver<'a> {
    n: usize,
    cost: &'a [f64],
    /// Column of each row, or NONE.
    x: Vec<isize>,
    /// Row of each column, or NONE.
    y: Vec<isize>,
    /// Column prices (dual variables).
    v: Vec<f64>,
    free_rows: Vec<usize>,
}

impl Solver<'_> {
    fn c(&self, i: usize, j: usize) -> f64 {
        self.cost[i * self.n + j]
    }

    /// Column reduction and reduction transfer: each column goes to its cheapest row (the first such
    /// row on ties); a row that wins several columns keeps the highest-numbered one, and rows that won
    /// exactly one column transfer their slack to its price.
    fn column_reduction(&mut self) {
        let n = self.n;
        self.v.fill(LARGE);
        self.y.fill(0);
        for i in 0..n {
            for j in 0..n {
                let c = self.c(i, j);
                if c < self.v[j] {
                    self.v[j] = c;
                    self.y[j] = i as isize;
                }
            }
        }
        let mut unique = vec![true; n];
        for j in (0..n).rev() {
            let i = self.y[j] as usize;
            if self.x[i] < 0 {
                self.x[i] = j as isize;
            } else {
                unique[i] = false;
                self.y[j] = NONE;
            }
        }
        self.free_rows.clear();
        for i in 0..n {
            if self.x[i] < 0 {
                self.free_rows.push(i);
            } else if unique[i] {
                let j = self.x[i] as usize;
                let mut min = LARGE;
                for j2 in (0..n).filter(|&j2| j2 != j) {
                    let c = self.c(i, j2) - self.v[j2];
                    if c < min {
                        min = c;
                    }
                }
                self.v[j] -= min;
            }
        }
    }

    /// One round of augmenting row reduction over the current free rows; leaves the rows still free
    /// afterwards in `free_rows`, in the order lap leaves them.
    fn augmenting_row_reduction(&mut self) {
        let n = self.n;
        let n_free = self.free_rows.len();
        let mut current = 0usize;
        let mut new_free = 0usize;
        let mut rr_cnt = 0usize;
        while current < n_free {
            rr_cnt += 1;
            let free_i = self.free_rows[current];
            current += 1;
            // The row's lowest and second-lowest reduced costs (first index on ties).
            let mut j1 = 0usize;
            let mut v1 = self.c(free_i, 0) - self.v[0];
            let mut j2: isize = NONE;
            let mut v2 = LARGE;
            for j in 1..n {
                let c = self.c(free_i, j) - self.v[j];
                if c < v2 {
                    if c >= v1 {
                        v2 = c;
                        j2 = j as isize;
                    } else {
                        v2 = v1;
                        v1 = c;
                        j2 = j1 as isize;
                        j1 = j;
                    }
                }
            }
            let mut i0 = self.y[j1];
            let v1_new = self.v[j1] - (v2 - v1);
            let v1_lowers = v1_new < self.v[j1];
            if rr_cnt < current * n {
                if v1_lowers {
                    self.v[j1] = v1_new;
                } else if i0 >= 0 && j2 >= 0 {
                    j1 = j2 as usize;
                    i0 = self.y[j1];
                }
                if i0 >= 0 {
                    if v1_lowers {
                        current -= 1;
                        self.free_rows[current] = i0 as usize;
                    } else {
                        self.free_rows[new_free] = i0 as usize;
                        new_free += 1;
                    }
                }
            } else if i0 >= 0 {
                self.free_rows[new_free] = i0 as usize;
                new_free += 1;
            }
            self.x[free_i] = j1 as isize;
            self.y[j1] = free_i as isize;
        }
        self.free_rows.truncate(new_free);
    }

    /// Augments along a shortest path from every remaining free row.
    fn augment(&mut self) {
        let n = self.n;
        let mut pred = vec![0usize; n];
        let mut cols = vec![0usize; n];
        let mut d = vec![0.0f64; n];
        let free_rows = std::mem::take(&mut self.free_rows);
        for &free_i in &free_rows {
            let mut j = self.find_path(free_i, &mut pred, &mut cols, &mut d);
            // Flip the path back to the free row; a path visits each column at most once.
            let mut i = usize::MAX;
            let mut steps = 0;
            while i != free_i && steps < n {
                i = pred[j];
                self.y[j] = i as isize;
                let previous = self.x[i];
                self.x[i] = j as isize;
                if previous >= 0 {
                    j = previous as usize;
                }
                steps += 1;
            }
        }
    }

    /// Dijkstra-like search from `start_i` for the closest free column over reduced costs; updates
    /// the prices of the columns it settled and returns that column.
    fn find_path(
        &mut self,
        start_i: usize,
        pred: &mut [usize],
        cols: &mut [usize],
        d: &mut [f64],
    ) -> usize {
        let n = self.n;
        for j in 0..n {
            cols[j] = j;
            pred[j] = start_i;
            d[j] = self.c(start_i, j) - self.v[j];
        }
        // cols[..lo] settled (READY), cols[lo..hi] at the current minimum (SCAN), cols[hi..] TODO.
        let mut lo = 0usize;
        let mut hi = 0usize;
        let mut n_ready = 0usize;
        let final_j = loop {
            let mut found = None;
            if lo == hi {
                n_ready = lo;
                hi = find_minimum_columns(lo, d, cols);
                for &j in &cols[lo..hi] {
                    if self.y[j] < 0 {
                        found = Some(j);
                    }
                }
            }
            if found.is_none() {
                found = self.scan(&mut lo, &mut hi, d, cols, pred);
            }
            if let Some(j) = found {
                break j;
            }
        };
        let mind = d[cols[lo]];
        for &j in &cols[..n_ready] {
            self.v[j] += d[j] - mind;
        }
        final_j
    }

    /// Relaxes the TODO columns through each SCAN column; returns a free column reached at the
    /// current minimum distance (leaving `lo`/`hi` where they were, as lap does), else `None`.
    fn scan(
        &self,
        plo: &mut usize,
        phi: &mut usize,
        d: &mut [f64],
        cols: &mut [usize],
        pred: &mut [usize],
    ) -> Option<usize> {
        let n = self.n;
        let mut lo = *plo;
        let mut hi = *phi;
        while lo != hi {
            let j = cols[lo];
            lo += 1;
            let i = self.y[j] as usize;
            let mind = d[j];
            let h = self.c(i, j) - self.v[j] - mind;
            for k in hi..n {
                let j = cols[k];
                let cred_ij = self.c(i, j) - self.v[j] - h;
                if cred_ij < d[j] {
                    d[j] = cred_ij;
                    pred[j] = i;
                    if cred_ij == mind {
                        if self.y[j] < 0 {
                            return Some(j);
                        }
                        cols[k] = cols[hi];
                        cols[hi] = j;
                        hi += 1;
                    }
                }
            }
        }
        *plo = lo;
        *phi = hi;
        None
    }
}

/// Moves the columns of `cols[lo..]` with the smallest `d` to `cols[lo..hi]` and returns `hi`.
fn find_minimum_columns(lo: usize, d: &[f64], cols: &mut [usize]) -> usize {
    let mut hi = lo + 1;
    let mut mind = d[cols[lo]];
    for k in hi..cols.len() {
        let j = cols[k];
        if d[j] <= mind {
            if d[j] < mind {
                hi = lo;
                mind = d[j];
            }
            cols[k] = cols[hi];
            cols[hi] = j;
            hi += 1;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_sides_leave_everything_unmatched() {
        let a = linear_assignment(&[], 3, 0, 0.8);
        assert_eq!(a.unmatched_rows, vec![0, 1, 2]);
        assert!(a.matches.is_empty() && a.unmatched_cols.is_empty());
        let a = linear_assignment(&[], 0, 2, 0.8);
        assert_eq!(a.unmatched_cols, vec![0, 1]);
    }

    #[test]
    fn costs_at_or_above_the_limit_stay_unmatched() {
        // 0.3 < 0.8 matches; 0.9 does not; the second column's best row is taken.
        let a = linear_assignment(&[0.3, 0.9, 0.9, 0.9], 2, 2, 0.8);
        assert_eq!(a.matches, vec![(0, 0)]);
        assert_eq!(a.unmatched_rows, vec![1]);
        assert_eq!(a.unmatched_cols, vec![1]);
    }

    #[test]
    fn nan_costs_are_never_matched() {
        let a = linear_assignment(&[f32::NAN, 0.1], 1, 2, 0.8);
        assert_eq!(a.matches, vec![(0, 1)]);
    }

    #[test]
    fn all_equal_two_by_two_matches_lap() {
        // lap.lapjv([[0.3, 0.3], [0.3, 0.3]], extend_cost=True, cost_limit=0.8) -> x = [1, 0].
        let a = linear_assignment(&[0.3; 4], 2, 2, 0.8);
        assert_eq!(a.matches, vec![(0, 1), (1, 0)]);
    }
}
