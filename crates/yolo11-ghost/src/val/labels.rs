//! One label file checked as Ultralytics' `verify_image_label` checks it.
//!
//! A file whose rows fail a check makes its image "corrupt": Ultralytics skips such an image
//! (it is neither predicted nor counted) and warns `{image}: ignoring corrupt image/label:
//! {why}`. The checks, in its order: every row has 5 columns (or, when any row has more than 6
//! values, every row is a polygon `class x1 y1 x2 y2 ...` turned into its box); box values are
//! at most 1; no value is negative; every class is below the class count. Duplicate rows are
//! removed with a warning, keeping numpy's `np.unique(axis=0)` result (the distinct rows in
//! sorted order), by one sort: O(n log n) where a pairwise search was quadratic.
//!
//! One deliberate difference: a fractional class id (`1.5`) is corrupt here, where Ultralytics
//! would truncate it silently.

use std::cmp::Ordering;
use std::path::Path;

use super::dataset::Label;

/// The labels of one image, or why the image is skipped.
#[derive(Debug, Clone, PartialEq)]
pub enum LabelCheck {
    /// The boxes (empty: a background image or no label file), and how many duplicate rows
    /// were removed.
    Ok {
        /// Boxes in file order (sorted when duplicates were removed, as numpy does).
        labels: Vec<Label>,
        /// Duplicate rows dropped.
        duplicates: usize,
    },
    /// The label file fails a check: the image is skipped.
    Corrupt(String),
}

/// Checks the text of a label file against a `nc`-class dataset.
pub fn check_labels(text: &str, nc: usize) -> LabelCheck {
    let rows: Vec<Vec<&str>> = text
        .trim()
        .lines()
        .filter(|l| !l.is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    let parse = |field: &str| {
        field
            .parse::<f32>()
            .map_err(|_| format!("could not convert string to float: {field:?}"))
    };
    let is_segment = rows.iter().any(|r| r.len() > 6);
    let mut boxes: Vec<[f32; 5]> = Vec::with_capacity(rows.len());
    for row in &rows {
        let values = match row
            .iter()
            .map(|f| parse(f))
            .collect::<Result<Vec<f32>, _>>()
        {
            Ok(v) => v,
            Err(e) => return LabelCheck::Corrupt(e),
        };
        let Some((&class, coords)) = values.split_first() else {
            // A line of only whitespace: numpy sees an empty row, which breaks the 5 columns.
            return LabelCheck::Corrupt("labels require 5 columns, 0 columns detected".into());
        };
        let xywh = if is_segment {
            if coords.len() % 2 != 0 || coords.is_empty() {
                return LabelCheck::Corrupt(format!(
                    "a polygon row needs x y pairs, found {} values",
                    coords.len()
                ));
            }
            polygon_box(coords)
        } else if coords.len() == 4 {
            [coords[0], coords[1], coords[2], coords[3]]
        } else {
            return LabelCheck::Corrupt(format!(
                "labels require 5 columns, {} columns detected",
                values.len()
            ));
        };
        boxes.push([class, xywh[0], xywh[1], xywh[2], xywh[3]]);
    }
    if boxes.is_empty() {
        return LabelCheck::Ok {
            labels: Vec::new(),
            duplicates: 0,
        };
    }
    // NaN fails both bounds, as it fails numpy's `<=` and `>=`.
    let out_of_bounds: Vec<f32> = boxes
        .iter()
        .flat_map(|b| b[1..].iter().copied())
        .filter(|v| v.is_nan() || *v > 1.0)
        .collect();
    if !out_of_bounds.is_empty() {
        return LabelCheck::Corrupt(format!(
            "non-normalized or out of bounds coordinates {}",
            list(&out_of_bounds)
        ));
    }
    let negative: Vec<f32> = boxes
        .iter()
        .flat_map(|b| b.iter().copied())
        .filter(|v| v.is_nan() || *v < 0.0)
        .collect();
    if !negative.is_empty() {
        return LabelCheck::Corrupt(format!("negative label values {}", list(&negative)));
    }
    let max_class = boxes.iter().map(|b| b[0]).fold(0.0f32, f32::max);
    if max_class >= nc as f32 {
        return LabelCheck::Corrupt(format!(
            "Label class {max_class} exceeds dataset class count {nc}. Possible class labels \
             are 0-{}",
            nc.saturating_sub(1)
        ));
    }
    if let Some(b) = boxes.iter().find(|b| b[0].fract() != 0.0) {
        return LabelCheck::Corrupt(format!("class {} is not an integer", b[0]));
    }
    let n = boxes.len();
    let unique = sorted_unique(&boxes);
    let (rows, duplicates) = if unique.len() < n {
        let removed = n - unique.len();
        (unique, removed)
    } else {
        (boxes, 0)
    };
    LabelCheck::Ok {
        labels: rows
            .iter()
            .map(|b| Label {
                class: b[0] as usize,
                xywh: [b[1], b[2], b[3], b[4]],
            })
            .collect(),
        duplicates,
    }
}

/// Reads and checks the label file `path` (missing = background image).
pub fn read_and_check(path: &Path, nc: usize) -> LabelCheck {
    match ghost_limits::read_bounded(path, ghost_limits::budget::label_file()) {
        Ok(bytes) => match String::from_utf8(bytes) {
            Ok(text) => check_labels(&text, nc),
            Err(e) => LabelCheck::Corrupt(format!("label file is not UTF-8 text: {e}")),
        },
        Err(e) if e.is_not_found() => LabelCheck::Ok {
            labels: Vec::new(),
            duplicates: 0,
        },
        Err(e) => LabelCheck::Corrupt(e.to_string()),
    }
}

/// numpy's `np.unique(rows, axis=0)`: the distinct rows in lexicographic order. Rows hold no
/// NaN here (the bounds checks refuse them), so `partial_cmp` is a total order (with -0 == 0,
/// as numpy compares).
fn sorted_unique(rows: &[[f32; 5]]) -> Vec<[f32; 5]> {
    let cmp = |a: &[f32; 5], b: &[f32; 5]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.partial_cmp(y).unwrap_or(Ordering::Equal))
            .find(|o| *o != Ordering::Equal)
            .unwrap_or(Ordering::Equal)
    };
    let mut sorted = rows.to_vec();
    sorted.sort_by(cmp);
    sorted.dedup_by(|a, b| cmp(a, b) == Ordering::Equal);
    sorted
}

