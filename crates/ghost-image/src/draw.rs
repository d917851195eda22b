//! Annotated images in the style of Ultralytics' `Results.plot()`: a box per detection in its class
//! colour (Ultralytics' 20-colour palette), a filled label "`name 0.87`" above the box (inside it when
//! there is no room above), dark text on light colours. Line width follows Ultralytics:
//! `max(round((h + w + 3) / 2 * 0.003), 2)`. Text uses the built-in bitmap font (the private `font` module).

mod font;

use image::{Rgb, RgbImage};

/// What drawing needs of a detection: its box corners in image pixels, its score and its class.
/// The model crate's `Detection` implements it; so can any other box type.
pub trait LabelledBox {
    /// `[x1, y1, x2, y2]`: left, top, right, bottom edges in pixels.
    fn xyxy(&self) -> [f32; 4];
    /// The score shown in the label.
    fn confidence(&self) -> f32;
    /// Class index (picks the colour).
    fn class_id(&self) -> usize;
    /// Class name (the label's text).
    fn class_name(&self) -> &str;
}

/// Ultralytics' `Colors` palette (RGB), indexed by `class % 20`.
pub const PALETTE: [[u8; 3]; 20] = [
    [0x04, 0x2A, 0xFF],
    [0x0B, 0xDB, 0xEB],
    [0xF3, 0xF3, 0xF3],
    [0x00, 0xDF, 0xB7],
    [0x11, 0x1F, 0x68],
    [0xFF, 0x6F, 0xDD],
    [0xFF, 0x44, 0x4F],
    [0xCC, 0xED, 0x00],
    [0x00, 0xF3, 0x44],
    [0xBD, 0x00, 0xFF],
    [0x00, 0xB4, 0xFF],
    [0xDD, 0x00, 0xBA],
    [0x00, 0xFF, 0xFF],
    [0x26, 0xC0, 0x00],
    [0x01, 0xFF, 0xB3],
    [0x7D, 0x24, 0xFF],
    [0x7B, 0x00, 0x68],
    [0xFF, 0x1B, 0x6C],
    [0xFC, 0x6D, 0x2F],
    [0xA2, 0xFF, 0x0B],
];

/// Palette entries Ultralytics' `Annotator` writes dark text on (its `dark_colors`, in RGB).
const LIGHT_BACKGROUNDS: [usize; 9] = [1, 2, 3, 5, 7, 8, 12, 14, 19];

/// Ultralytics' dark label text colour (RGB of its BGR `(104, 31, 17)`).
const DARK_TEXT: [u8; 3] = [17, 31, 104];
const WHITE: [u8; 3] = [255, 255, 255];

/// The colour of class `class_id`.
pub fn class_color(class_id: usize) -> [u8; 3] {
    PALETTE[class_id % PALETTE.len()]
}

/// Label text colour for a class: dark on the light palette entries, white otherwise.
pub fn text_color(class_id: usize) -> [u8; 3] {
    if LIGHT_BACKGROUNDS.contains(&(class_id % PALETTE.len())) {
        DARK_TEXT
    } else {
        WHITE
    }
}

/// Ultralytics' default line width for an `height x width` RGB image.
pub fn line_width(height: u32, width: u32) -> u32 {
    let v = (f64::from(height) + f64::from(width) + 3.0) / 2.0 * 0.003;
    (v.round_ties_even() as u32).max(2)
}

/// Ultralytics' label text: `"{name} {confidence:.2}"`.
pub fn label(detection: &impl LabelledBox) -> String {
    format!("{} {:.2}", detection.class_name(), detection.confidence())
}

/// A copy of `image` with every detection drawn on it.
pub fn annotate<D: LabelledBox>(image: &RgbImage, detections: &[D]) -> RgbImage {
    let mut out = image.clone();
    draw_detections(&mut out, detections);
    out
}

