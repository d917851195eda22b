//! ByteTrack (Zhang et al., 2022) as Ultralytics' `BYTETracker.update` runs it, step for step: the
//! same association stages, thresholds, list bookkeeping and output order, so the same detections
//! give the same track IDs.
//!
//! Tracks live in an arena; the tracked and lost lists hold indices into it, as Ultralytics' lists
//! hold references to shared `STrack` objects. The arena is compacted after every frame to the
//! tracks still listed, so memory stays bounded on long videos.

use std::collections::HashSet;

use crate::assignment::linear_assignment;
use crate::matching::{fuse_score, iou_distance};
use crate::strack::{STrack, State};
use crate::types::{Detection, Track, TrackError, TrackerConfig};

/// Ultralytics keeps the last 1000 removed tracks (`merge_track_pools`' `removed_buffer`); a lost
/// track whose ID is among them is dropped from the lost list.
const REMOVED_BUFFER: usize = 1000;
/// Second association: IoU only, fixed threshold (Ultralytics hard-codes it).
const SECOND_MATCH_THRESH: f64 = 0.5;
/// Unconfirmed tracks against the leftover high-score detections (hard-coded there too).
const UNCONFIRMED_MATCH_THRESH: f64 = 0.7;
/// A tracked and a lost track closer than this IoU distance are duplicates; the younger one goes.
const DUPLICATE_THRESH: f32 = 0.15;

/// A ByteTrack multi-object tracker: feed it each frame's detections in order, get the confirmed
/// tracks with stable IDs.
///
/// ```
/// use ghost_track::{Detection, Tracker};
/// let mut tracker = Tracker::new(Default::default()).unwrap();
/// for t in 0..5 {
///     let x = 10.0 + 4.0 * t as f32;
///     let dets = [Detection { x1: x, y1: 20.0, x2: x + 30.0, y2: 60.0, score: 0.9, class_id: 0 }];
///     let tracks = tracker.update(&dets).unwrap();
///     assert_eq!(tracks[0].track_id, 1);
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Tracker {
    config: TrackerConfig,
    frame_id: u64,
    last_id: u64,
    arena: Vec<STrack>,
    /// `tracked_stracks`: indices into `arena`, in Ultralytics' order.
    tracked: Vec<usize>,
    /// `lost_stracks`.
    lost: Vec<usize>,
    /// IDs of `removed_stracks` (only their IDs are ever consulted), oldest first, duplicates kept.
    removed_ids: Vec<u64>,
}

impl Tracker {
    /// A tracker with the given settings (validated).
    pub fn new(config: TrackerConfig) -> Result<Self, TrackError> {
        config.validate()?;
        Ok(Self {
            config,
            frame_id: 0,
            last_id: 0,
            arena: Vec::new(),
            tracked: Vec::new(),
            lost: Vec::new(),
            removed_ids: Vec::new(),
        })
    }

    /// The settings in use.
    pub fn config(&self) -> &TrackerConfig {
        &self.config
    }

    /// Frames seen since creation or the last [`Tracker::reset`].
    pub fn frame_count(&self) -> u64 {
        self.frame_id
    }

    /// Forgets every track and restarts frame counting and IDs at 1 (a new video).
    pub fn reset(&mut self) {
        self.frame_id = 0;
        self.last_id = 0;
        self.arena.clear();
        self.tracked.clear();
        self.lost.clear();
        self.removed_ids.clear();
    }

