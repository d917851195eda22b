//! Ultralytics predict's `source` rules: what a list of inputs expands to.
//!
//! Each input is, in this order: a stream URL (`rtsp://`, `rtmp://`, `tcp://`, `http(s)://`), a
//! `.txt` list of sources (one a line; an entry that does not exist relative to the working
//! directory is taken relative to the list's folder), a glob pattern when it contains `*`
//! (`**` recursive; quote it so the shell leaves it alone), a directory (its `*.*` files, sorted,
//! not recursive), or a file. Files are classified by extension with Ultralytics' `IMG_FORMATS`
//! and `VID_FORMATS`; files of other extensions found in directories, globs and lists are skipped
//! as Ultralytics skips them, but a file named explicitly is read as an image (its content decides).
//! As in Ultralytics, within one input the images come first, then the videos.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use ghost_limits::text::{display_os, display_path};

/// Ultralytics' image extensions (`ultralytics.data.utils.IMG_FORMATS`).
pub const IMG_FORMATS: [&str; 13] = [
    "avif", "bmp", "dng", "heic", "heif", "jp2", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp",
];
/// Ultralytics' video extensions (`ultralytics.data.utils.VID_FORMATS`).
pub const VID_FORMATS: [&str; 12] = [
    "asf", "avi", "gif", "m4v", "mkv", "mov", "mp4", "mpeg", "mpg", "ts", "wmv", "webm",
];

/// What an input is read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// A still image file, decoded in pure Rust.
    Image,
    /// A video file, decoded by ffmpeg.
    Video,
    /// A live stream URL, decoded by ffmpeg; no frame count.
    Stream,
}

/// One expanded input: a path or URL and how it is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// File path, exactly as the OS names it (any bytes but NUL on Unix, not necessarily UTF-8),
    /// or stream URL.
    pub location: PathBuf,
    /// How it is read.
    pub kind: InputKind,
}

/// Why a source list could not be expanded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A named file, directory or list entry does not exist.
    #[error("{source_name}: no such file or directory")]
    NotFound {
        /// The source as given.
        source_name: String,
    },
    /// A `.txt` list or a directory could not be read.
    #[error("{}: cannot read: {error}", display_path(path))]
    Read {
        /// The list or directory.
        path: PathBuf,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// A glob pattern is malformed.
    #[error("{pattern}: invalid glob pattern: {message}")]
    Pattern {
        /// The pattern.
        pattern: String,
        /// What is wrong with it.
        message: String,
    },
    /// The sources held no image or video (Ultralytics: "No images or videos found").
    #[error("no images or videos found in {sources} (image formats: {}; video formats: {})", IMG_FORMATS.join(", "), VID_FORMATS.join(", "))]
    Empty {
        /// The sources, joined.
        sources: String,
    },
}

/// Whether `source` is a stream URL (`rtsp://`, `rtmp://`, `tcp://`, `http(s)://`, `udp://`,
/// `srt://`).
pub fn is_stream_url(source: &str) -> bool {
    let lower = source.to_ascii_lowercase();
    [
        "rtsp://", "rtsps://", "rtmp://", "tcp://", "udp://", "srt://", "http://", "https://",
    ]
    .iter()
    .any(|p| lower.starts_with(p))
}

/// The text after the last `.` (lower case), as Ultralytics splits it; empty when there is none
/// or it is not UTF-8 (no known extension is).
fn extension(path: &OsStr) -> String {
    let bytes = path.as_encoded_bytes();
    bytes
        .iter()
        .rposition(|&b| b == b'.')
        .and_then(|i| std::str::from_utf8(&bytes[i + 1..]).ok())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default()
}

/// Image, video, or neither (`None`) by Ultralytics' extension lists.
pub fn classify(path: impl AsRef<OsStr>) -> Option<InputKind> {
    let ext = extension(path.as_ref());
    if IMG_FORMATS.contains(&ext.as_str()) {
        Some(InputKind::Image)
    } else if VID_FORMATS.contains(&ext.as_str()) {
        Some(InputKind::Video)
    } else {
        None
    }
}

