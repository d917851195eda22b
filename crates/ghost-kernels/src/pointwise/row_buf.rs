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
//! the kernel zero far more memory than the weights need: more peak RSS and a slower load, see
//! docs/kernels.md#measurements-behind-code-decisions.)
//!
//! Buffers from 64 KiB up to a huge page (most pointwise layers' panels) are carved, in turn,
//! from shared slabs: 16 MiB maps with huge pages requested, handed out front to back and
//! freed when the last buffer carved from them is dropped (the slab being filled also stays
//! mapped for the next buffers, so at most one slab outlives the buffers carved from it). A model's weights, loaded together,
//! so sit densely on huge pages too; loading yolo11m-ghost took ~8k 4 KiB page faults on these
//! buffers before. A slab's never-touched huge pages are never faulted in, so the one that is
//! being filled costs address space, not memory. Smaller buffers, and any platform or process
//! where a map fails, use the heap.

use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex, PoisonError};

use super::pack::PanelRow;

/// Huge page size of x86-64 and most AArch64 Linux kernels.
const HUGE_PAGE: usize = 2 << 20;

/// Buffers of at least this many bytes are mapped with huge pages requested; a smaller buffer
/// cannot fill a huge page, so a map would only cost a system call more than the heap.
const MAP_MIN_BYTES: usize = HUGE_PAGE;

/// Buffers of at least this many bytes (and below [`MAP_MIN_BYTES`]) are carved from slabs.
const SLAB_MIN_BYTES: usize = 64 << 10;

/// Address space of one slab.
const SLAB_BYTES: usize = 16 << 20;

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
    /// `rows` rows of a slab, `offset` bytes in, owned by this buffer alone.
    Slab {
        slab: Arc<Slab>,
        offset: usize,
        rows: usize,
    },
}

/// An anonymous map that buffers are carved from (see the module docs).
struct Slab {
    /// Start of the usable bytes: on a huge-page boundary, `SLAB_BYTES` long.
    base: NonNull<u8>,
    /// Owns the pages; unmapped when the last buffer carved from it drops.
    _map: memmap2::MmapMut,
}

// SAFETY: `base` points into the pages `_map` owns, which stay mapped (at the same address)
// while the slab lives; the slab itself never reads or writes through it. Each buffer carved
// from it accesses only its own disjoint range (see `Store::Slab`), like a `Box<[PanelRow]>`.
unsafe impl Send for Slab {}
// SAFETY: as above: shared references to a slab only hand out `base`.
unsafe impl Sync for Slab {}

/// The slab being filled and the offset of its first free byte.
static FILLING: Mutex<Option<(Arc<Slab>, usize)>> = Mutex::new(None);

/// Carves `bytes` (a multiple of 64, at most a huge page) out of the filling slab, mapping a new
/// slab when it is full. `None` when a map fails.
fn carve(bytes: usize) -> Option<(Arc<Slab>, usize)> {
    let mut filling = FILLING.lock().unwrap_or_else(PoisonError::into_inner);
    if filling
        .as_ref()
        .is_none_or(|(_, next)| next + bytes > SLAB_BYTES)
    {
        let (mut map, offset) = aligned_map(SLAB_BYTES, SLAB_BYTES)?;
        // From the whole map's pointer (not a reference to one byte), so that `base` may
        // address every byte of the slab.
        let base = NonNull::new(map.as_mut_ptr().wrapping_add(offset))?;
        *filling = Some((Arc::new(Slab { base, _map: map }), 0));
    }
    let (slab, next) = filling.as_mut()?;
    let offset = *next;
    *next += bytes;
    Some((Arc::clone(slab), offset))
}

impl RowBuf {
    /// `len` rows of zeros.
    pub(crate) fn zeroed(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<PanelRow>();
        let store = if bytes >= MAP_MIN_BYTES {
            map_huge(bytes)
        } else if bytes >= SLAB_MIN_BYTES {
            carve(bytes).map(|(slab, offset)| Store::Slab {
                slab,
                offset,
                rows: len,
            })
        } else {
            None
        };
        let store = store.unwrap_or_else(|| heap(len));
        RowBuf { len, store }
    }

    /// Rows the storage holds without reallocating.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.len(),
            Store::Mapped { map, offset } => (map.len() - offset) / std::mem::size_of::<PanelRow>(),
            Store::Slab { rows, .. } => *rows,
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

    /// Whether the rows were carved from a slab (tests).
    #[cfg(test)]
    fn is_slab(&self) -> bool {
        matches!(self.store, Store::Slab { .. })
    }
}

fn heap(len: usize) -> Store {
    Store::Heap(vec![PanelRow([0.0; super::pack::NR]); len])
}

/// An anonymous map holding `bytes` (a multiple of the row size) from a huge-page boundary, with
/// huge pages requested for the buffer's whole huge pages only; `None` when the platform cannot
/// map anonymous memory.
fn map_huge(bytes: usize) -> Option<Store> {
    // The buffer's last partial huge page stays in small pages (see the module docs).
    let (map, offset) = aligned_map(bytes, bytes / HUGE_PAGE * HUGE_PAGE)?;
    Some(Store::Mapped { map, offset })
}

