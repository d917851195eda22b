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

/// libjpeg refuses a second frame header (JERR_SOF_DUPLICATE, "two SOF markers"); this decoder
/// took the last one and returned a blank 8000x8000 image for a 300-byte change to a good file.
#[test]
fn a_second_sof_marker_is_an_error_like_libjpeg() {
    let bytes = fixture();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let file = st.tensor("file.0").unwrap().data().to_vec();
    // Walk the header segments (an EXIF thumbnail can hold FF C0 bytes of its own).
    let mut sof = 2;
    while !(0xC0..=0xC2).contains(&file[sof + 1]) {
        assert_eq!(file[sof], 0xFF, "segment marker at {sof}");
        sof += 2 + usize::from(u16::from_be_bytes([file[sof + 2], file[sof + 3]]));
    }
    let len = usize::from(u16::from_be_bytes([file[sof + 2], file[sof + 3]]));
    let mut second = file[sof..sof + 2 + len].to_vec();
    // Segment: FF Cn, length (2), precision (1), height (2), width (2), components.
    second[5..7].copy_from_slice(&8000u16.to_be_bytes());
    second[7..9].copy_from_slice(&8000u16.to_be_bytes());
    // After the scan, before EOI: header parsers that stop at the first SOS never see it.
    assert_eq!(file[file.len() - 2..], [0xFF, 0xD9]);
    let mut forged = file[..file.len() - 2].to_vec();
    forged.extend_from_slice(&second);
    forged.extend_from_slice(&[0xFF, 0xD9]);
    // Not `unwrap_err`: on failure it would print all 192 MB of the blank image.
    let err = match decode_rgb(&forged, Path::new("two_sof.jpg")) {
        Ok(image) => panic!("decoded as a {}x{} image", image.width(), image.height()),
        Err(e) => e,
    };
    assert!(matches!(err, ImageLoadError::Decode { .. }), "{err}");
    assert!(err.to_string().contains("two SOF markers"), "{err}");
    // Before the scan as well (the `image` crate's header reader refuses this one first).
    let mut early = file[..sof + 2 + len].to_vec();
    early.extend_from_slice(&second);
    early.extend_from_slice(&file[sof + 2 + len..]);
    assert!(decode_rgb(&early, Path::new("two_sof_early.jpg")).is_err());
    // The file it was made from still decodes: only the duplicate is refused.
    assert!(decode_rgb(&file, Path::new("one_sof.jpg")).is_ok());
}