    /// Advances the tracker by one frame with that frame's detections and returns its confirmed
    /// tracks (Ultralytics' output rows, in the same order).
    ///
    /// Boxes with zero or negative width or height are ignored, as Ultralytics ignores them. A NaN or
    /// infinite coordinate or score is an error, and the tracker is left as it was.
    pub fn update(&mut self, detections: &[Detection]) -> Result<Vec<Track>, TrackError> {
        self.check(detections)?;
        self.frame_id += 1;
        let frame = self.frame_id;
        let cfg = self.config;
        // NumPy 2 compares float32 scores with a Python float threshold after rounding it to f32.
        let (high_t, low_t, new_t) = (
            cfg.track_high_thresh as f32,
            cfg.track_low_thresh as f32,
            cfg.new_track_thresh as f32,
        );

        let mut high = Vec::new();
        let mut low = Vec::new();
        for (i, d) in detections.iter().enumerate() {
            if !(d.x2 - d.x1 > 0.0 && d.y2 - d.y1 > 0.0) {
                continue;
            }
            if d.score >= high_t {
                high.push(STrack::from_detection(d, i));
            } else if d.score > low_t {
                low.push(STrack::from_detection(d, i));
            }
        }

        let mut activated: Vec<usize> = Vec::new();
        let mut refind: Vec<usize> = Vec::new();
        let mut lost_now: Vec<usize> = Vec::new();
        let mut removed_now: Vec<usize> = Vec::new();

        let (unconfirmed, confirmed): (Vec<usize>, Vec<usize>) = self
            .tracked
            .iter()
            .partition(|&&t| !self.arena[t].is_activated);
        let pool = joint(&self.arena, &confirmed, &self.lost);
        for &t in &pool {
            let track = &mut self.arena[t];
            let tracked = track.state == State::Tracked;
            if let Some(k) = track.kalman.as_mut() {
                if !tracked {
                    k.mean[7] = 0.0;
                }
                k.predict();
            }
        }

        // First association: confirmed and lost tracks against high-score detections.
        let dists = self.dists(&pool, &high, cfg.fuse_score);
        let first = linear_assignment(&dists, pool.len(), high.len(), cfg.match_thresh);
        for &(it, id) in &first.matches {
            self.apply_match(pool[it], &high[id], &mut activated, &mut refind);
        }

        // Second association: still-tracked leftovers against low-score detections, IoU only.
        let r_tracked: Vec<usize> = first
            .unmatched_rows
            .iter()
            .map(|&i| pool[i])
            .filter(|&t| self.arena[t].state == State::Tracked)
            .collect();
        let u_track = if !r_tracked.is_empty() && !low.is_empty() {
            let dists = self.dists(&r_tracked, &low, false);
            let second = linear_assignment(&dists, r_tracked.len(), low.len(), SECOND_MATCH_THRESH);
            for &(it, id) in &second.matches {
                self.apply_match(r_tracked[it], &low[id], &mut activated, &mut refind);
            }
            second.unmatched_rows
        } else {
            (0..r_tracked.len()).collect()
        };
        for it in u_track {
            let t = r_tracked[it];
            self.arena[t].state = State::Lost;
            lost_now.push(t);
        }

        // Unconfirmed tracks (started last frame) against the high-score detections left over.
        let mut left: Vec<STrack> = first
            .unmatched_cols
            .iter()
            .map(|&i| high[i].clone())
            .collect();
        let u_detection = if unconfirmed.is_empty() {
            (0..left.len()).collect()
        } else {
            let dists = self.dists(&unconfirmed, &left, cfg.fuse_score);
            let third = linear_assignment(
                &dists,
                unconfirmed.len(),
                left.len(),
                UNCONFIRMED_MATCH_THRESH,
            );
            for &(it, id) in &third.matches {
                self.arena[unconfirmed[it]].match_detection(&left[id], frame);
                activated.push(unconfirmed[it]);
            }
            for &it in &third.unmatched_rows {
                self.arena[unconfirmed[it]].state = State::Removed;
                removed_now.push(unconfirmed[it]);
            }
            third.unmatched_cols
        };

        // New tracks from confident leftovers.
        for inew in u_detection {
            let det = &mut left[inew];
            if det.score < new_t {
                continue;
            }
            self.last_id += 1;
            let mut track = det.clone();
            track.activate(self.last_id, frame);
            self.arena.push(track);
            activated.push(self.arena.len() - 1);
        }

        // Lost too long: removed.
        for &t in &self.lost {
            if frame - self.arena[t].frame_id > u64::from(cfg.track_buffer) {
                self.arena[t].state = State::Removed;
                removed_now.push(t);
            }
        }

        self.merge(&activated, &refind, &lost_now, &removed_now);
        Ok(self
            .tracked
            .iter()
            .map(|&t| &self.arena[t])
            .filter(|t| t.is_activated)
            .map(|t| {
                let [x1, y1, x2, y2] = t.xyxy();
                Track {
                    track_id: t.track_id,
                    x1,
                    y1,
                    x2,
                    y2,
                    score: t.score,
                    class_id: t.class_id,
                    det_index: t.det_index,
                }
            })
            .collect())
    }