/// An anonymous map holding `bytes` from a huge-page boundary `offset` bytes in, the first
/// `advised` of them with huge pages requested.
fn aligned_map(bytes: usize, advised: usize) -> Option<(memmap2::MmapMut, usize)> {
    // One huge page of slack: wherever the map lands (page-aligned), a huge-page boundary lies
    // within its first huge page. The slack before and after the buffer is never touched, so it
    // costs address space only.
    let map = memmap2::MmapMut::map_anon(bytes + HUGE_PAGE).ok()?;
    let offset = (HUGE_PAGE - map.as_ptr() as usize % HUGE_PAGE) % HUGE_PAGE;
    // Advice only: without transparent huge pages (disabled, or another OS) the map still
    // works with small pages.
    #[cfg(target_os = "linux")]
    let _ = map.advise_range(memmap2::Advice::HugePage, offset, advised);
    #[cfg(not(target_os = "linux"))]
    let _ = advised;
    Some((map, offset))
}

impl Deref for RowBuf {
    type Target = [PanelRow];

    fn deref(&self) -> &[PanelRow] {
        match &self.store {
            Store::Heap(v) => &v[..self.len],
            // Huge-page aligned and a whole number of rows (64 bytes each; the map length and
            // the offset are multiples of 64): the cast cannot fail.
            Store::Mapped { map, offset } => &bytemuck::cast_slice(&map[*offset..])[..self.len],
            // SAFETY: `carve` reserved `rows >= len` rows at `offset` (64-byte aligned: slabs
            // start on a huge page and carve multiples of 64 bytes) for this buffer alone,
            // within the slab's map, which the `Arc` keeps alive; the bytes started as the
            // map's zeros (a valid `PanelRow`) and are only written as `PanelRow`s.
            Store::Slab { slab, offset, .. } => unsafe {
                std::slice::from_raw_parts(
                    slab.base.as_ptr().add(*offset).cast::<PanelRow>(),
                    self.len,
                )
            },
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
            // SAFETY: as in `deref`; `&mut self` makes this the only reference to the rows,
            // and no other buffer's range overlaps them.
            Store::Slab { slab, offset, .. } => unsafe {
                std::slice::from_raw_parts_mut(
                    slab.base.as_ptr().add(*offset).cast::<PanelRow>(),
                    self.len,
                )
            },
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
            .field(
                "store",
                &match self.store {
                    Store::Heap(_) => "heap",
                    Store::Mapped { .. } => "mapped",
                    Store::Slab { .. } => "slab",
                },
            )
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

    /// Buffers carved from slabs start zeroed, do not overlap (each keeps what was written to
    /// it while its neighbours are written, dropped and carved again) and stay valid after
    /// the slab moves on, from any thread.
    #[cfg(target_os = "linux")]
    #[test]
    fn slab_buffers_are_disjoint_and_outlive_their_neighbours() {
        let row_bytes = std::mem::size_of::<PanelRow>();
        let min_rows = SLAB_MIN_BYTES / row_bytes;
        let max_rows = HUGE_PAGE / row_bytes - 1;
        let fill = |buf: &mut RowBuf, tag: f32| {
            for (i, r) in buf.iter_mut().enumerate() {
                r.0 = [tag + i as f32; NR];
            }
        };
        let holds = |buf: &RowBuf, tag: f32| {
            buf.iter()
                .enumerate()
                .all(|(i, r)| r.0 == [tag + i as f32; NR])
        };
        // More than a slab's worth, in odd sizes, so that slabs fill up and new ones start.
        let sizes = [
            min_rows,
            max_rows,
            min_rows + 1,
            3 * min_rows + 5,
            max_rows - 7,
        ];
        let mut kept = Vec::new();
        for round in 0..12 {
            let len = sizes[round % sizes.len()];
            let mut buf = RowBuf::zeroed(len);
            assert!(buf.is_slab(), "{len} rows");
            assert_eq!(buf.capacity(), len);
            assert_eq!(buf.as_ptr() as usize % 64, 0);
            assert!(buf.iter().all(|r| r.0 == [0.0; NR]), "starts zeroed");
            let tag = 1e6 * (round + 1) as f32;
            fill(&mut buf, tag);
            if round % 3 == 2 {
                drop(buf);
            } else {
                kept.push((buf, tag));
            }
        }
        assert!(kept.iter().all(|(buf, tag)| holds(buf, *tag)));
        // Buffers move between threads like any owned storage.
        let handles: Vec<_> = kept
            .into_iter()
            .map(|(mut buf, tag)| {
                std::thread::spawn(move || {
                    let ok = holds(&buf, tag);
                    fill(&mut buf, -tag);
                    ok && holds(&buf, -tag)
                })
            })
            .collect();
        assert!(handles.into_iter().all(|h| h.join().unwrap()));
        assert!(!RowBuf::zeroed(min_rows - 1).is_slab());
    }
}
