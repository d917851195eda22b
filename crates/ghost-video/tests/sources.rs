//! Ultralytics predict's source rules (directories, quoted globs, `.txt` lists, streams) and the
//! frame reader on still images; needs no FFmpeg.

use std::path::Path;

use ghost_video::{expand_sources, FrameReader, InputKind, SourceError};

fn touch(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, b"").unwrap();
}

fn names(inputs: &[ghost_video::Input]) -> Vec<(String, InputKind)> {
    inputs
        .iter()
        .map(|i| {
            let name = Path::new(&i.location)
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned();
            (name, i.kind)
        })
        .collect()
}

#[test]
fn a_directory_gives_its_images_then_its_videos_sorted() {
    let dir = tempfile::tempdir().unwrap();
    for f in [
        "b.jpg",
        "a.PNG",
        "clip.mp4",
        "notes.txt",
        "noext",
        ".hidden.jpg",
        "a.mkv",
        "sub/c.jpg",
    ] {
        touch(&dir.path().join(f));
    }
    let got = names(&expand_sources(&[dir.path().to_string_lossy().into_owned()]).unwrap());
    use InputKind::*;
    let want = [
        ("a.PNG", Image),
        ("b.jpg", Image),
        ("a.mkv", Video),
        ("clip.mp4", Video),
    ];
    assert_eq!(got, want.map(|(n, k)| (n.to_string(), k)));
}

#[test]
fn quoted_globs_expand_recursively_and_sorted() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["x/1.jpg", "x/y/2.jpg", "x/y/3.mp4", "x/y/4.txt"] {
        touch(&dir.path().join(f));
    }
    let pattern = format!("{}/x/**/*.*", dir.path().display());
    let got = names(&expand_sources(&[pattern]).unwrap());
    use InputKind::*;
    assert_eq!(
        got,
        [("1.jpg", Image), ("2.jpg", Image), ("3.mp4", Video)].map(|(n, k)| (n.to_string(), k))
    );
    let bad = format!("{}/x/[*.jpg", dir.path().display());
    assert!(matches!(
        expand_sources(&[bad]),
        Err(SourceError::Pattern { .. })
    ));
}

#[test]
fn txt_lists_resolve_entries_beside_the_list_and_name_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["imgs/a.jpg", "imgs/b.jpg", "v.mp4"] {
        touch(&dir.path().join(f));
    }
    let list = dir.path().join("list.txt");
    // BOM, blank lines, a directory, a file, a stream; entries relative to the list's folder
    std::fs::write(
        &list,
        "\u{feff}v.mp4\n\n  imgs  \nrtsp://127.0.0.1:8554/cam\n",
    )
    .unwrap();
    let got = names(&expand_sources(&[list.to_string_lossy().into_owned()]).unwrap());
    use InputKind::*;
    // sorted entries: imgs, rtsp://..., v.mp4; then images first
    let locations: Vec<_> = got.iter().map(|(n, k)| (n.as_str(), *k)).collect();
    assert_eq!(
        locations,
        [
            ("a.jpg", Image),
            ("b.jpg", Image),
            ("cam", Stream),
            ("v.mp4", Video)
        ]
    );

    std::fs::write(&list, "imgs/a.jpg\nmissing.jpg\n").unwrap();
    let err = expand_sources(&[list.to_string_lossy().into_owned()]).unwrap_err();
    assert_eq!(err.to_string(), "missing.jpg: no such file or directory");
}

#[test]
fn streams_pass_through_and_nothing_found_is_an_error() {
    let got = expand_sources(&["rtsp://10.0.0.2/stream1".to_string()]).unwrap();
    assert_eq!(got[0].kind, InputKind::Stream);
    let dir = tempfile::tempdir().unwrap();
    touch(&dir.path().join("readme.md"));
    let err = expand_sources(&[dir.path().to_string_lossy().into_owned()]).unwrap_err();
    assert!(matches!(err, SourceError::Empty { .. }), "{err:?}");
    assert!(err.to_string().contains("no images or videos found"));
    let err = expand_sources(&["/nonexistent/x.jpg".to_string()]).unwrap_err();
    assert!(matches!(err, SourceError::NotFound { .. }), "{err:?}");
}

