"""``YOLO.track`` as Ultralytics' ``model.track``.

Reference: ``fixtures/tracking/shapes_clip_tracks.json``, Ultralytics 8.4.190's ``yolo track`` on
``fixtures/video/shapes_clip.mp4`` (default model, conf 0.1, bytetrack.yaml; made by
``tools/make_track_clip_fixture.py``; the CLI's ``tests/track_video_cli.rs`` checks the same
file). The video tests need the ``ffmpeg`` program: skipped without it unless
``GHOST_REQUIRE_FFMPEG=1`` (``.ci/run`` sets it), then they fail.
"""

from __future__ import annotations

import json
import os
import shutil
import types

import numpy as np
import pytest

from conftest import FIXTURES

CLIP = str(FIXTURES / "video" / "shapes_clip.mp4")
REFERENCE = json.loads((FIXTURES / "tracking" / "shapes_clip_tracks.json").read_text())["frames"]
# Box tolerance against Ultralytics, as the CLI's track_clip.rs states it: our forward pass agrees
# with PyTorch's to ~1e-5 relative, ~1e-3 px on boxes of this size at most, and the Kalman filter
# averages such differences instead of growing them. Measured here: 4.2e-5 px (2026-12-07).
BOX_TOL = 1e-3
# Scores: a sigmoid of a logit that agrees to ~1e-5 relative (slope <= 1/4), so <= ~1e-5.
# Measured here: 9.4e-7.
CONF_TOL = 1e-5


def need_ffmpeg() -> None:
    if shutil.which("ffmpeg") and shutil.which("ffprobe"):
        return
    if os.environ.get("GHOST_REQUIRE_FFMPEG") == "1":
        pytest.fail("ffmpeg/ffprobe not found and GHOST_REQUIRE_FFMPEG=1")
    pytest.skip("needs the ffmpeg and ffprobe programs (apt-get install ffmpeg)")


def fresh():
    """A new model: a `persist=True` call keeps the tracker of the model's previous call."""
    from ghost_yolo import YOLO

    return YOLO()


def ids(result) -> list:
    """(track ID, class) per box, in order; the ID is None for an untracked frame."""
    cls = result.boxes.cls.astype(int).tolist()
    if result.boxes.id is None:
        return [(None, c) for c in cls]
    return list(zip(result.boxes.id.astype(int).tolist(), cls))


def reference_ids(frame: dict) -> list:
    return [(int(r[0]), int(r[6])) for r in frame["results"]]


def clip_frames() -> list:
    from ghost_yolo import _core

    return list(_core.VideoReader(CLIP))


def check_against_ultralytics(results: list) -> None:
    assert len(results) == len(REFERENCE) == 75
    worst_box = worst_conf = 0.0
    for f, (r, ref) in enumerate(zip(results, REFERENCE)):
        assert ids(r) == reference_ids(ref), f"frame {f + 1}"
        want = np.array([[float(v) for v in row[1:6]] for row in ref["results"]], dtype=np.float64)
        worst_box = max(worst_box, float(np.abs(r.boxes.xyxy - want[:, :4]).max()))
        worst_conf = max(worst_conf, float(np.abs(r.boxes.conf - want[:, 4]).max()))
    assert worst_box <= BOX_TOL, worst_box
    assert worst_conf <= CONF_TOL, worst_conf


def test_video_file_gives_ultralytics_ids_and_boxes():
    need_ffmpeg()
    results = fresh().track(CLIP)
    assert isinstance(results, list)
    check_against_ultralytics(results)
    assert all(r.path == CLIP for r in results)
    # The frames are the decoder's, BGR as cv2.VideoCapture gives them.
    assert all(np.array_equal(r.orig_img, f) for r, f in zip(results, clip_frames()))


def test_stream_is_a_generator_with_the_same_results():
    need_ffmpeg()
    gen = fresh().track(CLIP, stream=True, persist=True, tracker="bytetrack.yaml", conf=0.1, iou=0.7)
    assert isinstance(gen, types.GeneratorType)
    check_against_ultralytics(list(gen))


def test_numpy_frames_one_call_each_with_persist_are_one_sequence():
    need_ffmpeg()
    model = fresh()
    results = [model.track(frame, persist=True)[0] for frame in clip_frames()]
    check_against_ultralytics(results)


