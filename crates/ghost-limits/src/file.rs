//! Reading files from untrusted paths: regular files only, opened without blocking, read up to
//! a cap.
//!
//! A path may name a FIFO (an `open` for reading blocks until a writer appears, forever if none
//! does), a character device (`/dev/zero` never ends, `/dev/tty` waits for the user), a socket
//! or a directory, directly or through a symlink. [`open_regular`] checks the kind on the path
//! first (for the message) and again on the open descriptor (so a swap between the two cannot
//! slip through), and opens with `O_NONBLOCK`, which makes the open of a FIFO return at once
//! instead of waiting for a writer. [`read_bounded`] then refuses a file whose size is above the
//! cap before reading, and reads at most cap + 1 bytes in case the size changes underneath.

use std::fs::{File, Metadata};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What a path turned out to be, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file (the only kind that is read).
    Regular,
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// Anything else.
    Other,
}

impl FileKind {
    /// The kind of `meta` (from `stat`, which follows symlinks).
    pub fn of(meta: &Metadata) -> FileKind {
        let ft = meta.file_type();
        if ft.is_file() {
            return FileKind::Regular;
        }
        if ft.is_dir() {
            return FileKind::Directory;
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileTypeExt;
            if ft.is_fifo() {
                return FileKind::Fifo;
            }
            if ft.is_char_device() {
                return FileKind::CharDevice;
            }
            if ft.is_block_device() {
                return FileKind::BlockDevice;
            }
            if ft.is_socket() {
                return FileKind::Socket;
            }
        }
        FileKind::Other
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO (named pipe)",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Other => "not a regular file",
        })
    }
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The path is not a regular file (nothing was read from it).
    #[error("{}: is {kind}, not a regular file", crate::text::display_path(path))]
    NotRegular {
        /// The path as given.
        path: PathBuf,
        /// What it is.
        kind: FileKind,
    },
    /// The file is larger than the cap for its role.
    #[error(
        "{}: {size} bytes, more than the {limit} allowed for {what} (raise it with {knob})",
        crate::text::display_path(path)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Its size (or the bytes read before stopping, when the size grew).
        size: u64,
        /// The cap.
        limit: u64,
        /// What the file was read as (`a model YAML`, `a label file`, ...).
        what: &'static str,
        /// The flag or environment variable that raises the cap.
        knob: &'static str,
    },
    /// The operating system refused.
    #[error("cannot read {}: {source}", crate::text::display_path(path))]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
}

impl FileError {
    /// True when the file does not exist (callers treating a missing file as empty use it).
    pub fn is_not_found(&self) -> bool {
        matches!(self, FileError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound)
    }
}

/// How a read is bounded: the cap in bytes, what the file is, and which knob raises the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadLimit {
    /// The largest size read, in bytes.
    pub bytes: u64,
    /// What the file is read as, for messages.
    pub what: &'static str,
    /// The flag or environment variable that raises `bytes`, for messages.
    pub knob: &'static str,
}

/// Opens `path` for reading if it is a regular file (following symlinks), without ever blocking.
pub fn open_regular(path: &Path) -> Result<(File, Metadata), FileError> {
    let io = |source| FileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let not_regular = |kind| FileError::NotRegular {
        path: path.to_path_buf(),
        kind,
    };
    // Checked on the path first: opening a socket fails with an unhelpful ENXIO, and this names
    // the kind without touching the file.
    let kind = FileKind::of(&std::fs::metadata(path).map_err(io)?);
    if kind != FileKind::Regular {
        return Err(not_regular(kind));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NONBLOCK: a FIFO swapped in after the check above opens at once instead of waiting
        // for a writer (and is then refused below). It has no effect on regular files.
        // O_NOCTTY: a terminal device never becomes our controlling terminal.
        options.custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    let kind = FileKind::of(&meta);
    if kind != FileKind::Regular {
        return Err(not_regular(kind));
    }
    Ok((file, meta))
}

/// The whole of a regular file, refused if larger than `limit.bytes`.
pub fn read_bounded(path: &Path, limit: ReadLimit) -> Result<Vec<u8>, FileError> {
    let (file, meta) = open_regular(path)?;
    let too_large = |size| FileError::TooLarge {
        path: path.to_path_buf(),
        size,
        limit: limit.bytes,
        what: limit.what,
        knob: limit.knob,
    };
    if meta.len() > limit.bytes {
        return Err(too_large(meta.len()));
    }
    // The size can change between fstat and read (a file being appended to): read one byte more
    // than the cap so that growth past it is noticed, never more.
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|source| FileError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit.bytes {
        return Err(too_large(bytes.len() as u64));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text_bounded(path: &Path, limit: ReadLimit) -> Result<String, FileError> {
    let bytes = read_bounded(path, limit)?;
    String::from_utf8(bytes).map_err(|e| FileError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e.utf8_error()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: ReadLimit = ReadLimit {
        bytes: 16,
        what: "a test file",
        knob: "nothing",
    };

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ghost-limits-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    #[test]
    fn reads_small_regular_files_and_refuses_large_ones() {
        let p = scratch("small");
        std::fs::write(&p, b"hello").unwrap();
        assert_eq!(read_bounded(&p, CAP).unwrap(), b"hello");
        std::fs::write(&p, [0u8; 17]).unwrap();
        let err = read_bounded(&p, CAP).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::TooLarge {
                    size: 17,
                    limit: 16,
                    ..
                }
            ),
            "{err}"
        );
        std::fs::write(&p, [0u8; 16]).unwrap();
        assert_eq!(
            read_bounded(&p, CAP).unwrap().len(),
            16,
            "the cap itself is allowed"
        );
    }

    #[test]
    fn refuses_directories_and_devices_by_kind() {
        let dir = std::env::temp_dir();
        let err = read_bounded(&dir, CAP).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::NotRegular {
                    kind: FileKind::Directory,
                    ..
                }
            ),
            "{err}"
        );
        #[cfg(unix)]
        {
            let err = read_bounded(Path::new("/dev/zero"), CAP).unwrap_err();
            assert!(
                matches!(
                    err,
                    FileError::NotRegular {
                        kind: FileKind::CharDevice,
                        ..
                    }
                ),
                "{err}"
            );
            assert!(
                err.to_string().contains("/dev/zero: is a character device"),
                "{err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let p = scratch("fifo");
        let _ = std::fs::remove_file(&p);
        let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
        // No writer ever opens it: a blocking open would hang this test.
        assert_eq!(unsafe_free_mkfifo(&c), 0);
        let err = read_bounded(&p, CAP).unwrap_err();
        assert!(
            matches!(
                err,
                FileError::NotRegular {
                    kind: FileKind::Fifo,
                    ..
                }
            ),
            "{err}"
        );
        std::fs::remove_file(&p).unwrap();
    }

    /// `mkfifo` through the `mkfifo` program: this crate has no `unsafe`.
    #[cfg(unix)]
    fn unsafe_free_mkfifo(path: &std::ffi::CStr) -> i32 {
        let status = std::process::Command::new("mkfifo")
            .arg(path.to_str().unwrap())
            .status()
            .unwrap();
        status.code().unwrap_or(-1)
    }
}
