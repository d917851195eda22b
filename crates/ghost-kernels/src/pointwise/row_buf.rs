//! Storage of packed weight rows: 64-byte aligned, zero-initialised, and backed by transparent
//! huge pages when large.
//!
//! A model's packed weights are written once at load and then streamed by every forward pass.
//! With 4 KiB pages, loading yolo11m-ghost spent about half its time in page faults on these
//! buffers (one fault and one zeroed page per 4 KiB); a buffer of 2 MiB or more is therefore an
//! anonymous memory map with huge pages requested (`madvise(MADV_HUGEPAGE)` on Linux, where
//! transparent huge pages are usually in `madvise` mode): one fault per 2 MiB, and fewer TLB
//! misses while the kernels stream the weights. The map is a whole number of huge pages so that
//! the kernel places it on a huge-page boundary. Smaller buffers, and any platform or process
//! where the map fails, use the heap.

use std::ops::{Deref, DerefMut};

use super::pack::PanelRow;

/// Huge page size of x86-64 and most AArch64 Linux kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers of at least this many bytes are mapped with huge pages requested. At one huge page,
/// the rounding up to whole huge pages wastes at most as much memory as the buffer holds; below
/// it, a buffer cannot fill a huge page anyway.
const MAP_MIN_BYTES: usize = HUGE_PAGE;

/// `len` zero-initialised [`PanelRow`]s (see the module docs); holds on to its storage when
/// resized within its capacity.
pub(crate) struct RowBuf {
    len: usize,
    store: Store,
}

enum Store {
    Heap(Vec<PanelRow>),
    Mapped(memmap2::MmapMut),
}

impl RowBuf {
    /// `len` rows of zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<PanelRow>();
        let store = match bytes >= MAP_MIN_BYTES {
            true => map_huge(bytes).map_or_else(|| heap(len), Store::Mapped),
            false => heap(len),
        };
        RowBuf { len, store }
    }

    /// Rows the storage holds without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.len(),
            Store::Mapped(m) => m.len() / std::mem::size_of::<PanelRow>(),
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
        matches!(self.store, Store::Mapped(_))
    }
}

fn heap(len: usize) -> Store {
    Store::Heap(vec![PanelRow([0.0; super::pack::NR]); len])
}

/// An anonymous map of `bytes` rounded up to whole huge pages, with huge pages requested;
/// `None` when the platform cannot map anonymous memory.
fn map_huge(bytes: usize) -> Option<memmap2::MmapMut> {
    let map = memmap2::MmapMut::map_anon(bytes.div_ceil(HUGE_PAGE) * HUGE_PAGE).ok()?;
    // Advice only: without transparent huge pages (disabled, or another OS) the map still
    // works with small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise(memmap2::Advice::HugePage);
    Some(map)
}

impl Deref for RowBuf {
    type Target = [PanelRow];

    fn deref(&self) -> &[PanelRow] {
        match &self.store {
            Store::Heap(v) => &v[..self.len],
            // Page-aligned and a whole number of rows (64 bytes each): the cast cannot fail.
            Store::Mapped(m) => &bytemuck::cast_slice(&m[..])[..self.len],
        }
    }
}

impl DerefMut for RowBuf {
    fn deref_mut(&mut self) -> &mut [PanelRow] {
        match &mut self.store {
            Store::Heap(v) => &mut v[..self.len],
            Store::Mapped(m) => &mut bytemuck::cast_slice_mut(&mut m[..])[..self.len],
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
            .field("mapped", &matches!(self.store, Store::Mapped(_)))
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
        assert!(RowBuf::zeroed(rows_per_huge_page).is_mapped());
        assert!(!RowBuf::zeroed(rows_per_huge_page - 1).is_mapped());
    }
}