/// Draw boxes and labels in place (lowest confidence first, so the best boxes end up on top).
pub fn draw_detections<D: LabelledBox>(image: &mut RgbImage, detections: &[D]) {
    let lw = line_width(image.height(), image.width());
    let mut order: Vec<&D> = detections.iter().collect();
    order.sort_by(|a, b| a.confidence().total_cmp(&b.confidence()));
    for d in order {
        let color = class_color(d.class_id());
        // Python int(): truncation; boxes are clipped to the image, so this is floor.
        let [x1, y1, x2, y2] = d.xyxy().map(|v| v as i64);
        draw_box(image, (x1, y1), (x2, y2), lw, color);
        draw_label(
            image,
            (x1, y1),
            &label(d),
            lw,
            color,
            text_color(d.class_id()),
        );
    }
}

/// A rectangle outline `lw` pixels thick centred on the box edges (as `cv2.rectangle` draws it).
pub fn draw_box(image: &mut RgbImage, p1: (i64, i64), p2: (i64, i64), lw: u32, color: [u8; 3]) {
    let lw = i64::from(lw.max(1));
    let (before, after) = (lw / 2, lw - lw / 2);
    let (x1, x2) = (p1.0.min(p2.0), p1.0.max(p2.0));
    let (y1, y2) = (p1.1.min(p2.1), p1.1.max(p2.1));
    let outer = (x1 - before, y1 - before, x2 + after, y2 + after);
    fill_rect(image, outer.0, outer.1, outer.2, y1 - before + lw, color); // top
    fill_rect(image, outer.0, y2 - before, outer.2, outer.3, color); // bottom
    fill_rect(image, outer.0, outer.1, x1 - before + lw, outer.3, color); // left
    fill_rect(image, x2 - before, outer.1, outer.2, outer.3, color); // right
}

/// The pixel scale of the label font for line width `lw` (cap height `7 * scale`, close to the
/// Hershey text Ultralytics draws at `fontScale = lw / 3`).
pub(crate) fn font_scale(lw: u32) -> u32 {
    lw.max(1)
}

/// Size `(width, height)` in pixels of `text` drawn at `scale`.
pub(crate) fn text_size(text: &str, scale: u32) -> (u32, u32) {
    let n = text.chars().count() as u32;
    let w = if n == 0 {
        0
    } else {
        (n * (font::GLYPH_W + 1) - 1) * scale
    };
    (w, font::GLYPH_H * scale)
}

/// A filled label at the box's top-left corner: above the box when it fits, otherwise inside it;
/// shifted left when it would leave the image (Ultralytics `box_label`).
pub fn draw_label(
    image: &mut RgbImage,
    corner: (i64, i64),
    text: &str,
    lw: u32,
    background: [u8; 3],
    foreground: [u8; 3],
) {
    let scale = font_scale(lw);
    let pad = i64::from(scale);
    let (tw, th) = text_size(text, scale);
    let (w, h) = (i64::from(tw) + 2 * pad, i64::from(th) + pad);
    let (mut x, y) = corner;
    let outside = y >= h;
    if x > i64::from(image.width()) - w {
        x = (i64::from(image.width()) - w).max(0);
    }
    let top = if outside { y - h } else { y };
    fill_rect(image, x, top, x + w, top + h, background);
    draw_text(image, (x + pad, top + pad / 2 + 1), text, scale, foreground);
}

/// Draw `text` with its top-left corner at `origin`, each font pixel a `scale x scale` square.
pub(crate) fn draw_text(
    image: &mut RgbImage,
    origin: (i64, i64),
    text: &str,
    scale: u32,
    color: [u8; 3],
) {
    let s = i64::from(scale.max(1));
    let advance = i64::from(font::GLYPH_W + 1) * s;
    for (i, c) in text.chars().enumerate() {
        let gx = origin.0 + i as i64 * advance;
        for (row, bits) in font::glyph(c).iter().enumerate() {
            for col in 0..font::GLYPH_W {
                if bits & (1 << (font::GLYPH_W - 1 - col)) != 0 {
                    let px = gx + i64::from(col) * s;
                    let py = origin.1 + row as i64 * s;
                    fill_rect(image, px, py, px + s, py + s, color);
                }
            }
        }
    }
}

