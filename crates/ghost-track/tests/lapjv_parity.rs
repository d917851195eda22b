//! `linear_assignment` against lap 0.5.12's `lapjv(cost, extend_cost=True, cost_limit=thresh)` as
//! Ultralytics calls it, on 240 small matrices most of which have only a few distinct values (many
//! tied optima), so the matching returned depends on how ties are broken
//! (fixtures/tracking/lapjv_ties.json, made by tools/make_track_fixtures.py).

mod common;

use common::{array, f32_of, fixture, usize_of};
use ghost_track::assignment::linear_assignment;

fn pairs(v: &serde_json::Value) -> Vec<(usize, usize)> {
    array(v)
        .iter()
        .map(|p| (usize_of(&p[0]), usize_of(&p[1])))
        .collect()
}

fn indices(v: &serde_json::Value) -> Vec<usize> {
    array(v).iter().map(usize_of).collect()
}

#[test]
fn equals_lap_on_tie_heavy_matrices() {
    let doc = fixture("lapjv_ties.json");
    let cases = array(&doc["cases"]);
    assert_eq!(cases.len(), 240);
    for (k, case) in cases.iter().enumerate() {
        let rows = usize_of(&case["rows"]);
        let cols = usize_of(&case["cols"]);
        let thresh = case["thresh"].as_f64().unwrap();
        let cost: Vec<f32> = array(&case["cost"]).iter().map(f32_of).collect();
        let got = linear_assignment(&cost, rows, cols, thresh);
        assert_eq!(
            got.matches,
            pairs(&case["matches"]),
            "case {k}: {rows}x{cols} {cost:?} thresh {thresh}"
        );
        assert_eq!(
            got.unmatched_rows,
            indices(&case["unmatched_rows"]),
            "case {k}"
        );
        assert_eq!(
            got.unmatched_cols,
            indices(&case["unmatched_cols"]),
            "case {k}"
        );
    }
}