#[test]
fn an_explicit_file_of_any_extension_is_read_as_an_image() {
    let dir = tempfile::tempdir().unwrap();
    let odd = dir.path().join("photo.data");
    touch(&odd);
    let got = expand_sources(&[odd.to_string_lossy().into_owned()]).unwrap();
    assert_eq!(got[0].kind, InputKind::Image);
}

#[test]
fn the_frame_reader_reads_images_and_reports_bad_ones_then_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("a.png");
    image::RgbImage::from_pixel(4, 3, image::Rgb([1, 2, 3]))
        .save(&good)
        .unwrap();
    std::fs::write(dir.path().join("b.jpg"), b"not a jpeg").unwrap();
    std::fs::copy(&good, dir.path().join("c.png")).unwrap();
    let inputs = expand_sources(&[dir.path().to_string_lossy().into_owned()]).unwrap();
    let items: Vec<_> = FrameReader::new(inputs, Default::default()).collect();
    assert_eq!(items.len(), 3);
    let first = items[0].as_ref().unwrap();
    assert_eq!((first.image.width(), first.image.height()), (4, 3));
    assert_eq!(first.image.get_pixel(0, 0).0, [1, 2, 3]);
    assert_eq!(
        (
            first.origin.kind,
            first.origin.frame,
            first.origin.input_index
        ),
        (InputKind::Image, 0, 0)
    );
    let err = items[1].as_ref().unwrap_err().to_string();
    assert!(err.contains("b.jpg"), "{err}");
    assert_eq!(items[2].as_ref().unwrap().origin.input_index, 2);
}

/// File names that are not UTF-8 (Linux allows any byte but `/` and NUL) stay exact from the
/// source list to the JSON record: the directory walk and an explicit path give the name byte
/// for byte (glob patterns cannot: the `glob` crate skips names that are not UTF-8), and `json_record_text` writes the bytes that are not UTF-8 as `\udcXX`
/// (Python's surrogateescape, as `predict --json` writes image paths), where a `String` would
/// have replaced them with U+FFFD.
#[cfg(unix)]
#[test]
fn non_utf8_video_names_stay_exact_up_to_the_json() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    use ghost_video::{json_record_text, Frame, FrameDetections};

    let dir = tempfile::tempdir().unwrap();
    let video = dir.path().join(OsStr::from_bytes(b"clip\xff\xfe.mp4"));
    let image = dir.path().join(OsStr::from_bytes(b"still\x80.jpg"));
    touch(&video);
    touch(&image);
    let by_dir = expand_sources(&[dir.path()]).unwrap();
    let named = expand_sources(&[video.as_os_str()]).unwrap();
    for (inputs, want) in [
        (
            &by_dir,
            vec![(&image, InputKind::Image), (&video, InputKind::Video)],
        ),
        (&named, vec![(&video, InputKind::Video)]),
    ] {
        let got: Vec<_> = inputs.iter().map(|i| (&i.location, i.kind)).collect();
        assert_eq!(got, want);
    }

    let mut frame = Frame::from_image(6, image::RgbImage::new(4, 4));
    frame.origin.location = video.clone();
    frame.origin.kind = InputKind::Video;
    let record = FrameDetections {
        frame,
        detections: Vec::new(),
        track_ids: None,
    };
    let text = json_record_text(&record);
    let want = format!(
        r#""path":"{}/clip\udcff\udcfe.mp4""#,
        dir.path().to_str().unwrap()
    );
    assert!(text.contains(&want), "{text}");
    assert!(!text.contains('\u{fffd}'), "{text}");
    // Valid JSON once the lone surrogates (which serde_json refuses) are made ordinary escapes.
    let parsed: serde_json::Value = serde_json::from_str(
        &text
            .replace("\\udcff", "\\u00ff")
            .replace("\\udcfe", "\\u00fe"),
    )
    .unwrap();
    assert_eq!(parsed["frame"], 7);
    assert_eq!(parsed["frame_index"], 6);
    // A UTF-8 name is written as before.
    let mut plain = record.frame.clone();
    plain.origin.location = "v/clip.mp4".into();
    let plain = FrameDetections {
        frame: plain,
        detections: Vec::new(),
        track_ids: None,
    };
    assert!(json_record_text(&plain).contains(r#""path":"v/clip.mp4""#));
}