def test_without_persist_every_call_starts_a_new_tracker():
    need_ffmpeg()
    model = fresh()
    frames = clip_frames()[:20]
    # A new tracker confirms, on its first frame, every detection scoring >= new_track_thresh
    # (0.25), numbered 1, 2 ... in detection order, and reports only those; with none, the frame
    # keeps its raw detections without IDs. Each call without persist is such a first frame.
    for f, frame in enumerate(frames):
        r = model.track(frame)[0]
        dets = model.predict(frame, conf=0.1)[0].boxes
        high = [int(c) for c, s in zip(dets.cls, dets.conf) if s >= np.float32(0.25)]
        if high:
            assert ids(r) == [(i + 1, c) for i, c in enumerate(high)], f"frame {f + 1}"
        else:
            assert ids(r) == [(None, int(c)) for c in dets.cls], f"frame {f + 1}"
    # persist=True continues the tracker the last call made: frame 1 without persist, then frame 2
    # with it, is the reference's first two frames.
    assert ids(model.track(frames[0])[0]) == reference_ids(REFERENCE[0])
    assert ids(model.track(frames[1], persist=True)[0]) == reference_ids(REFERENCE[1])
    # A list of arrays without persist: each array is its own source (image0.jpg, image1.jpg ...),
    # so the tracker is reset before each, as Ultralytics resets it when the path changes. Frames
    # far apart: without the resets, the objects' jumps would start new (unconfirmed) tracks.
    far = [frames[0], frames[19], frames[9], frames[14]]
    listed = model.track(far)
    assert [r.path for r in listed] == [f"image{i}.jpg" for i in range(4)]
    for f, r in enumerate(listed):
        assert ids(r) == ids(model.track(far[f])[0]), f"list item {f}"
    # The same list with persist=True on a fresh model: one sequence, Ultralytics' IDs.
    one = fresh().track(frames[:5], persist=True)
    for f, r in enumerate(one):
        assert ids(r) == reference_ids(REFERENCE[f]), f"frame {f + 1}"


def test_two_videos_reset_between_them_unless_persist(tmp_path):
    need_ffmpeg()
    second = tmp_path / "second.mp4"
    shutil.copyfile(CLIP, second)
    results = fresh().track([CLIP, str(second)])
    assert len(results) == 150
    check_against_ultralytics(results[:75])
    check_against_ultralytics(results[75:])
    assert {r.path for r in results[75:]} == {str(second)}
    # persist=True: one sequence across both videos, so the second video's objects keep the IDs
    # they had at the end of the first (they jump back, the tracker matches what it can).
    persisted = fresh().track([CLIP, str(second)], persist=True)
    check_against_ultralytics(persisted[:75])
    assert [ids(r) for r in persisted[75:]] != [ids(r) for r in results[75:]]


def test_frame_without_tracks_keeps_detections_without_ids():
    model = fresh()
    blank = np.zeros((256, 320, 3), np.uint8)
    r = model.track(blank)[0]
    assert len(r) == 0 and r.boxes.id is None and not r.boxes.is_track
    # predict's boxes are never tracks.
    assert model.predict(blank)[0].boxes.id is None


def test_track_results_formats(tmp_path):
    need_ffmpeg()
    r = fresh().track(clip_frames()[0])[0]
    assert r.boxes.is_track and r.boxes.data.shape == (len(r), 7)
    assert r.boxes.data.dtype == np.float32
    want = reference_ids(REFERENCE[0])
    summary = r.summary()
    assert [(s["track_id"], s["class"]) for s in summary] == want
    assert list(summary[0]) == ["name", "class", "confidence", "track_id", "box"]
    assert json.loads(r.to_json())[0]["track_id"] == want[0][0]
    txt = tmp_path / "labels.txt"
    r.save_txt(txt, save_conf=True)
    lines = txt.read_text().splitlines()
    assert [(int(l.split()[-1]), int(l.split()[0])) for l in lines] == want
    assert all(len(l.split()) == 7 for l in lines)
    plotted = r.plot()
    assert plotted.shape == r.orig_img.shape and not np.array_equal(plotted, r.orig_img)
    # Indexing keeps the IDs.
    assert ids(r[1:]) == want[1:]


def test_custom_tracker_yaml(tmp_path):
    need_ffmpeg()
    frames = clip_frames()[:10]
    same = tmp_path / "mine.yaml"
    same.write_text(
        "tracker_type: bytetrack\ntrack_high_thresh: 0.25\ntrack_low_thresh: 0.1\n"
        "new_track_thresh: 0.25\ntrack_buffer: 30\nmatch_thresh: 0.8\nfuse_score: True\n"
        "# other keys are ignored, as Ultralytics' BYTETracker ignores them\nmin_box_area: 10\n"
    )
    got = fresh().track(frames, persist=True, tracker=str(same))
    assert [ids(r) for r in got] == [reference_ids(f) for f in REFERENCE[:10]]
    # new_track_thresh 0.95: only detections scoring >= 0.95 start tracks.
    strict = tmp_path / "strict.yaml"
    strict.write_text(same.read_text().replace("new_track_thresh: 0.25", "new_track_thresh: 0.95"))
    first = fresh().track(frames[0], tracker=strict)[0]
    base = fresh().track(frames[0])[0]
    assert len(first) < len(base) or first.boxes.id is None