    fn check(&self, detections: &[Detection]) -> Result<(), TrackError> {
        for (index, d) in detections.iter().enumerate() {
            for (field, value) in [
                ("x1", d.x1),
                ("y1", d.y1),
                ("x2", d.x2),
                ("y2", d.y2),
                ("score", d.score),
            ] {
                if !value.is_finite() {
                    return Err(TrackError::NonFiniteDetection {
                        frame: self.frame_id + 1,
                        index,
                        field,
                        value,
                    });
                }
            }
        }
        Ok(())
    }

    /// `get_dists` / `iou_distance`: row-major `tracks x dets` costs.
    fn dists(&self, tracks: &[usize], dets: &[STrack], fuse: bool) -> Vec<f32> {
        let b: Vec<[f32; 4]> = dets.iter().map(STrack::xyxy).collect();
        let mut d = iou_distance(&self.boxes(tracks), &b);
        if fuse {
            let scores: Vec<f32> = dets.iter().map(|d| d.score).collect();
            fuse_score(&mut d, &scores);
        }
        d
    }

    fn boxes(&self, tracks: &[usize]) -> Vec<[f32; 4]> {
        tracks.iter().map(|&t| self.arena[t].xyxy()).collect()
    }

    /// `_apply_match`: a tracked track is updated, a lost one re-activated with the same ID.
    fn apply_match(
        &mut self,
        t: usize,
        det: &STrack,
        activated: &mut Vec<usize>,
        refind: &mut Vec<usize>,
    ) {
        let was_tracked = self.arena[t].state == State::Tracked;
        self.arena[t].match_detection(det, self.frame_id);
        if was_tracked {
            activated.push(t);
        } else {
            refind.push(t);
        }
    }

    /// `merge_track_pools`, then compaction of the arena.
    fn merge(
        &mut self,
        activated: &[usize],
        refind: &[usize],
        lost_now: &[usize],
        removed_now: &[usize],
    ) {
        let still: Vec<usize> = self
            .tracked
            .iter()
            .copied()
            .filter(|&t| self.arena[t].state == State::Tracked)
            .collect();
        let tracked = joint(&self.arena, &still, activated);
        let tracked = joint(&self.arena, &tracked, refind);
        let mut lost = sub(&self.arena, &self.lost, ids(&self.arena, &tracked));
        lost.extend_from_slice(lost_now);
        let removed: HashSet<u64> = self.removed_ids.iter().copied().collect();
        let lost = sub(&self.arena, &lost, removed);
        let (tracked, lost) = self.remove_duplicates(tracked, lost);
        self.removed_ids
            .extend(removed_now.iter().map(|&t| self.arena[t].track_id));
        if self.removed_ids.len() > REMOVED_BUFFER {
            let excess = self.removed_ids.len() - REMOVED_BUFFER;
            self.removed_ids.drain(..excess);
        }
        self.compact(tracked, lost);
    }

