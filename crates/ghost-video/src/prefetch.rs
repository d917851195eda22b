//! Run an iterator on its own thread, its items handed over a bounded channel, so producing them
//! (decoding) overlaps consuming them (inference), with at most `capacity` items in between.

use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// The receiving end (an iterator); dropping it stops the producer at its next item.
#[derive(Debug)]
pub struct Prefetch<T> {
    items: Option<Receiver<T>>,
    thread: Option<JoinHandle<()>>,
}

/// Start iterating `iter` on a new thread named `name`, at most `capacity` (>= 1) items ahead.
pub fn prefetch<I>(name: &str, iter: I, capacity: usize) -> std::io::Result<Prefetch<I::Item>>
where
    I: Iterator + Send + 'static,
    I::Item: Send + 'static,
{
    let (tx, rx) = sync_channel(capacity.max(1));
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            for item in iter {
                if tx.send(item).is_err() {
                    return; // the consumer stopped
                }
            }
        })?;
    Ok(Prefetch {
        items: Some(rx),
        thread: Some(thread),
    })
}

impl<T> Iterator for Prefetch<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.items.as_ref()?.recv().ok()
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        self.items = None; // the producer's next send fails and it returns
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
