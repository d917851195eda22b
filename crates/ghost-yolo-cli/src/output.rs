//! Everything the CLI writes goes through here, so that no output can destroy an input.
//!
//! - Names follow Ultralytics' `increment_path`: an existing `runs/x` becomes `runs/x2`,
//!   `runs/x3`, ... (`out.json` -> `out2.json`), unless `--exist-ok`.
//! - A file is written to a temporary name in its own directory (created exclusively, so a
//!   planted symlink at that name is never followed) and renamed over the target: an
//!   interrupted run leaves the old file or the new one, never half of one, and the rename
//!   replaces a directory entry instead of writing through whatever it points at.
//! - A target that is one of the inputs (same device and inode: the same path, a hard link, or
//!   a symlink to it), a symlink, or not a regular file is refused, `--exist-ok` or not.

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ghost_limits::text::display_path;

/// Ultralytics `increment_path(path, exist_ok, sep="")`: `path` itself if it does not exist
/// (or `exist_ok`), else the first free `path2`, `path3`, ... (the number goes before a file's
/// extension). `None` after 9999 tries, as Ultralytics gives up.
pub fn increment_path(path: &Path, exist_ok: bool) -> Option<PathBuf> {
    if exist_ok || std::fs::symlink_metadata(path).is_err() {
        return Some(path.to_path_buf());
    }
    let is_file = path.extension().is_some() && !path.is_dir();
    let (base, suffix): (PathBuf, OsString) = if is_file {
        let ext = path.extension().unwrap_or_default();
        let mut dot = OsString::from(".");
        dot.push(ext);
        (path.with_extension(""), dot)
    } else {
        (path.to_path_buf(), OsString::new())
    };
    (2..9999).find_map(|n| {
        let mut name = base.clone().into_os_string();
        name.push(n.to_string());
        name.push(&suffix);
        let candidate = PathBuf::from(name);
        std::fs::symlink_metadata(&candidate)
            .is_err()
            .then_some(candidate)
    })
}

#[cfg(unix)]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(_meta: &std::fs::Metadata) -> (u64, u64) {
    (0, 0)
}

/// The files a command reads (images, weights, YAML), by device and inode.
#[derive(Debug, Default)]
pub struct Inputs {
    ids: HashSet<(u64, u64)>,
}

impl Inputs {
    /// Records `path` (following symlinks; a path that cannot be read is not an input).
    pub fn add(&mut self, path: &Path) {
        if let Ok(meta) = std::fs::metadata(path) {
            if meta.is_file() {
                self.ids.insert(identity(&meta));
            }
        }
    }

