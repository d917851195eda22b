//! Reusable workspace of the dense convolution: per-thread indirection tables and im2col tiles,
//! plus a zero row for padding. Buffers only grow, so a layer that keeps its scratch allocates
//! nothing after its first call.

use std::sync::{Mutex, PoisonError};

/// Per-thread buffers.
#[derive(Default)]
pub(crate) struct Slot {
    /// Row pointers of the current pixel block (valid only during one call).
    pub table: Vec<*const f32>,
    /// im2col rows of the current pixel block (small-`cin` path).
    pub cols: Vec<f32>,
}

// SAFETY: the pointer table is plain data between calls (never dereferenced outside the call that
// filled it); during a call each slot is used by exactly one thread, guarded by its mutex.
unsafe impl Send for Slot {}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("table", &self.table.len())
            .field("cols", &self.cols.len())
            .finish()
    }
}

/// Workspace for [`conv2d`](super::conv2d): keep one per layer (or per thread of layers) and pass
/// it to every call; it grows to the largest shape seen and is then reused.
#[derive(Debug, Default)]
pub struct ConvScratch {
    pub(crate) zeros: Vec<f32>,
    pub(crate) slots: Vec<Mutex<Slot>>,
}

impl ConvScratch {
    /// An empty workspace (allocates on first use).
    pub fn new() -> Self {
        ConvScratch::default()
    }

    /// Grows to `slots` per-chunk buffers of `table` pointers and `cols` floats, and a zero row
    /// of `zeros` floats.
    pub(crate) fn reserve(&mut self, slots: usize, table: usize, cols: usize, zeros: usize) {
        if self.zeros.len() < zeros {
            self.zeros.resize(zeros, 0.0);
        }
        while self.slots.len() < slots {
            self.slots.push(Mutex::new(Slot::default()));
        }
        for slot in &mut self.slots[..slots] {
            let slot = slot.get_mut().unwrap_or_else(PoisonError::into_inner);
            if slot.table.len() < table {
                slot.table.resize(table, std::ptr::null());
            }
            if slot.cols.len() < cols {
                slot.cols.resize(cols, 0.0);
            }
        }
    }
}
