//! Ultralytics predict's outputs: label lines (`%g`, class first, normalised xywh, conf, track id)
//! and crop rectangles against fixtures/video/predict_outputs.json
//! (tools/make_predict_output_fixtures.py), and the annotated-video encoder.

mod common;

use common::{clip, fixtures, have_ffmpeg};
use ghost_video::crop::{crop_rect, increment_path, save_crops};
use ghost_video::{format_g, label_file, label_line, DecodeOptions, VideoDecoder, VideoEncoder};
use yolo11_ghost::postprocess::Detection;

fn fixture() -> serde_json::Value {
    let text = std::fs::read_to_string(fixtures().join("predict_outputs.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn detection(case: &serde_json::Value) -> Detection {
    let b: Vec<f32> = case["box"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();
    Detection {
        x1: b[0],
        y1: b[1],
        x2: b[2],
        y2: b[3],
        confidence: case["conf"].as_f64().unwrap() as f32,
        class_id: case["class"].as_u64().unwrap() as usize,
        class_name: format!("class{}", case["class"]),
    }
}

#[test]
fn percent_g_equals_pythons() {
    for pair in fixture()["g"].as_array().unwrap() {
        let (v, want) = (pair[0].as_f64().unwrap(), pair[1].as_str().unwrap());
        assert_eq!(format_g(v), want, "%g of {v:e}");
    }
}

#[test]
fn label_lines_equal_ultralytics_save_txt() {
    let cases = fixture()["cases"].as_array().unwrap().clone();
    assert!(cases.len() >= 60);
    for case in &cases {
        let d = detection(case);
        let (w, h) = (
            case["width"].as_u64().unwrap() as u32,
            case["height"].as_u64().unwrap() as u32,
        );
        assert_eq!(
            label_line(&d, w, h, false, None),
            case["line"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(
            label_line(&d, w, h, true, None),
            case["line_conf"].as_str().unwrap(),
            "{case}"
        );
        assert_eq!(
            label_line(&d, w, h, true, Some(7)),
            case["line_conf_track"].as_str().unwrap(),
            "{case}"
        );
    }
    let two = [detection(&cases[0]), detection(&cases[2])];
    let file = label_file(&two, 320, 256, false).unwrap();
    assert_eq!(
        file,
        format!(
            "{}\n{}\n",
            cases[0]["line"].as_str().unwrap(),
            cases[2]["line"].as_str().unwrap()
        )
    );
    assert_eq!(
        label_file(&[], 320, 256, true),
        None,
        "no detections: no file, as Ultralytics"
    );
}

#[test]
fn crop_rectangles_equal_save_one_box() {
    for case in fixture()["cases"].as_array().unwrap() {
        let d = detection(case);
        let (w, h) = (
            case["width"].as_u64().unwrap() as u32,
            case["height"].as_u64().unwrap() as u32,
        );
        let want: Vec<u32> = case["crop"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        assert_eq!(crop_rect(&d, w, h).to_vec(), want, "{case}");
    }
}

#[test]
fn crops_go_to_class_folders_and_never_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let image = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let d = Detection {
        x1: 10.0,
        y1: 5.0,
        x2: 30.0,
        y2: 25.0,
        confidence: 0.9,
        class_id: 2,
        class_name: "triangle".into(),
    };
    let written = save_crops(dir.path(), "clip_3", &image, &[d.clone(), d.clone()]).unwrap();
    let names: Vec<String> = written
        .iter()
        .map(|p| p.strip_prefix(dir.path()).unwrap().display().to_string())
        .collect();
    assert_eq!(names, ["triangle/clip_3.jpg", "triangle/clip_3-2.jpg"]);
    let crop = image::open(&written[0]).unwrap();
    // [10+10-(20*1.02+10)/2 .. ) = x 4..36, y 0..30 (clipped at the top)
    assert_eq!((crop.width(), crop.height()), (31, 30));
    assert_eq!(
        increment_path(&written[0]).file_name().unwrap(),
        "clip_3-3.jpg"
    );
    // A class name from weights metadata is one folder, never a path out of the crops folder.
    let inside = dir.path().join("crops");
    for (name, folder) in [("../../evil", ".._.._evil"), ("..", "_.."), ("a/b", "a_b")] {
        let evil = Detection {
            class_name: name.into(),
            ..d.clone()
        };
        let written = save_crops(&inside, "x", &image, &[evil]).unwrap();
        assert_eq!(written, [inside.join(folder).join("x.jpg")], "{name}");
    }
    assert!(!dir.path().join("evil").exists());
}

#[test]
fn the_encoder_writes_h264_high_mp4_at_the_source_rate() {
    if !have_ffmpeg("the_encoder_writes_h264_high_mp4_at_the_source_rate") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("annotated.mp4");
    let source: Vec<_> = VideoDecoder::open(clip(), DecodeOptions::default())
        .unwrap()
        .take(12)
        .map(Result::unwrap)
        .collect();
    let mut encoder = VideoEncoder::create(&out, 320, 256, 25.0, None).unwrap();
    for f in source {
        let (w, h) = (f.width, f.height);
        encoder
            .write(&image::RgbImage::from_raw(w, h, f.into_rgb().unwrap()).unwrap())
            .unwrap();
    }
    let wrong = encoder.write(&image::RgbImage::new(2, 2)).unwrap_err();
    assert!(
        wrong.to_string().contains("2x2 for a 320x256 video"),
        "{wrong}"
    );
    assert_eq!(encoder.frames(), 12);
    encoder.finish().unwrap();
    let back = VideoDecoder::open(out.to_str().unwrap(), DecodeOptions::default()).unwrap();
    let info = back.info().clone();
    assert_eq!(
        (info.codec.as_str(), info.profile.as_deref(), info.fps),
        ("h264", Some("High"), 25.0)
    );
    assert_eq!(back.count(), 12);
    // odd sizes are padded to even ones
    let odd = dir.path().join("odd.mp4");
    let mut encoder = VideoEncoder::create(&odd, 33, 17, 0.0, None).unwrap();
    encoder.write(&image::RgbImage::new(33, 17)).unwrap();
    encoder.finish().unwrap();
    let info = ghost_video::probe(odd.to_str().unwrap(), None).unwrap();
    assert_eq!((info.width, info.height, info.fps), (34, 18, 30.0));
}