/// Expand `sources` (CLI arguments or a library user's list) into inputs, in order: per source,
/// its images, then its videos. Fails on a missing source or when nothing is found. File names
/// are kept exactly (they need not be UTF-8); glob patterns and `.txt` lists must be UTF-8.
pub fn expand_sources<S: AsRef<OsStr>>(sources: &[S]) -> Result<Vec<Input>, SourceError> {
    let mut inputs = Vec::new();
    for source in sources {
        let source = source.as_ref();
        if source.to_str().is_some_and(is_stream_url) {
            inputs.push(Input {
                location: source.into(),
                kind: InputKind::Stream,
            });
            continue;
        }
        let mut files = Vec::new();
        if extension(source) == "txt" && Path::new(source).is_file() {
            expand_list(Path::new(source), &mut files)?;
        } else {
            expand_one(source, None, true, &mut files)?;
        }
        let (images, videos): (Vec<_>, Vec<_>) = files
            .into_iter()
            .partition(|(_, kind)| *kind == InputKind::Image);
        inputs.extend(
            images
                .into_iter()
                .chain(videos)
                .map(|(location, kind)| Input { location, kind }),
        );
    }
    if inputs.is_empty() {
        return Err(SourceError::Empty {
            sources: sources
                .iter()
                .map(|s| display_os(s.as_ref()))
                .collect::<Vec<_>>()
                .join(" "),
        });
    }
    Ok(inputs)
}

/// A `.txt` list: non-empty lines (trimmed, UTF-8 BOM dropped), sorted as Ultralytics sorts them;
/// an entry missing relative to the working directory is looked up beside the list.
fn expand_list(list: &Path, files: &mut Vec<(PathBuf, InputKind)>) -> Result<(), SourceError> {
    let text = std::fs::read_to_string(list).map_err(|error| SourceError::Read {
        path: list.to_path_buf(),
        error,
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut entries: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    entries.sort_unstable();
    let parent = list.parent().unwrap_or(Path::new(""));
    for entry in entries {
        if is_stream_url(entry) {
            files.push((entry.into(), InputKind::Stream));
            continue;
        }
        let exists_here = if entry.contains('*') {
            glob::glob(entry).is_ok_and(|mut g| g.next().is_some())
        } else {
            Path::new(entry).exists()
        };
        let resolved = if exists_here || Path::new(entry).is_absolute() {
            PathBuf::from(entry)
        } else {
            parent.join(entry)
        };
        expand_one(resolved.as_os_str(), Some(entry), false, files)?;
    }
    Ok(())
}

/// A glob, a directory or a file. `explicit`: named on its own (not from a list), so a file of
/// any extension is read as an image.
fn expand_one(
    source: &OsStr,
    shown_as: Option<&str>,
    explicit: bool,
    files: &mut Vec<(PathBuf, InputKind)>,
) -> Result<(), SourceError> {
    let not_found = || SourceError::NotFound {
        source_name: shown_as.map_or_else(|| display_os(source), str::to_string),
    };
    if source.as_encoded_bytes().contains(&b'*') {
        let pattern = source.to_str().ok_or_else(|| SourceError::Pattern {
            pattern: display_os(source),
            message: "a glob pattern must be valid UTF-8".into(),
        })?;
        let paths = glob::glob(pattern).map_err(|e| SourceError::Pattern {
            pattern: pattern.to_string(),
            message: e.to_string(),
        })?;
        let mut found: Vec<PathBuf> = paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect();
        // Byte order of the whole path, as the strings were sorted (not Path's per-component order).
        found.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        files.extend(
            found
                .into_iter()
                .filter_map(|f| classify(&f).map(|k| (f, k))),
        );
        return Ok(());
    }
    let path = Path::new(source);
    if path.is_dir() {
        let entries = std::fs::read_dir(path).map_err(|error| SourceError::Read {
            path: path.to_path_buf(),
            error,
        })?;
        let mut found: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            // `*.*` as Ultralytics globs it: no hidden files
            .filter(|p| {
                p.is_file()
                    && !p
                        .file_name()
                        .is_some_and(|n| n.as_encoded_bytes().starts_with(b"."))
            })
            .collect();
        found.sort_unstable_by(|a, b| a.as_os_str().cmp(b.as_os_str()));
        files.extend(
            found
                .into_iter()
                .filter_map(|f| classify(&f).map(|k| (f, k))),
        );
        Ok(())
    } else if path.is_file() {
        match classify(source) {
            Some(kind) => files.push((source.into(), kind)),
            None if explicit => files.push((source.into(), InputKind::Image)),
            None => {}
        }
        Ok(())
    } else {
        Err(not_found())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_and_extensions_classify_like_ultralytics() {
        assert!(is_stream_url("rtsp://127.0.0.1:8554/clip"));
        assert!(is_stream_url("RTMP://host/x.mp4"));
        assert!(!is_stream_url("clip.mp4"));
        assert_eq!(classify("a/B.JPG"), Some(InputKind::Image));
        assert_eq!(classify("x.mkv"), Some(InputKind::Video));
        assert_eq!(
            classify("x.gif"),
            Some(InputKind::Video),
            "Ultralytics reads GIFs as video"
        );
        assert_eq!(classify("notes.txt"), None);
        assert_eq!(classify("noext"), None);
    }
}