@pytest.mark.parametrize(
    "text, error, words",
    [
        ("tracker_type: botsort\n", NotImplementedError, ["botsort", "bytetrack"]),
        ("tracker_type: deepsort\n", ValueError, ["tracker_type", "deepsort"]),
        ("- 1\n- 2\n", ValueError, ["mapping"]),
        ("tracker_type: bytetrack\n: : [\n", ValueError, ["YAML"]),
        ("tracker_type: bytetrack\ntrack_high_thresh: 0.25\n", ValueError, ["track_low_thresh", "missing"]),
    ],
)
def test_bad_tracker_files(tmp_path, text, error, words):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    with pytest.raises(error) as e:
        fresh().track(np.zeros((64, 64, 3), np.uint8), tracker=str(path))
    for w in words:
        assert w in str(e.value), (w, str(e.value))


def test_bad_tracker_values(tmp_path):
    text = (
        "tracker_type: bytetrack\ntrack_high_thresh: 0.25\ntrack_low_thresh: 0.1\n"
        "new_track_thresh: 0.25\ntrack_buffer: 30\nmatch_thresh: 0.8\nfuse_score: True\n"
    )
    for old, new, word in [
        ("match_thresh: 0.8", "match_thresh: 2", "match_thresh"),
        ("track_buffer: 30", "track_buffer: -1", "track_buffer"),
        ("track_buffer: 30", "track_buffer: 2.5", "track_buffer"),
        ("fuse_score: True", "fuse_score: 3", "fuse_score"),
        ("track_low_thresh: 0.1", "track_low_thresh: .nan", "track_low_thresh"),
    ]:
        path = tmp_path / "t.yaml"
        path.write_text(text.replace(old, new))
        with pytest.raises(ValueError, match=word):
            fresh().track(np.zeros((64, 64, 3), np.uint8), tracker=str(path))


def test_bad_tracker_names():
    model = fresh()
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(NotImplementedError, match="BoT-SORT"):
        model.track(frame, tracker="botsort.yaml")
    with pytest.raises(FileNotFoundError, match="no-such-tracker.yaml"):
        model.track(frame, tracker="no-such-tracker.yaml")
    with pytest.raises(ValueError, match="tracker"):
        model.track(frame, tracker=3)


def test_bad_arguments_and_sources(tmp_path):
    model = fresh()
    frame = np.zeros((64, 64, 3), np.uint8)
    with pytest.raises(ValueError, match="vid_stride"):
        model.track(frame, vid_stride=0)
    with pytest.raises(ValueError, match="iou"):
        model.track(frame, iou=2)
    with pytest.raises(FileNotFoundError, match="missing.mp4"):
        model.track(str(tmp_path / "missing.mp4"))
    # An error in the arguments is raised by the call even with stream=True.
    with pytest.raises(FileNotFoundError):
        model.track(str(tmp_path / "missing.mp4"), stream=True)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all\n" * 50)
    need_ffmpeg()
    from ghost_yolo import GhostYoloError

    with pytest.raises(GhostYoloError, match="broken.mp4"):
        model.track(str(broken))


def test_vid_stride_keeps_every_nth_frame():
    need_ffmpeg()
    results = fresh().track(CLIP, vid_stride=5)
    assert len(results) == 15
    frames = clip_frames()
    # Frames kept: 5th, 10th ... (Ultralytics grabs vid_stride frames and keeps the last).
    for k, r in enumerate(results):
        assert np.array_equal(r.orig_img, frames[5 * k + 4])


@pytest.mark.skipif(os.name != "posix", reason="file names of arbitrary bytes are a POSIX thing")
def test_a_video_name_that_is_not_utf8(tmp_path):
    need_ffmpeg()
    name = os.fsdecode(b"clip\xff\xfe.mp4")  # 'clip\udcff\udcfe.mp4', as os.listdir gives it
    video = tmp_path / name
    shutil.copyfile(CLIP, video)
    frames = clip_frames()
    for source in (str(video), str(tmp_path)):
        results = fresh().track(source, vid_stride=25)
        assert [r.path for r in results] == [str(video)] * 3
        assert os.fsencode(results[0].path).endswith(b"/clip\xff\xfe.mp4")
        assert all(np.array_equal(r.orig_img, frames[i]) for r, i in zip(results, (24, 49, 74)))