/// Ultralytics `segments2boxes`: the polygon's min / max corners as `cx, cy, w, h`.
pub fn polygon_box(xy: &[f32]) -> [f32; 4] {
    let (mut x0, mut y0, mut x1, mut y1) = (f32::MAX, f32::MAX, f32::MIN, f32::MIN);
    for p in xy.chunks_exact(2) {
        x0 = x0.min(p[0]);
        x1 = x1.max(p[0]);
        y0 = y0.min(p[1]);
        y1 = y1.max(p[1]);
    }
    [(x0 + x1) / 2.0, (y0 + y1) / 2.0, x1 - x0, y1 - y0]
}

/// The first few values of a list, numpy-style, for a one-line message.
fn list(values: &[f32]) -> String {
    let shown: Vec<String> = values.iter().take(5).map(|v| v.to_string()).collect();
    let more = if values.len() > 5 { " ..." } else { "" };
    format!("[{}{more}]", shown.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> (Vec<Label>, usize) {
        match check_labels(text, 3) {
            LabelCheck::Ok { labels, duplicates } => (labels, duplicates),
            LabelCheck::Corrupt(e) => panic!("{text:?} refused: {e}"),
        }
    }

    fn corrupt(text: &str) -> String {
        match check_labels(text, 3) {
            LabelCheck::Corrupt(e) => e,
            ok => panic!("{text:?} accepted: {ok:?}"),
        }
    }

    #[test]
    fn ultralytics_checks() {
        assert_eq!(ok("").0.len(), 0);
        assert_eq!(ok("1 0.5 0.5 0.2 0.4\n\n2 0.1 0.1 0.1 0.1\n").0.len(), 2);
        assert!(corrupt("0 0.5 1.2 0.1 0.1").contains("out of bounds coordinates [1.2]"));
        assert!(corrupt("0 0.5 0.5 nan 0.1").contains("out of bounds"));
        assert!(corrupt("0 0.5 -0.1 0.1 0.1").contains("negative label values [-0.1]"));
        assert!(corrupt("3 0.5 0.5 0.1 0.1").contains("exceeds dataset class count 3"));
        assert!(corrupt("0 0.5 0.5 0.1").contains("5 columns, 4 columns"));
        assert!(corrupt("0 0.5 x 0.1 0.1").contains("could not convert"));
        assert!(corrupt("1.5 0.5 0.5 0.1 0.1").contains("not an integer"));
        // Boxes may extend past the image edge; only the values themselves are bounded.
        assert_eq!(ok("0 0.9 0.9 0.5 0.5").0.len(), 1);
    }

    #[test]
    fn polygons_and_mixed_rows_as_numpy_reads_them() {
        let (labels, _) = ok("0 0.1 0.1 0.3 0.1 0.3 0.3\n1 0.5 0.5 0.2 0.4\n");
        // With a polygon present, the 5-value row is a 2-point polygon: (0.5,0.5)-(0.2,0.4).
        assert_eq!(labels[0].class, 0);
        assert!((labels[1].xywh[0] - 0.35).abs() < 1e-6, "{labels:?}");
        assert!((labels[1].xywh[2] - 0.3).abs() < 1e-6, "{labels:?}");
        assert!(corrupt("0 0.1 0.1 0.3 0.1 0.3 0.3 0.4").contains("x y pairs"));
    }

    #[test]
    fn duplicates_are_removed_in_sorted_order_and_fast() {
        let (labels, dups) = ok("2 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.4\n2 0.5 0.5 0.2 0.2\n");
        assert_eq!(dups, 1);
        assert_eq!(
            labels.iter().map(|l| l.class).collect::<Vec<_>>(),
            [1, 2],
            "numpy's unique rows come out sorted"
        );
        let (labels, dups) = ok("2 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2 0.4\n");
        assert_eq!(
            (labels[0].class, dups),
            (2, 0),
            "no duplicates: file order kept"
        );
        // 400,000 rows, half duplicates: a pairwise search took minutes.
        let mut text = String::new();
        for i in 0..400_000u32 {
            let v = (i % 200_000) as f32 / 200_000.0;
            text.push_str(&format!("0 {v} 0.5 0.1 0.1\n"));
        }
        let start = std::time::Instant::now();
        let (labels, dups) = ok(&text);
        assert_eq!((labels.len(), dups), (200_000, 200_000));
        assert!(start.elapsed().as_secs() < 10, "{:?}", start.elapsed());
    }
}