    /// `remove_duplicate_stracks`: of a tracked/lost pair overlapping almost entirely, the one
    /// tracked for fewer frames is dropped (the lost one on equal ages).
    fn remove_duplicates(&self, a: Vec<usize>, b: Vec<usize>) -> (Vec<usize>, Vec<usize>) {
        let dist = iou_distance(&self.boxes(&a), &self.boxes(&b));
        let mut drop_a = vec![false; a.len()];
        let mut drop_b = vec![false; b.len()];
        for (p, &ta) in a.iter().enumerate() {
            for (q, &tb) in b.iter().enumerate() {
                if dist[p * b.len() + q] < DUPLICATE_THRESH {
                    let (ta, tb) = (&self.arena[ta], &self.arena[tb]);
                    let age_a = ta.frame_id as i64 - ta.start_frame as i64;
                    let age_b = tb.frame_id as i64 - tb.start_frame as i64;
                    if age_a > age_b {
                        drop_b[q] = true;
                    } else {
                        drop_a[p] = true;
                    }
                }
            }
        }
        let keep = |v: Vec<usize>, drop: Vec<bool>| {
            v.into_iter()
                .zip(drop)
                .filter_map(|(t, d)| (!d).then_some(t))
                .collect()
        };
        (keep(a, drop_a), keep(b, drop_b))
    }

    /// Keeps only the listed tracks in the arena and renumbers the lists.
    fn compact(&mut self, tracked: Vec<usize>, lost: Vec<usize>) {
        let mut arena = Vec::with_capacity(tracked.len() + lost.len());
        let mut new_index = vec![usize::MAX; self.arena.len()];
        let mut remap = |t: usize, arena: &mut Vec<STrack>| {
            if new_index[t] == usize::MAX {
                new_index[t] = arena.len();
                arena.push(self.arena[t].clone());
            }
            new_index[t]
        };
        self.tracked = tracked.into_iter().map(|t| remap(t, &mut arena)).collect();
        self.lost = lost.into_iter().map(|t| remap(t, &mut arena)).collect();
        self.arena = arena;
    }
}

fn ids(arena: &[STrack], list: &[usize]) -> HashSet<u64> {
    list.iter().map(|&t| arena[t].track_id).collect()
}

/// `joint_stracks`: `a`, then the tracks of `b` whose IDs are not in `a`.
fn joint(arena: &[STrack], a: &[usize], b: &[usize]) -> Vec<usize> {
    let a_ids = ids(arena, a);
    let mut out = a.to_vec();
    out.extend(
        b.iter()
            .copied()
            .filter(|&t| !a_ids.contains(&arena[t].track_id)),
    );
    out
}

/// `sub_stracks`: the tracks of `a` whose IDs are not in `remove`.
fn sub(arena: &[STrack], a: &[usize], remove: HashSet<u64>) -> Vec<usize> {
    a.iter()
        .copied()
        .filter(|&t| !remove.contains(&arena[t].track_id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Objects that live three frames each at ever new places, for many frames: the arena holds only
    /// listed tracks and the removed-ID history stays at its cap, so memory does not grow.
    #[test]
    fn state_stays_bounded_on_a_long_video() {
        let mut t = Tracker::new(TrackerConfig::default()).unwrap();
        for f in 0..6000u32 {
            let dets: Vec<Detection> = (0..4)
                .map(|k| {
                    let birth = f / 3 * 4 + k;
                    let x = (birth * 37 % 600) as f32;
                    let y = (birth * 53 % 440) as f32;
                    Detection {
                        x1: x,
                        y1: y,
                        x2: x + 30.0,
                        y2: y + 30.0,
                        score: 0.9,
                        class_id: 0,
                    }
                })
                .collect();
            t.update(&dets).unwrap();
            assert_eq!(t.arena.len(), t.tracked.len() + t.lost.len(), "frame {f}");
            assert!(
                t.arena.len() < 200,
                "frame {f}: {} tracks held",
                t.arena.len()
            );
            assert!(t.removed_ids.len() <= REMOVED_BUFFER);
        }
        assert!(t.last_id > 3000, "tracks were started: {}", t.last_id);
        assert_eq!(t.removed_ids.len(), REMOVED_BUFFER);
    }
}
