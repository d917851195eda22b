//! `predict` end to end on the clip: label files, crops, annotated video, streamed JSON, and
//! inputs never overwritten.

mod common;

use std::path::Path;

use common::{clip, have_ffmpeg};
use ghost_video::{
    expand_sources, label_file, run_pipeline, DecodeOptions, Event, PipelineOptions, VideoDecoder,
};
use yolo11_ghost::detector::{Detector, DetectorOptions};

fn detector() -> Detector {
    let d = Detector::default_model(DetectorOptions {
        threads: Some(2),
        ..Default::default()
    })
    .unwrap();
    let t = d.trained_imgsz().unwrap();
    d.with_imgsz((t, t)).unwrap()
}

#[test]
fn the_clip_gives_labels_crops_an_annotated_video_and_json_per_frame() {
    if !have_ffmpeg("the_clip_gives_labels_crops_an_annotated_video_and_json_per_frame") {
        return;
    }
    let out = tempfile::tempdir().unwrap();
    let o = |p: &str| out.path().join(p);
    let options = PipelineOptions {
        batch: 4,
        decode: DecodeOptions {
            vid_stride: 3,
            ..Default::default()
        },
        queue: 2,
        save_txt: Some(o("labels")),
        save_conf: true,
        save_crop: Some(o("crops")),
        save: Some(o("annotated")),
        json: Some(o("dets.json")),
    };
    let mut expected_labels = Vec::new();
    let mut events = 0;
    let summary = run_pipeline(
        &detector(),
        expand_sources(&[clip()]).unwrap(),
        &options,
        |e| {
            events += 1;
            match e {
                Event::Frame {
                    result,
                    inference_ms,
                } => {
                    assert!(inference_ms > 0.0);
                    let f = &result.frame;
                    expected_labels.push((
                        format!("shapes_clip_{}.txt", f.origin.frame),
                        label_file(&result.detections, f.image.width(), f.image.height(), true),
                    ));
                }
                other => panic!("{other:?}"),
            }
        },
    )
    .unwrap();
    assert_eq!((summary.frames, summary.failures, events), (25, 0, 25));
    for (name, text) in &expected_labels {
        let text = text.as_ref().expect("every frame has objects");
        assert_eq!(
            &std::fs::read_to_string(o("labels").join(name)).unwrap(),
            text,
            "{name}"
        );
        assert!(
            text.lines().all(|l| l.split(' ').count() == 6),
            "class x y w h conf"
        );
    }
    assert_eq!(std::fs::read_dir(o("labels")).unwrap().count(), 25);
    for class in ["star", "circle", "triangle", "cross"] {
        assert!(
            o("crops").join(class).join("shapes_clip_1.jpg").is_file(),
            "{class}"
        );
    }
    let video = VideoDecoder::open(
        o("annotated/shapes_clip.mp4").to_str().unwrap(),
        Default::default(),
    )
    .unwrap();
    assert_eq!(
        (video.info().fps, video.info().width, video.info().height),
        (25.0, 320, 256)
    );
    assert_eq!(video.count(), 25);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(o("dets.json")).unwrap()).unwrap();
    let records = json.as_array().unwrap();
    assert_eq!(records.len(), 25);
    for (k, r) in records.iter().enumerate() {
        assert_eq!(r["frame"], k as u64 + 1);
        assert_eq!(r["frame_index"], 3 * k as u64 + 2);
        assert!(r["path"].as_str().unwrap().ends_with("shapes_clip.mp4"));
        assert!(!r["detections"].as_array().unwrap().is_empty());
    }
    // The JSON went through a temporary file renamed into place: none is left behind.
    let temps: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
}

/// Symlinks planted under the names of the JSON, a label file, an annotated image and an
/// annotated video are replaced, never written through (each output goes to a temporary file
/// renamed into place); a run into a missing directory fails before any frame without leaving a
/// file.
#[cfg(unix)]
#[test]
fn outputs_never_follow_a_planted_symlink() {
    if !have_ffmpeg("outputs_never_follow_a_planted_symlink") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let outside = dir.path().join("outside.txt");
    std::fs::write(&outside, b"keep").unwrap();
    let image = dir.path().join("frame.jpg");
    std::fs::copy(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images/shapes/shapes_val_0.jpg"),
        &image,
    )
    .unwrap();
    let out = dir.path().join("out");
    let planted = [
        out.join("dets.json"),
        out.join("labels/frame.txt"),
        out.join("save/frame.jpg"),
        out.join("save/shapes_clip.mp4"),
    ];
    for link in &planted {
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(&outside, link).unwrap();
    }
    let options = PipelineOptions {
        decode: DecodeOptions {
            vid_stride: 25,
            ..Default::default()
        },
        json: Some(planted[0].clone()),
        save_txt: Some(out.join("labels")),
        save: Some(out.join("save")),
        ..Default::default()
    };
    let sources = || expand_sources(&[image.to_string_lossy().into_owned(), clip()]).unwrap();
    let summary = run_pipeline(&detector(), sources(), &options, |_| {}).unwrap();
    assert_eq!((summary.frames, summary.failures), (4, 0));
    assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    for link in &planted {
        let meta = link.symlink_metadata().unwrap();
        assert!(meta.is_file() && meta.len() > 0, "{}", link.display());
    }
    let records: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&planted[0]).unwrap()).unwrap();
    assert_eq!(records.as_array().unwrap().len(), 4);
    let temps: Vec<_> = walk(&out)
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");

    let missing = PipelineOptions {
        json: Some(dir.path().join("no/such/dets.json")),
        ..Default::default()
    };
    let err = run_pipeline(&detector(), sources(), &missing, |_| {}).unwrap_err();
    assert!(err.contains("no/such"), "{err}");
    assert!(!dir.path().join("no").exists());
}

#[test]
fn outputs_never_overwrite_inputs_and_failures_are_counted() {
    if !have_ffmpeg("outputs_never_overwrite_inputs_and_failures_are_counted") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("shapes_clip.mp4");
    std::fs::copy(clip(), &input).unwrap();
    let before = std::fs::read(&input).unwrap();
    std::fs::write(dir.path().join("broken.jpg"), b"not a jpeg").unwrap();
    let options = PipelineOptions {
        decode: DecodeOptions {
            vid_stride: 25,
            ..Default::default()
        },
        save: Some(dir.path().to_path_buf()), // the annotated video would be the input itself
        ..Default::default()
    };
    let mut failed = Vec::new();
    let summary = run_pipeline(
        &detector(),
        expand_sources(&[dir.path().to_string_lossy().into_owned()]).unwrap(),
        &options,
        |e| {
            if let Event::Failed { location, error } = e {
                failed.push(format!("{location}: {error}"));
            }
        },
    )
    .unwrap();
    assert_eq!(summary.frames, 3);
    assert_eq!(summary.failures, 2, "{failed:?}");
    assert!(
        failed.iter().any(|f| f.contains("broken.jpg")),
        "{failed:?}"
    );
    assert!(
        failed
            .iter()
            .any(|f| f.contains("refusing to overwrite an input")),
        "{failed:?}"
    );
    assert_eq!(
        std::fs::read(&input).unwrap(),
        before,
        "the input is intact"
    );
    let json_over_input = PipelineOptions {
        json: Some(input.clone()),
        ..Default::default()
    };
    let err = run_pipeline(
        &detector(),
        expand_sources(&[clip(), input.to_string_lossy().into_owned()]).unwrap(),
        &json_over_input,
        |_| {},
    )
    .unwrap_err();
    assert!(err.contains("refusing to overwrite"), "{err}");
    assert!(Path::new(&input).is_file());
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}