    fn contains(&self, meta: &std::fs::Metadata) -> bool {
        cfg!(unix) && self.ids.contains(&identity(meta))
    }
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Whether `target` may be written: not one of the inputs, not a symlink, not something other
/// than a regular file. [`write_atomic`] checks this again; commands call it before their work
/// too, so a refused output costs nothing.
pub fn check_target(target: &Path, inputs: &Inputs) -> Result<(), String> {
    let shown = display_path(target);
    if let Ok(meta) = std::fs::symlink_metadata(target) {
        if meta.file_type().is_symlink() {
            return Err(format!(
                "refusing to write {shown}: it is a symlink (an output never follows one)"
            ));
        }
        if !meta.is_file() {
            return Err(format!(
                "refusing to write {shown}: it exists and is not a regular file"
            ));
        }
        if inputs.contains(&meta) {
            return Err(format!(
                "refusing to write {shown}: it is one of this command's inputs"
            ));
        }
    }
    Ok(())
}

/// Writes `target` through `write` on a temporary file in the same directory, then renames it
/// into place. Refuses a target that is an input, a symlink or not a regular file.
pub fn write_atomic(
    target: &Path,
    inputs: &Inputs,
    write: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<(), String>,
) -> Result<(), String> {
    let mut file = AtomicFile::create(target, inputs)?;
    write(file.writer())?;
    file.commit(inputs)
}

/// An output written in pieces (a JSON record per video frame) to a temporary file beside
/// `target`, renamed into place by [`AtomicFile::commit`]; dropped without a commit (an error,
/// a panic), the temporary file is removed and `target` is left as it was.
#[derive(Debug)]
pub struct AtomicFile {
    target: PathBuf,
    temp: PathBuf,
    writer: Option<std::io::BufWriter<File>>,
}

impl AtomicFile {
    /// Checks `target` ([`check_target`]) and creates the temporary file beside it.
    pub fn create(target: &Path, inputs: &Inputs) -> Result<Self, String> {
        check_target(target, inputs)?;
        let dir = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = target.file_name().unwrap_or(OsStr::new("output"));
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        temp_name.push(format!(
            ".tmp-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let temp = dir.join(temp_name);
        // create_new = O_CREAT | O_EXCL: fails on anything already there, a symlink included.
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(|e| {
                format!(
                    "cannot create a temporary file in {}: {e}",
                    display_path(&dir)
                )
            })?;
        Ok(Self {
            target: target.to_path_buf(),
            temp,
            writer: Some(std::io::BufWriter::new(file)),
        })
    }

    /// Where the bytes go until [`AtomicFile::commit`].
    pub fn writer(&mut self) -> &mut std::io::BufWriter<File> {
        self.writer
            .as_mut()
            .expect("the writer is only taken by commit, which consumes self")
    }

    /// Flushes and renames the temporary file over the target (checked again: the target may
    /// have appeared while the command ran).
    pub fn commit(mut self, inputs: &Inputs) -> Result<(), String> {
        let shown = display_path(&self.target);
        let mut writer = self.writer.take().expect("commit runs once");
        writer
            .flush()
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
        drop(writer);
        check_target(&self.target, inputs)?;
        std::fs::rename(&self.temp, &self.target)
            .map_err(|e| format!("cannot write {shown}: {e}"))?;
        // Renamed: nothing left for Drop to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        self.writer.take();
        if !self.temp.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ghost-cli-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn increment_path_matches_ultralytics() {
        let dir = scratch("inc");
        let run = dir.join("predict");
        assert_eq!(increment_path(&run, false).unwrap(), run);
        std::fs::create_dir(&run).unwrap();
        assert_eq!(increment_path(&run, false).unwrap(), dir.join("predict2"));
        assert_eq!(increment_path(&run, true).unwrap(), run);
        std::fs::create_dir(dir.join("predict2")).unwrap();
        assert_eq!(increment_path(&run, false).unwrap(), dir.join("predict3"));
        let json = dir.join("out.json");
        std::fs::write(&json, b"{}").unwrap();
        assert_eq!(increment_path(&json, false).unwrap(), dir.join("out2.json"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn never_writes_through_symlinks_or_over_inputs() {
        let dir = scratch("atomic");
        let outside = dir.join("outside.txt");
        std::fs::write(&outside, b"keep").unwrap();
        let out = dir.join("out");
        std::fs::create_dir(&out).unwrap();
        std::os::unix::fs::symlink(&outside, out.join("a.jpg")).unwrap();
        let err = write_atomic(&out.join("a.jpg"), &Inputs::default(), |w| {
            w.write_all(b"new").map_err(|e| e.to_string())
        })
        .unwrap_err();
        assert!(err.contains("symlink"), "{err}");
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");

        let mut inputs = Inputs::default();
        inputs.add(&outside);
        let hard = out.join("b.jpg");
        std::fs::hard_link(&outside, &hard).unwrap();
        let err = write_atomic(&hard, &inputs, |_| Ok(())).unwrap_err();
        assert!(err.contains("one of this command's inputs"), "{err}");
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");

        // A failed write leaves neither a half file nor a temporary one.
        let target = out.join("c.json");
        let err = write_atomic(&target, &inputs, |w| {
            w.write_all(b"half").unwrap();
            Err("interrupted".into())
        })
        .unwrap_err();
        assert_eq!(err, "interrupted");
        assert!(!target.exists());
        let left: Vec<_> = std::fs::read_dir(&out).unwrap().collect();
        assert_eq!(left.len(), 2, "only the two links: {left:?}");

        write_atomic(&target, &inputs, |w| {
            w.write_all(b"{}").map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
