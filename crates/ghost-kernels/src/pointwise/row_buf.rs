//! Storage of packed weight rows: 64-byte aligned, zero-initialised, and backed by transparent
//! huge pages when large.
//!
//! A model's packed weights are written once at load and then streamed by every forward pass.
//! With 4 KiB pages, loading yolo11m-ghost spent about half its time in page faults on these
//! buffers (one fault and one zeroed page per 4 KiB); a buffer of 2 MiB or more is therefore an
//! anonymous memory map with huge pages requested (`madvise(MADV_HUGEPAGE)` on Linux, where
//! transparent huge pages are usually in `madvise` mode): one fault per 2 MiB, and fewer TLB
//! misses while the kernels stream the weights. Only the buffer's whole huge pages are advised:
//! the map reserves one huge page of extra address space so that the buffer can start on a
//! huge-page boundary, and the buffer's last partial huge page stays in small pages, faulted (and
//! zeroed) only as far as it is used. (Rounding every buffer up to whole huge pages instead made
//! the kernel zero 86 MiB for yolo11m-ghost's 55 MiB of packed weights: 31 MB more peak RSS and
//! ~10 ms more load.) Smaller buffers, and any platform or process where the map fails, use the
//! heap.

use std::ops::{Deref, DerefMut};

use super::pack::PanelRow;

/// Huge page size of x86-64 and most AArch64 Linux kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers of at least this many bytes are mapped with huge pages requested; a smaller buffer
/// cannot fill a huge page, so a map would only cost a system call more than the heap.
const MAP_MIN_BYTES: usize = HUGE_PAGE;

/// `len` zero-initialised [`PanelRow`]s (see the module docs); holds on to its storage when
/// resized within its capacity.
pub(crate) struct RowBuf {
    len: usize,
    store: Store,
}

enum Store {
    Heap(Vec<PanelRow>),
    /// A map whose rows start `offset` bytes in (on a huge-page boundary).
    Mapped {
        map: memmap2::MmapMut,
        offset: usize,
    },
}

impl RowBuf {
    /// `len` rows of zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<PanelRow>();
        let store = match bytes >= MAP_MIN_BYTES {
            true => map_huge(bytes).unwrap_or_else(|| heap(len)),
            false => heap(len),
        };
        RowBuf { len, store }
    }

    /// Rows the storage holds without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.len(),
            Store::Mapped { map, offset } => (map.len() - offset) / std::mem::size_of::<PanelRow>(),
        }
    }

    /// Makes the buffer `len` rows long, reusing the storage when it is large enough (the rows
    /// then hold whatever was written before: callers overwrite every row).
    pub(crate) fn resize(&mut self, len: usize) {
        if len <= self.capacity() {
            self.len = len;
        } else {
            *self = RowBuf::zeroed(len);
        }
    }

    /// Whether the rows live in a huge-page map (tests, diagnostics).
    #[cfg(test)]
    pub(crate) fn is_mapped(&self) -> bool {
        matches!(self.store, Store::Mapped { .. })
    }
}

fn heap(len: usize) -> Store {
    Store::Heap(vec![PanelRow([0.0; super::pack::NR]); len])
}

/// An anonymous map holding `bytes` (a multiple of the row size) from a huge-page boundary, with
/// huge pages requested for the buffer's whole huge pages only; `None` when the platform cannot
/// map anonymous memory.
fn map_huge(bytes: usize) -> Option<Store> {
    // One huge page of slack: wherever the map lands (page-aligned), a huge-page boundary lies
    // within its first huge page. The slack before and after the buffer is never touched, so it
    // costs address space only.
    let map = memmap2::MmapMut::map_anon(bytes + HUGE_PAGE).ok()?;
    let offset = (HUGE_PAGE - map.as_ptr() as usize % HUGE_PAGE) % HUGE_PAGE;
    // Advice only: without transparent huge pages (disabled, or another OS) the map still
    // works with small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise_range(
        memmap2::Advice::HugePage,
        offset,
        bytes / HUGE_PAGE * HUGE_PAGE,
    );
    Some(Store::Mapped { map, offset })
}

impl Deref for RowBuf {
    type Target = [PanelRow];

    fn deref(&self) -> &[PanelRow] {
        match &self.store {
            Store::Heap(v) => &v[..self.len],
            // Huge-page aligned and a whole number of rows (64 bytes each; the map length and
            // the offset are multiples of 64): the cast cannot fail.
            Store::Mapped { map, offset } => &bytemuck::cast_slice(&map[*offset..])[..self.len],
        }
    }
}

impl DerefMut for RowBuf {
    fn deref_mut(&mut self) -> &mut [PanelRow] {
        match &mut self.store {
            Store::Heap(v) => &mut v[..self.len],
            Store::Mapped { map, offset } => {
                &mut bytemuck::cast_slice_mut(&mut map[*offset..])[..self.len]
            }
        }
    }
}

impl Clone for RowBuf {
    fn clone(&self) -> Self {
        let mut copy = RowBuf::zeroed(self.len);
        copy.copy_from_slice(self);
        copy
    }
}

impl PartialEq for RowBuf {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl std::fmt::Debug for RowBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowBuf")
            .field("rows", &self.len)
            .field("mapped", &matches!(self.store, Store::Mapped { .. }))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pointwise::pack::NR;

    /// Small and large buffers start zeroed, are writable over their whole length, keep their
    /// alignment, and reuse their storage when shrunk.
    #[test]
    fn heap_and_mapped_buffers_behave_alike() {
        let rows_per_huge_page = HUGE_PAGE / std::mem::size_of::<PanelRow>();
        for len in [0, 1, 37, rows_per_huge_page - 1, rows_per_huge_page + 5] {
            let mut buf = RowBuf::zeroed(len);
            assert_eq!(buf.len(), len);
            assert!(buf.iter().all(|r| r.0 == [0.0; NR]));
            assert_eq!(buf.as_ptr() as usize % 64, 0);
            for (i, r) in buf.iter_mut().enumerate() {
                r.0[i % NR] = i as f32 + 1.0;
            }
            let copy = buf.clone();
            assert_eq!(copy, buf);
            let capacity = buf.capacity();
            assert!(capacity >= len);
            buf.resize(len / 2);
            assert_eq!(buf.capacity(), capacity, "shrinking keeps the storage");
            assert_eq!(&buf[..], &copy[..len / 2]);
        }
        #[cfg(target_os = "linux")]
        for len in [rows_per_huge_page, 3 * rows_per_huge_page + 7] {
            let buf = RowBuf::zeroed(len);
            assert!(buf.is_mapped());
            assert_eq!(
                buf.as_ptr() as usize % HUGE_PAGE,
                0,
                "starts on a huge page"
            );
        }
        assert!(!RowBuf::zeroed(rows_per_huge_page - 1).is_mapped());
    }
}
