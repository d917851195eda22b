//! Every limit's default and the environment variable that raises it, in one table
//! (mirrored in `docs/limits.md`). Each is read when used, so a test or a user can change it
//! per process; a value that does not parse as a positive integer leaves the default.

use crate::env_limit;
use crate::file::ReadLimit;

const MIB: u64 = 1 << 20;

/// A model YAML file (Ultralytics' largest is ~3 KB): 1 MiB, `GHOST_YOLO_MAX_YAML_BYTES`.
/// Also bounds the `model_yaml` weights metadata entry and `data.yaml`.
pub fn yaml_file() -> ReadLimit {
    ReadLimit {
        bytes: env_limit("GHOST_YOLO_MAX_YAML_BYTES", MIB),
        what: "a YAML file",
        knob: "GHOST_YOLO_MAX_YAML_BYTES",
    }
}

/// One label file (400,000 rows of `c x y w h` are ~15 MB): 64 MiB,
/// `GHOST_YOLO_MAX_LABEL_BYTES`.
pub fn label_file() -> ReadLimit {
    ReadLimit {
        bytes: env_limit("GHOST_YOLO_MAX_LABEL_BYTES", 64 * MIB),
        what: "a label file",
        knob: "GHOST_YOLO_MAX_LABEL_BYTES",
    }
}

/// An image list (`val: list.txt`, one path per line): 256 MiB, `GHOST_YOLO_MAX_LIST_BYTES`.
pub fn image_list() -> ReadLimit {
    ReadLimit {
        bytes: env_limit("GHOST_YOLO_MAX_LIST_BYTES", 256 * MIB),
        what: "an image list",
        knob: "GHOST_YOLO_MAX_LIST_BYTES",
    }
}

/// An encoded image file: 512 MiB, `GHOST_YOLO_MAX_IMAGE_BYTES`. The decoded size has its
/// own limit (the pixel limit of the image decoder, checked on the header).
pub fn image_file() -> ReadLimit {
    ReadLimit {
        bytes: env_limit("GHOST_YOLO_MAX_IMAGE_BYTES", 512 * MIB),
        what: "an image file",
        knob: "GHOST_YOLO_MAX_IMAGE_BYTES",
    }
}

/// A raw tensor file for `ghost-yolo forward`: 1 GiB, `GHOST_YOLO_MAX_TENSOR_BYTES`.
pub fn tensor_file() -> ReadLimit {
    ReadLimit {
        bytes: env_limit("GHOST_YOLO_MAX_TENSOR_BYTES", 1024 * MIB),
        what: "a tensor file",
        knob: "GHOST_YOLO_MAX_TENSOR_BYTES",
    }
}

/// Largest inference side (`--imgsz`, `imgsz` metadata): 4096, `GHOST_YOLO_MAX_IMGSZ`.
/// Activations grow with the square of the side; Ultralytics' largest trained size is 1280.
pub fn max_imgsz() -> usize {
    env_limit("GHOST_YOLO_MAX_IMGSZ", 4096).min(1 << 20) as usize
}

/// Directory entries one walk examines: 10 million, `GHOST_YOLO_MAX_WALK_ENTRIES`.
pub fn walk_entries() -> u64 {
    env_limit(
        "GHOST_YOLO_MAX_WALK_ENTRIES",
        crate::walk::DEFAULT_MAX_ENTRIES,
    )
}
