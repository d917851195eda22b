//! JPEG decoding parity with what Ultralytics sees (`cv2.imdecode`, libjpeg-turbo), on the cases
//! of `fixtures/jpeg/jpeg.safetensors` (`tools/make_jpeg_fixtures.py`): every chroma subsampling
//! libjpeg-turbo upsamples differently, progressive and restart-interval files, greyscale, extreme
//! qualities, tiny images, EXIF orientations and a damaged scan.
//!
//! Tolerance: none. libjpeg-turbo's default decode is integer arithmetic throughout, so the same
//! algorithm gives the same bytes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use ghost_image::image_io::{decode_rgb, ImageLoadError};
use safetensors::SafeTensors;
use serde_json::Value;

fn fixture() -> Vec<u8> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/jpeg/jpeg.safetensors");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn decoded_pixels_equal_opencv() {
    let bytes = fixture();
    let (_, metadata) = SafeTensors::read_metadata(&bytes).unwrap();
    let meta: &HashMap<String, String> = metadata.metadata().as_ref().unwrap();
    let cases: Value = serde_json::from_str(&meta["cases"]).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let cases = cases.as_array().unwrap();
    assert!(cases.len() >= 19);
    let mut failures = Vec::new();
    for case in cases {
        let about = case["about"].as_str().unwrap();
        let file = st.tensor(case["file"].as_str().unwrap()).unwrap();
        let expected = st.tensor(case["decoded"].as_str().unwrap()).unwrap();
        let image =
            decode_rgb(file.data(), Path::new(about)).unwrap_or_else(|e| panic!("{about}: {e}"));
        let shape = expected.shape();
        assert_eq!(
            (image.height() as usize, image.width() as usize),
            (shape[0], shape[1]),
            "{about}: size"
        );
        let diffs: Vec<u8> = image
            .as_raw()
            .iter()
            .zip(expected.data())
            .map(|(a, b)| a.abs_diff(*b))
            .collect();
        let count = diffs.iter().filter(|&&d| d != 0).count();
        if count > 0 {
            let max = diffs.iter().max().unwrap();
            failures.push(format!(
                "{about}: {count} of {} bytes differ, max {max}",
                diffs.len()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn truncated_jpeg_is_an_error_like_opencv() {
    let bytes = fixture();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let file = st.tensor("file.0").unwrap().data().to_vec();
    let cut = &file[..file.len() * 6 / 10];
    let err = decode_rgb(cut, Path::new("cut.jpg")).unwrap_err();
    assert!(matches!(err, ImageLoadError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("cut.jpg"), "{err}");
    // Without EOI only: OpenCV 5 refuses it as well.
    let err = decode_rgb(&file[..file.len() - 2], Path::new("no_eoi.jpg")).unwrap_err();
    assert!(err.to_string().contains("no EOI"), "{err}");
}