/// Fill `[x0, x1) x [y0, y1)`, clipped to the image.
pub(crate) fn fill_rect(image: &mut RgbImage, x0: i64, y0: i64, x1: i64, y1: i64, color: [u8; 3]) {
    let (w, h) = (i64::from(image.width()), i64::from(image.height()));
    let (x0, x1) = (x0.clamp(0, w), x1.clamp(0, w));
    let (y0, y1) = (y0.clamp(0, h), y1.clamp(0, h));
    for y in y0..y1 {
        for x in x0..x1 {
            image.put_pixel(x as u32, y as u32, Rgb(color));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Detection {
        xyxy: [f32; 4],
        confidence: f32,
        class_id: usize,
        class_name: String,
    }

    impl LabelledBox for Detection {
        fn xyxy(&self) -> [f32; 4] {
            self.xyxy
        }
        fn confidence(&self) -> f32 {
            self.confidence
        }
        fn class_id(&self) -> usize {
            self.class_id
        }
        fn class_name(&self) -> &str {
            &self.class_name
        }
    }

    fn detection(x1: f32, y1: f32, x2: f32, y2: f32, class_id: usize) -> Detection {
        Detection {
            xyxy: [x1, y1, x2, y2],
            confidence: 0.876,
            class_id,
            class_name: "person".into(),
        }
    }

    #[test]
    fn line_width_matches_ultralytics() {
        // max(round(sum(im.shape) / 2 * 0.003), 2) with im.shape = (h, w, 3).
        assert_eq!(line_width(480, 640), 2);
        assert_eq!(line_width(1080, 1920), 5); // 3003 / 2 * 0.003 = 4.5045 -> 5
        assert_eq!(line_width(2000, 2000), 6);
        assert_eq!(line_width(10, 10), 2);
    }

    #[test]
    fn palette_wraps_and_text_contrasts() {
        assert_eq!(class_color(0), [4, 42, 255]);
        assert_eq!(class_color(20), class_color(0));
        assert_eq!(text_color(2), DARK_TEXT); // #F3F3F3 background
        assert_eq!(text_color(0), WHITE);
    }

    #[test]
    fn label_text_has_two_decimals() {
        assert_eq!(label(&detection(0.0, 0.0, 1.0, 1.0, 0)), "person 0.88");
    }

    #[test]
    fn box_outline_is_drawn_in_class_color_and_interior_is_untouched() {
        let mut img = RgbImage::from_pixel(100, 80, Rgb([0, 0, 0]));
        draw_detections(&mut img, &[detection(20.0, 40.0, 70.0, 75.0, 3)]);
        let c = Rgb(class_color(3));
        assert_eq!(*img.get_pixel(45, 40), c, "top edge");
        assert_eq!(*img.get_pixel(20, 60), c, "left edge");
        assert_eq!(*img.get_pixel(70, 60), c, "right edge");
        assert_eq!(*img.get_pixel(45, 75), c, "bottom edge");
        assert_eq!(*img.get_pixel(45, 60), Rgb([0, 0, 0]), "interior");
        // The label sits above the box (there is room) and carries text pixels.
        let label_row: Vec<_> = (20..60).map(|x| *img.get_pixel(x, 30)).collect();
        assert!(label_row.contains(&c));
        let ink = Rgb(text_color(3));
        let text_pixels = (20..90)
            .flat_map(|x| (20..40).map(move |y| (x, y)))
            .filter(|&(x, y)| *img.get_pixel(x, y) == ink)
            .count();
        assert!(
            text_pixels > 20,
            "label text missing ({text_pixels} pixels)"
        );
    }

    #[test]
    fn boxes_at_the_image_border_do_not_panic() {
        let mut img = RgbImage::new(8, 8);
        draw_detections(&mut img, &[detection(0.0, 0.0, 8.0, 8.0, 5)]);
        draw_detections(&mut img, &[detection(7.9, 7.9, 8.0, 8.0, 5)]);
        assert_eq!(*img.get_pixel(0, 4), Rgb(class_color(5)));
    }
}
