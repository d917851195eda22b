//! Pre-processing parity with the reference libraries themselves: `cv2.resize(INTER_LINEAR)` and
//! Ultralytics `LetterBox`, recorded by `tools/make_letterbox_fixtures.py` into
//! `fixtures/letterbox/letterbox.safetensors`.
//!
//! Tolerance: none. OpenCV's 8-bit bilinear is integer arithmetic, so the Rust port must produce
//! the same bytes (max abs diff 0) and the same padding split on every case.

use std::collections::HashMap;
use std::path::PathBuf;

use image::RgbImage;
use safetensors::SafeTensors;
use serde_json::Value;
use yolo11_ghost::letterbox::{resize_linear, Letterbox};

fn fixture_bytes() -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/letterbox/letterbox.safetensors");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct Fixture<'a> {
    tensors: SafeTensors<'a>,
    cases: Value,
}

impl<'a> Fixture<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        let (_, metadata) = SafeTensors::read_metadata(bytes).expect("safetensors header");
        let meta: &HashMap<String, String> =
            metadata.metadata().as_ref().expect("fixture metadata");
        let cases = serde_json::from_str(&meta["cases"]).expect("cases JSON");
        Self {
            tensors: SafeTensors::deserialize(bytes).expect("safetensors"),
            cases,
        }
    }

    /// `(bytes, [h, w, c])` of a uint8 HWC tensor.
    fn image(&self, name: &str) -> (Vec<u8>, [usize; 3]) {
        let t = self.tensors.tensor(name).expect(name);
        assert_eq!(t.dtype(), safetensors::Dtype::U8, "{name}");
        let s = t.shape();
        (t.data().to_vec(), [s[0], s[1], s[2]])
    }

    fn list(&self, key: &str) -> &Vec<Value> {
        self.cases[key].as_array().expect(key)
    }
}

fn field(case: &Value, key: &str) -> usize {
    case[key]
        .as_u64()
        .unwrap_or_else(|| panic!("{key} in {case}")) as usize
}

/// Count and largest absolute difference between two byte images.
fn diff(a: &[u8], b: &[u8]) -> (usize, u8) {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(&x, &y)| x.abs_diff(y))
        .fold((0, 0), |(n, m), d| (n + usize::from(d != 0), m.max(d)))
}

#[test]
fn resize_matches_cv2_inter_linear_bit_for_bit() {
    let bytes = fixture_bytes();
    let fx = Fixture::new(&bytes);
    let cases = fx.list("resize");
    assert!(
        cases.len() >= 10,
        "fixture lists {} resize cases",
        cases.len()
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (src, [h, w, c]) = fx.image(case["src"].as_str().unwrap());
        let (expected, [eh, ew, ec]) = fx.image(name);
        assert_eq!(
            (eh, ew, ec),
            (field(case, "h"), field(case, "w"), c),
            "{name}"
        );
        let out = resize_linear(&src, h, w, c, eh, ew).unwrap();
        let (count, max) = diff(&out, &expected);
        assert_eq!(
            (count, max),
            (0, 0),
            "{name}: {h}x{w}x{c} -> {eh}x{ew}: {count} bytes differ, max {max}"
        );
    }
}

#[test]
fn letterbox_matches_ultralytics_geometry_and_pixels() {
    let bytes = fixture_bytes();
    let fx = Fixture::new(&bytes);
    let cases = fx.list("letterbox");
    assert!(
        cases.len() >= 12,
        "fixture lists {} letterbox cases",
        cases.len()
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let (src, [h, w, c]) = fx.image(case["src"].as_str().unwrap());
        assert_eq!(c, 3);
        let shape = case["new_shape"].as_array().unwrap();
        let (new_h, new_w) = (
            shape[0].as_u64().unwrap() as usize,
            shape[1].as_u64().unwrap() as usize,
        );
        let auto = case["auto"].as_bool().unwrap();
        let letterbox = Letterbox::new(new_h, new_w).minimal_rect(auto);

        let g = letterbox.geometry(h, w).unwrap();
        let found = [g.unpad_h, g.unpad_w, g.top, g.bottom, g.left, g.right];
        let expected =
            ["unpad_h", "unpad_w", "top", "bottom", "left", "right"].map(|k| field(case, k));
        assert_eq!(
            found, expected,
            "{name}: geometry [unpad_h, unpad_w, top, bottom, left, right]"
        );

        let image = RgbImage::from_raw(w as u32, h as u32, src).unwrap();
        let (out, geometry) = letterbox.apply(&image).unwrap();
        assert_eq!(geometry, g);
        let (ref_pixels, [oh, ow, _]) = fx.image(name);
        assert_eq!(
            (out.height() as usize, out.width() as usize),
            (oh, ow),
            "{name}: output shape"
        );
        assert_eq!((oh, ow), (field(case, "out_h"), field(case, "out_w")));
        let (count, max) = diff(out.as_raw(), &ref_pixels);
        assert_eq!(
            (count, max),
            (0, 0),
            "{name}: {count} bytes differ, max {max}"
        );
    }
}
