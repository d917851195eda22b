//! Decoding through the `ffmpeg` program against FFmpeg's own checksums and OpenCV's frames
//! (fixtures/video/shapes_clip.decode.json, made by tools/make_video_decode_fixtures.py).

mod common;

use common::{clip, decode_fixture, ffmpeg, have_ffmpeg, md5_hex};
use std::path::Path;

use ghost_video::{DecodeOptions, PixelFormat, VideoDecoder, VideoError, VideoFrame};

fn decode_all(input: &str, options: DecodeOptions) -> (Vec<VideoFrame>, Vec<String>) {
    let mut decoder = VideoDecoder::open(input, options).unwrap();
    let frames: Vec<VideoFrame> = decoder.by_ref().map(Result::unwrap).collect();
    (frames, decoder.warnings().to_vec())
}

/// Opens `path` with the default options, expecting a refusal.
fn open_error(path: &Path) -> VideoError {
    VideoDecoder::open(path.to_str().unwrap(), DecodeOptions::default()).unwrap_err()
}

/// Writes the first half of `src`'s bytes to `dst` (a file cut short by a crash or a full disk).
fn write_first_half(src: &Path, dst: &Path) {
    let bytes = std::fs::read(src).unwrap();
    std::fs::write(dst, &bytes[..bytes.len() / 2]).unwrap();
}

/// Each frame's MD5 equals the fixture's for its index.
fn assert_frames_md5(frames: &[VideoFrame], want: &[String], what: &str) {
    for f in frames {
        assert_eq!(
            md5_hex(&f.data),
            want[f.index as usize],
            "{what} frame {}",
            f.index
        );
    }
}

/// Opening the clip with `options` fails because `program` is not where they point.
fn assert_program_not_found(options: DecodeOptions, program: &str) -> VideoError {
    let err = VideoDecoder::open(clip(), options).unwrap_err();
    assert!(
        matches!(&err, VideoError::ProgramNotFound { program: p, .. } if *p == program),
        "{err:?}"
    );
    err
}

fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_frame_of_the_default_x264_high_profile_clip_decodes() {
    if !have_ffmpeg("every_frame_of_the_default_x264_high_profile_clip_decodes") {
        return;
    }
    let decoder = VideoDecoder::open(clip(), DecodeOptions::default()).unwrap();
    let info = decoder.info().clone();
    assert_eq!(
        (info.codec.as_str(), info.profile.as_deref()),
        ("h264", Some("High"))
    );
    assert_eq!(
        (info.width, info.height, info.fps, info.frame_count),
        (320, 256, 25.0, Some(75))
    );
    assert_eq!(decoder.expected_frames(), Some(75));
    let (frames, warnings) = decode_all(&clip(), DecodeOptions::default());
    assert_eq!(frames.len(), 75);
    assert!(frames.iter().enumerate().all(|(i, f)| f.index == i as u64));
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[test]
fn yuv_planes_equal_ffmpeg_framemd5_bit_for_bit() {
    if !have_ffmpeg("yuv_planes_equal_ffmpeg_framemd5_bit_for_bit") {
        return;
    }
    let want = strings(&decode_fixture()["yuv420p_md5"]);
    let options = DecodeOptions {
        format: PixelFormat::Yuv420p,
        ..Default::default()
    };
    let (frames, _) = decode_all(&clip(), options);
    let got: Vec<String> = frames.iter().map(|f| md5_hex(&f.data)).collect();
    assert_eq!(got, want);
    // the planes split where FFmpeg's layout puts them
    let (y, u, v) = frames[0].yuv_planes().unwrap();
    assert_eq!(
        (y.len(), u.len(), v.len()),
        (320 * 256, 160 * 128, 160 * 128)
    );
}

/// The bound: the fixture records the largest |BGR difference| between `ffmpeg -pix_fmt bgr24`
/// and `cv2.VideoCapture` over the clip. It is 0 (both convert with FFmpeg's swscale), so the
/// frames must equal OpenCV's byte for byte.
#[test]
fn bgr_frames_equal_opencv_videocapture() {
    if !have_ffmpeg("bgr_frames_equal_opencv_videocapture") {
        return;
    }
    let fixture = decode_fixture();
    assert_eq!(fixture["bgr_max_abs_diff_ffmpeg_vs_opencv"], 0);
    let want = strings(&fixture["bgr24_md5_opencv"]);
    let (frames, _) = decode_all(&clip(), DecodeOptions::default());
    let got: Vec<String> = frames.iter().map(|f| md5_hex(&f.data)).collect();
    assert_eq!(got, want);
    // RGB is the same conversion with the channels swapped
    let rgb = decode_all(
        &clip(),
        DecodeOptions {
            format: PixelFormat::Rgb24,
            ..Default::default()
        },
    )
    .0;
    assert_eq!(
        frames[10].clone().into_rgb().unwrap(),
        rgb[10].data,
        "bgr24 with B and R swapped equals rgb24"
    );
}

#[test]
fn vid_stride_keeps_the_frames_ultralytics_keeps() {
    if !have_ffmpeg("vid_stride_keeps_the_frames_ultralytics_keeps") {
        return;
    }
    let want = strings(&decode_fixture()["yuv420p_md5"]);
    let options = DecodeOptions {
        format: PixelFormat::Yuv420p,
        vid_stride: 4,
        ..Default::default()
    };
    assert_eq!(
        VideoDecoder::open(clip(), options.clone())
            .unwrap()
            .expected_frames(),
        Some(18)
    );
    let (frames, _) = decode_all(&clip(), options);
    // Ultralytics grab()s vid_stride frames and keeps the last: frames 3, 7, ..., 71
    let indexes: Vec<u64> = frames.iter().map(|f| f.index).collect();
    assert_eq!(indexes, (0..18).map(|k| 4 * k + 3).collect::<Vec<_>>());
    assert_frames_md5(&frames, &want, "vid_stride 4");
}

#[test]
fn a_truncated_file_gives_the_frames_decoded_so_far_and_a_warning() {
    if !have_ffmpeg("a_truncated_file_gives_the_frames_decoded_so_far_and_a_warning") {
        return;
    }
    let want = strings(&decode_fixture()["yuv420p_md5"]);
    let dir = tempfile::tempdir().unwrap();
    for (name, extra) in [
        ("clip.mkv", &[][..]),
        ("faststart.mp4", &["-movflags", "+faststart"][..]),
    ] {
        let whole = dir.path().join(name);
        let whole_s = whole.to_str().unwrap();
        let mut args = vec!["-i", &*Box::leak(clip().into_boxed_str()), "-c", "copy"];
        args.extend_from_slice(extra);
        args.push(whole_s);
        ffmpeg(&args);
        let cut = dir.path().join(format!("cut_{name}"));
        write_first_half(&whole, &cut);
        let options = DecodeOptions {
            format: PixelFormat::Yuv420p,
            ..Default::default()
        };
        let (frames, warnings) = decode_all(cut.to_str().unwrap(), options);
        assert!(
            (10..75).contains(&frames.len()),
            "{name}: {} frames from half the file",
            frames.len()
        );
        // the frames before the cut are exact; FFmpeg may conceal the last one or two
        assert_frames_md5(&frames[..frames.len() - 2], &want, name);
        assert_eq!(warnings.len(), 1, "{name}: {warnings:?}");
        assert!(
            warnings[0].contains("frames decoded so far are kept"),
            "{warnings:?}"
        );
    }
}

#[test]
fn an_mp4_cut_before_its_index_is_a_clear_error() {
    if !have_ffmpeg("an_mp4_cut_before_its_index_is_a_clear_error") {
        return;
    }
    // x264's default MP4 has its `moov` index at the end: half a file has no frames to give.
    let dir = tempfile::tempdir().unwrap();
    let cut = dir.path().join("cut.mp4");
    write_first_half(Path::new(&clip()), &cut);
    let err = open_error(&cut);
    assert!(matches!(err, VideoError::Unreadable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("cut.mp4") && msg.contains("moov atom not found"),
        "{msg}"
    );
}

#[test]
fn an_unknown_codec_is_a_clear_error() {
    if !have_ffmpeg("an_unknown_codec_is_a_clear_error") {
        return;
    }
    // the clip in AVI with its FourCC (`avc1`) replaced by one no decoder claims
    let dir = tempfile::tempdir().unwrap();
    let avi = dir.path().join("clip.avi");
    ffmpeg(&["-i", &clip(), "-c", "copy", avi.to_str().unwrap()]);
    let bytes = std::fs::read(&avi).unwrap();
    let mut patched = bytes.clone();
    let mut replaced = 0;
    for i in 0..patched.len() - 4 {
        if &patched[i..i + 4] == b"avc1" {
            patched[i..i + 4].copy_from_slice(b"QQ9Z");
            replaced += 1;
        }
    }
    assert!(replaced >= 1, "the AVI names its codec");
    let bad = dir.path().join("unknown_codec.avi");
    std::fs::write(&bad, patched).unwrap();
    let err = open_error(&bad);
    assert!(
        matches!(err, VideoError::UnsupportedCodec { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("unsupported video codec"), "{err}");
}

#[test]
fn not_a_video_no_video_stream_and_missing_files_are_clear_errors() {
    if !have_ffmpeg("not_a_video_no_video_stream_and_missing_files_are_clear_errors") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.mp4");
    std::fs::write(&text, "not a video\n").unwrap();
    let err = open_error(&text);
    assert!(matches!(err, VideoError::Unreadable { .. }), "{err:?}");
    assert!(err.to_string().contains("notes.mp4"), "{err}");

    let wav = dir.path().join("tone.wav");
    ffmpeg(&["-f", "lavfi", "-i", "sine=d=0.2", wav.to_str().unwrap()]);
    let err = open_error(&wav);
    assert!(matches!(err, VideoError::NoVideoStream { .. }), "{err:?}");

    let missing = dir.path().join("missing.mp4");
    let err = open_error(&missing);
    assert!(matches!(err, VideoError::NotFound { .. }), "{err:?}");
}

#[test]
fn a_missing_ffmpeg_is_named_in_the_error() {
    // runs without FFmpeg too: nothing is spawned successfully
    let nowhere = std::path::PathBuf::from("/nonexistent/bin/ffprobe");
    let options = DecodeOptions {
        ffprobe: Some(nowhere.clone()),
        ..Default::default()
    };
    let err = assert_program_not_found(options, "ffprobe");
    let msg = err.to_string();
    assert!(
        msg.contains("ffprobe not found") && msg.contains("apt-get install ffmpeg"),
        "{msg}"
    );
    assert!(msg.contains("GHOST_FFPROBE"), "{msg}");
    if !have_ffmpeg("a_missing_ffmpeg_is_named_in_the_error (ffmpeg half)") {
        return;
    }
    let options = DecodeOptions {
        ffmpeg: Some("/nonexistent/bin/ffmpeg".into()),
        ..Default::default()
    };
    let err = assert_program_not_found(options, "ffmpeg");
    assert!(err.to_string().contains("GHOST_FFMPEG"), "{err}");
}

#[test]
fn invalid_options_are_rejected() {
    for (options, name) in [
        (
            DecodeOptions {
                vid_stride: 0,
                ..Default::default()
            },
            "vid_stride",
        ),
        (
            DecodeOptions {
                queue: 0,
                ..Default::default()
            },
            "queue",
        ),
    ] {
        let err = VideoDecoder::open(clip(), options).unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
}

#[test]
fn stopping_early_stops_ffmpeg() {
    if !have_ffmpeg("stopping_early_stops_ffmpeg") {
        return;
    }
    // a long input that ffmpeg would decode for minutes: take 5 frames and drop the decoder
    let options = DecodeOptions {
        queue: 1,
        ..Default::default()
    };
    let started = std::time::Instant::now();
    let mut decoder = VideoDecoder::open(clip(), options).unwrap();
    let first: Vec<_> = decoder.by_ref().take(5).map(Result::unwrap).collect();
    assert_eq!(first.len(), 5);
    drop(decoder);
    assert!(started.elapsed().as_secs() < 30);
}
