//! How the pipeline writes a file (label files, crops, annotated images and videos, JSON): to a
//! temporary name beside the target, created exclusively (`O_CREAT | O_EXCL`, so a symlink planted
//! under that name is never followed), then renamed over the target. The rename replaces a
//! directory entry instead of writing through whatever a planted symlink at the target points
//! at, and an interrupted run leaves the previous file or the complete new one, never half of
//! one.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A fresh temporary file beside `target` (`.NAME.tmp-PID-N`), created exclusively.
pub(crate) fn create_temp(target: &Path) -> Result<(PathBuf, File), String> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut name = std::ffi::OsString::from(".");
    name.push(target.file_name().unwrap_or(std::ffi::OsStr::new("output")));
    name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let temp = dir.join(name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temp)
        .map_err(|e| format!("cannot create a temporary file in {}: {e}", dir.display()))?;
    Ok((temp, file))
}

/// Renames `temp` over `target`; on failure `temp` is removed.
pub(crate) fn commit(temp: &Path, target: &Path) -> Result<(), String> {
    std::fs::rename(temp, target).map_err(|e| {
        let _ = std::fs::remove_file(temp);
        format!("cannot write {}: {e}", target.display())
    })
}

/// Writes `bytes` to `target` through a temporary file (see the module comment).
pub(crate) fn write_file(target: &Path, bytes: &[u8]) -> Result<(), String> {
    let (temp, file) = create_temp(target)?;
    let mut writer = std::io::BufWriter::new(file);
    if let Err(e) = writer.write_all(bytes).and_then(|()| writer.flush()) {
        drop(writer);
        let _ = std::fs::remove_file(&temp);
        return Err(format!("cannot write {}: {e}", target.display()));
    }
    drop(writer);
    commit(&temp, target)
}
