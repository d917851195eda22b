//! RTSP against a real server: GStreamer's RTSP server (tools/rtsp_serve.py) started on loopback
//! serving the committed clip, read through ffmpeg for a bounded number of frames, then stopped.
//! Skipped with a message when ffmpeg or the GStreamer pieces are missing, unless
//! GHOST_REQUIRE_RTSP=1 (tools/ci_video.sh sets it after installing them): then it fails.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{clip, decode_fixture, have_rtsp_server, md5_hex, RtspServer};
use ghost_video::{DecodeOptions, PixelFormat, VideoDecoder};

/// Run `f` on a thread and fail if it takes longer than `limit` (a stream must never hang a test).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not finish within {limit:?}"))
}

#[test]
fn rtsp_frames_equal_the_files_frames_for_a_bounded_read() {
    if !have_rtsp_server("rtsp_frames_equal_the_files_frames_for_a_bounded_read") {
        return;
    }
    let want: Vec<String> = decode_fixture()["yuv420p_md5"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let server = RtspServer::start(&clip());
    let url = server.url.clone();
    let frames = within(Duration::from_secs(60), move || {
        let options = DecodeOptions {
            format: PixelFormat::Yuv420p,
            ..Default::default()
        };
        let mut decoder = VideoDecoder::open(&url, options).unwrap();
        assert_eq!(decoder.info().codec, "h264");
        assert_eq!((decoder.info().width, decoder.info().height), (320, 256));
        // the server announces the file's range (npt=0-3.0): 3 s at 25 fps
        assert_eq!(decoder.expected_frames(), Some(75));
        let frames: Vec<_> = decoder.by_ref().take(20).map(Result::unwrap).collect();
        frames
    });
    // The server sends the file's H.264 as it is, from its first frame: decoding is exact.
    assert_eq!(frames.len(), 20);
    for f in &frames {
        assert_eq!(
            md5_hex(&f.data),
            want[f.index as usize],
            "frame {}",
            f.index
        );
    }
    drop(server);
}

#[test]
fn a_stream_that_stops_ends_with_the_frames_so_far() {
    if !have_rtsp_server("a_stream_that_stops_ends_with_the_frames_so_far") {
        return;
    }
    let mut server = RtspServer::start(&clip());
    let url = server.url.clone();
    let mut decoder = VideoDecoder::open(&url, DecodeOptions::default()).unwrap();
    let first: Vec<_> = decoder.by_ref().take(5).map(Result::unwrap).collect();
    assert_eq!(first.len(), 5);
    // the camera goes away mid-stream
    server.stop();
    let (rest, warnings) = within(Duration::from_secs(60), move || {
        let rest: Vec<_> = decoder.by_ref().collect();
        (rest, decoder.warnings().to_vec())
    });
    assert!(
        rest.iter().all(Result::is_ok),
        "no error after frames were read"
    );
    assert!(
        5 + rest.len() < 75,
        "{} frames after the server stopped",
        rest.len()
    );
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("the stream ended"), "{warnings:?}");
    assert!(
        warnings[0].contains(&format!("stopped after {} frame(s)", 5 + rest.len())),
        "{warnings:?}"
    );
}
