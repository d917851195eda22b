//! Detections on the committed clip through the frame iterator: equal to those on the same frames
//! extracted as PNG (what Ultralytics would read with cv2.imread), every true object found, and
//! batching / vid_stride as Ultralytics.

mod common;

use common::{clip, ffmpeg, fixtures, have_ffmpeg};
use ghost_video::{detect_frames, expand_sources, DecodeOptions, FrameDetections, FrameReader};
use yolo11_ghost::detector::{Detector, DetectorOptions};

fn detector() -> Detector {
    let d = Detector::default_model(DetectorOptions {
        threads: Some(2),
        ..Default::default()
    })
    .unwrap();
    let trained = d.trained_imgsz().unwrap();
    d.with_imgsz((trained, trained)).unwrap()
}

fn run(sources: &[String], batch: usize, vid_stride: u64) -> Vec<FrameDetections> {
    let detector = detector();
    let decode = DecodeOptions {
        vid_stride,
        ..Default::default()
    };
    let reader = FrameReader::new(expand_sources(sources).unwrap(), decode);
    detect_frames(&detector, reader, batch)
        .map(Result::unwrap)
        .collect()
}

fn iou(a: [f32; 4], b: [f64; 4]) -> f64 {
    let a = a.map(f64::from);
    let iw = (a[2].min(b[2]) - a[0].max(b[0])).max(0.0);
    let ih = (a[3].min(b[3]) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)
}

#[test]
fn clip_detections_equal_png_frame_detections_and_find_every_object() {
    if !have_ffmpeg("clip_detections_equal_png_frame_detections_and_find_every_object") {
        return;
    }
    let video = run(&[clip()], 1, 1);
    assert_eq!(video.len(), 75);
    let dir = tempfile::tempdir().unwrap();
    let pattern = dir.path().join("f%03d.png");
    ffmpeg(&[
        "-i",
        &clip(),
        "-vsync",
        "passthrough",
        "-start_number",
        "0",
        pattern.to_str().unwrap(),
    ]);
    let pngs = run(&[dir.path().to_string_lossy().into_owned()], 1, 1);
    assert_eq!(pngs.len(), 75);
    for (i, (v, p)) in video.iter().zip(&pngs).enumerate() {
        assert_eq!(v.frame.origin.frame_index, i as u64);
        assert_eq!(v.frame.origin.frame, i as u64 + 1);
        assert_eq!(v.frame.image, p.frame.image, "frame {i}: pixels");
        assert_eq!(v.detections, p.detections, "frame {i}: detections");
    }
    // every true object found with its class (IoU >= 0.8: the worst seen when the clip was made
    // was 0.83), and at most 2 extra boxes over the clip (2 low-confidence ones when made)
    let truth: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("shapes_clip.truth.json")).unwrap(),
    )
    .unwrap();
    let mut extra = 0;
    for (f, objects) in video.iter().zip(truth["boxes"].as_array().unwrap()) {
        let objects = objects.as_array().unwrap();
        for o in objects {
            let b: Vec<f64> = o["box"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            let class = o["class"].as_u64().unwrap() as usize;
            let best = f
                .detections
                .iter()
                .filter(|d| d.class_id == class)
                .map(|d| iou([d.x1, d.y1, d.x2, d.y2], [b[0], b[1], b[2], b[3]]))
                .fold(0.0, f64::max);
            assert!(
                best >= 0.8,
                "frame {}: object {o} best IoU {best}",
                f.frame.origin.frame_index
            );
        }
        extra += f.detections.len().saturating_sub(objects.len());
    }
    assert!(extra <= 2, "{extra} extra boxes");
}

#[test]
fn batching_and_vid_stride_keep_ultralytics_frames_and_results() {
    if !have_ffmpeg("batching_and_vid_stride_keep_ultralytics_frames_and_results") {
        return;
    }
    let single = run(&[clip()], 1, 3);
    let batched = run(&[clip()], 4, 3);
    assert_eq!(single.len(), 25);
    assert_eq!(batched.len(), 25);
    for (s, b) in single.iter().zip(&batched) {
        assert_eq!(s.frame.origin.frame_index, b.frame.origin.frame_index);
        assert_eq!(s.frame.origin.total_frames, Some(25));
        assert_eq!(
            s.detections.len(),
            b.detections.len(),
            "frame {}",
            s.frame.origin.frame_index
        );
        // one forward pass for 4 frames runs the same kernels per image: equal to 1e-4 px / conf
        for (x, y) in s.detections.iter().zip(&b.detections) {
            assert_eq!(x.class_id, y.class_id);
            for (p, q) in [
                (x.x1, y.x1),
                (x.y1, y.y1),
                (x.x2, y.x2),
                (x.y2, y.y2),
                (x.confidence, y.confidence),
            ] {
                assert!((p - q).abs() <= 1e-4, "{x:?} vs {y:?}");
            }
        }
    }
    let indexes: Vec<u64> = single.iter().map(|f| f.frame.origin.frame_index).collect();
    assert_eq!(indexes, (0..25).map(|k| 3 * k + 2).collect::<Vec<_>>());
}
