//! `--save-crop`: the region Ultralytics' `save_one_box(xyxy, im, gain=1.02, pad=10)` cuts out
//! (float32 arithmetic as torch does it), saved as `crops/<class name>/<stem>.jpg`.

use std::path::{Path, PathBuf};

use image::RgbImage;
use yolo11_ghost::postprocess::Detection;

/// `[x1, y1, x2, y2)` pixel rectangle of the crop in a `width` x `height` image: the box's
/// centre and size, size `* 1.02 + 10`, back to corners, truncated toward zero (torch's
/// `.long()`), clipped to the image. May be empty (zero width or height).
pub fn crop_rect(detection: &Detection, width: u32, height: u32) -> [u32; 4] {
    let (x1, y1, x2, y2) = (detection.x1, detection.y1, detection.x2, detection.y2);
    let (cx, cy) = ((x1 + x2) / 2.0, (y1 + y2) / 2.0);
    let bw = (x2 - x1) * 1.02_f32 + 10.0;
    let bh = (y2 - y1) * 1.02_f32 + 10.0;
    let (hw, hh) = (bw / 2.0, bh / 2.0);
    let clip = |v: f32, max: u32| (v.trunc() as i64).clamp(0, i64::from(max)) as u32;
    [
        clip(cx - hw, width),
        clip(cy - hh, height),
        clip(cx + hw, width),
        clip(cy + hh, height),
    ]
}

/// The crop's pixels (`None` when the rectangle is empty).
pub fn crop_image(image: &RgbImage, detection: &Detection) -> Option<RgbImage> {
    let [x1, y1, x2, y2] = crop_rect(detection, image.width(), image.height());
    (x2 > x1 && y2 > y1)
        .then(|| image::imageops::crop_imm(image, x1, y1, x2 - x1, y2 - y1).to_image())
}

/// `path` itself when free, else Ultralytics' `increment_path`: `name-2.jpg`, `name-3.jpg` ...
pub fn increment_path(path: &Path) -> PathBuf {
    if !path.exists() {
        return path.to_path_buf();
    }
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let ext = path
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    (2..)
        .map(|n| path.with_file_name(format!("{stem}-{n}{ext}")))
        .find(|p| !p.exists())
        .expect("some number is free")
}

/// Save each detection's crop as `dir/<class name>/<stem>.jpg` (JPEG quality 95, as
/// Ultralytics'); returns the files written.
pub fn save_crops(
    dir: &Path,
    stem: &str,
    image: &RgbImage,
    detections: &[Detection],
) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for d in detections {
        let Some(crop) = crop_image(image, d) else {
            continue;
        };
        // A class name (from weights metadata) is one directory level, never a path: `../x`
        // or `a/b` would put the crop outside `dir`.
        let class_dir = dir.join(match d.class_name.as_str() {
            "" | "." | ".." => format!("_{}", d.class_name),
            name => name.replace(['/', '\\', '\0'], "_"),
        });
        std::fs::create_dir_all(&class_dir)
            .map_err(|e| format!("cannot create {}: {e}", class_dir.display()))?;
        let target = increment_path(&class_dir.join(format!("{stem}.jpg")));
        let fail = |e: &dyn std::fmt::Display| format!("cannot save {}: {e}", target.display());
        let mut bytes = Vec::new();
        let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 95);
        crop.write_with_encoder(encoder).map_err(|e| fail(&e))?;
        crate::atomic::write_file(&target, &bytes)?;
        written.push(target);
    }
    Ok(written)
}
