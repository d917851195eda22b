//! Directory walks that always end and never count a file twice.
//!
//! Symlinks are followed (as Ultralytics' `glob` follows them), so a link back to an ancestor
//! makes a cycle, and two links to one directory would list its files twice. Each directory is
//! entered once and each file kept once, both identified by (device, inode); what was not kept
//! is returned with the reason, so callers can say so instead of silently changing a count.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::file::FileKind;
use crate::text::display_path;

/// Default cap on directory entries one walk examines (`GHOST_YOLO_MAX_WALK_ENTRIES`).
pub const DEFAULT_MAX_ENTRIES: u64 = 10_000_000;

/// Why a walk stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WalkError {
    /// A directory could not be listed.
    #[error("cannot list directory {}: {source}", display_path(path))]
    Io {
        /// The directory.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// More entries than the cap.
    #[error(
        "{}: more than {limit} directory entries (raise GHOST_YOLO_MAX_WALK_ENTRIES)",
        display_path(root)
    )]
    TooManyEntries {
        /// Where the walk started.
        root: PathBuf,
        /// The cap.
        limit: u64,
    },
}

/// The result of a walk: the files kept, in sorted path order, and what was passed over.
#[derive(Debug, Default)]
pub struct Walk {
    /// Regular files accepted by the filter, each (device, inode) once, sorted by path.
    pub files: Vec<PathBuf>,
    /// Entries accepted by the filter but not kept, with why: a second path to a file or
    /// directory already seen (a symlink loop or a duplicate link), a FIFO or device, a
    /// dangling link.
    pub skipped: Vec<(PathBuf, String)>,
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    // No inode numbers: cycles cannot be detected; the entry cap still ends the walk.
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    (
        u64::MAX,
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
    )
}

/// The files under `root` (a directory) for which `accept(path)` holds; with `recursive`,
/// sub-directories too. At most `max_entries` directory entries are examined.
pub fn walk_files(
    root: &Path,
    recursive: bool,
    max_entries: u64,
    accept: impl Fn(&Path) -> bool,
) -> Result<Walk, WalkError> {
    let mut walk = Walk::default();
    let mut dirs_seen = HashSet::new();
    let mut files_seen = HashSet::new();
    let root_meta = std::fs::metadata(root).map_err(|source| WalkError::Io {
        path: root.to_path_buf(),
        source,
    })?;
    dirs_seen.insert(identity(&root_meta));
    let mut pending = vec![root.to_path_buf()];
    let mut entries = 0u64;
    while let Some(dir) = pending.pop() {
        let listing = std::fs::read_dir(&dir).map_err(|source| WalkError::Io {
            path: dir.clone(),
            source,
        })?;
        let mut children: Vec<PathBuf> = Vec::new();
        for entry in listing {
            entries += 1;
            if entries > max_entries {
                return Err(WalkError::TooManyEntries {
                    root: root.to_path_buf(),
                    limit: max_entries,
                });
            }
            let entry = entry.map_err(|source| WalkError::Io {
                path: dir.clone(),
                source,
            })?;
            children.push(entry.path());
        }
        children.sort();
        for path in children {
            // `metadata` follows symlinks: a link is judged by what it points at.
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) => {
                    if accept(&path) {
                        walk.skipped.push((path, format!("cannot be read: {e}")));
                    }
                    continue;
                }
            };
            match FileKind::of(&meta) {
                FileKind::Directory => {
                    if !recursive {
                        continue;
                    }
                    if dirs_seen.insert(identity(&meta)) {
                        pending.push(path);
                    } else {
                        walk.skipped.push((
                            path,
                            "a directory already walked (symlink loop or second link)".into(),
                        ));
                    }
                }
                FileKind::Regular if accept(&path) => {
                    if files_seen.insert(identity(&meta)) {
                        walk.files.push(path);
                    } else {
                        walk.skipped
                            .push((path, "the same file as another path already listed".into()));
                    }
                }
                FileKind::Regular => {}
                kind if accept(&path) => {
                    walk.skipped
                        .push((path, format!("is {kind}, not a regular file")));
                }
                _ => {}
            }
        }
    }
    walk.files.sort();
    Ok(walk)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn symlink_loops_end_and_files_count_once() {
        let root = std::env::temp_dir().join(format!("ghost-limits-walk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/one.jpg"), b"x").unwrap();
        std::fs::write(root.join("a/b/two.jpg"), b"x").unwrap();
        std::fs::write(root.join("a/b/notes.md"), b"x").unwrap();
        symlink(root.join("a"), root.join("a/b/loop")).unwrap(); // cycle
        symlink(root.join("a/one.jpg"), root.join("alias.jpg")).unwrap(); // same file twice
        symlink(root.join("missing.jpg"), root.join("dangling.jpg")).unwrap();
        let jpg = |p: &Path| p.extension().is_some_and(|e| e == "jpg");
        let walk = walk_files(&root, true, 1000, jpg).unwrap();
        assert_eq!(walk.files.len(), 2, "{walk:?}");
        assert_eq!(walk.skipped.len(), 3, "{walk:?}"); // loop, alias (or one.jpg), dangling
        let flat = walk_files(&root.join("a"), false, 1000, jpg).unwrap();
        assert_eq!(flat.files, [root.join("a/one.jpg")]);
        let err = walk_files(&root, true, 2, jpg).unwrap_err();
        assert!(
            matches!(err, WalkError::TooManyEntries { limit: 2, .. }),
            "{err}"
        );
        std::fs::remove_dir_all(&root).unwrap();
    }
}
