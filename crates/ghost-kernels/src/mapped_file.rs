//! A read-only memory map of a file behind a safe API: the one `unsafe` operation a weights
//! loader needs lives here, so that every crate above `ghost-kernels` can
//! `#![forbid(unsafe_code)]`.

use std::fs::File;

/// The bytes of a file, mapped read-only and populated at open.
pub struct MappedFile {
    map: memmap2::Mmap,
}

impl MappedFile {
    /// Maps all of `file` read-only. Every page is mapped in the one system call (`populate`):
    /// a weights file is read whole anyway, and usually sits in the page cache, so this trades
    /// hundreds of page faults during a load for one call (the measurement is in
    /// docs/performance.md).
    pub fn open(file: &File) -> std::io::Result<MappedFile> {
        // SAFETY: the map is read-only and owned by the returned value, which only lends it as
        // `&[u8]` borrowed from `&self`, so no reference outlives the mapping and no `&mut` is
        // ever derived from it. The one hazard of a file mapping is another process truncating
        // or rewriting the file while it is mapped (reads would then fault or see changing
        // bytes); callers are told so on `MappedFile` and on the loaders built on it, and
        // weights files are not modified while a model loads.
        #[allow(unsafe_code)]
        let map = unsafe { memmap2::MmapOptions::new().populate().map(file) }?;
        Ok(MappedFile { map })
    }

    /// The file's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.map
    }
}

impl std::fmt::Debug for MappedFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MappedFile")
            .field("len", &self.map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_the_file_bytes() {
        let path = std::env::temp_dir().join(format!("ghost-mapped-{}", std::process::id()));
        std::fs::write(&path, b"ghost bytes").unwrap();
        let map = MappedFile::open(&File::open(&path).unwrap()).unwrap();
        assert_eq!(map.as_bytes(), b"ghost bytes");
        std::fs::remove_file(&path).unwrap();
    }
}
