//! Image decoding with the pixel semantics Ultralytics gets from `cv2.imread(path, IMREAD_COLOR)`:
//! EXIF orientation applied, grey replicated to three channels, alpha dropped (not composited),
//! 16-bit samples reduced to their high byte (`>> 8`, Ultralytics' `patches.imread`), RGB order
//! (Ultralytics flips cv2's BGR back to RGB before the model). JPEGs are decoded by the `jpeg` submodule, a
//! port of libjpeg-turbo's default decompression, so the pixels equal OpenCV's bit for bit.

mod jpeg;

use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage};
use jpeg::JpegError;

/// The largest image decoded, in pixels (width x height): 2^27 = 134,217,728, e.g. 16384 x 8192
/// or 11585 x 11585. Larger images are refused with [`ImageLoadError::TooLarge`] after reading
/// only their header, so a hostile file (a few bytes claiming 65535 x 65535) cannot make the
/// decoder allocate gigabytes. At the limit a decode peaks at ~1.6 GB (a 4:4:4 JPEG: coefficients,
/// planes and RGB). Use [`decode_rgb_limited`] for a different limit.
pub const MAX_PIXELS: u64 = 1 << 27;

/// Bytes per pixel of the widest pixel format a decoder may produce within [`MAX_PIXELS`]
/// (16-bit RGBA), for the `image` crate's allocation limit.
const MAX_BYTES_PER_PIXEL: u64 = 8;

/// Why an image file could not be turned into pixels.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImageLoadError {
    /// The file could not be opened or read.
    #[error("cannot read image {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// Refused before reading: not a regular file (a FIFO, `/dev/zero`, a directory), or a
    /// file above the image file size limit (`docs/limits.md`).
    #[error(transparent)]
    File(ghost_limits::FileError),
    /// The bytes are not an image format this build decodes (PNG, JPEG, BMP, TIFF, WebP, GIF).
    #[error("cannot decode image {path}: {message}")]
    Decode {
        /// The file.
        path: PathBuf,
        /// The decoder's message.
        message: String,
    },
    /// The header announces more pixels than the decoding limit ([`MAX_PIXELS`]).
    #[error("image {path} is too large: {width}x{height} = {pixels} pixels, the limit is {limit} pixels", pixels = u64::from(*.width) * u64::from(*.height))]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Width from the header.
        width: u32,
        /// Height from the header.
        height: u32,
        /// The pixel limit in force.
        limit: u64,
    },
}

impl From<ghost_limits::FileError> for ImageLoadError {
    /// Operating-system errors stay [`ImageLoadError::Io`]; refusals by kind or size are
    /// [`ImageLoadError::File`].
    fn from(e: ghost_limits::FileError) -> Self {
        match e {
            ghost_limits::FileError::Io { path, source } => ImageLoadError::Io { path, source },
            other => ImageLoadError::File(other),
        }
    }
}

/// Decode an image file (any format the `image` crate is built with), apply its EXIF orientation
/// and convert it to 8-bit RGB as `cv2.imread` + BGR->RGB would.
pub fn load_rgb(path: &Path) -> Result<RgbImage, ImageLoadError> {
    let bytes = ghost_limits::read_bounded(path, ghost_limits::budget::image_file())?;
    decode_rgb(&bytes, path)
}

/// [`load_rgb`] for an in-memory file; `name` is only used in error messages.
///
/// JPEGs go through this crate's libjpeg-turbo-exact decoder (see `jpeg.rs`), so the pixels are
/// the ones OpenCV produces; other formats (and the rare JPEG flavours that decoder does not
/// implement) through the `image` crate.
pub fn decode_rgb(bytes: &[u8], name: &Path) -> Result<RgbImage, ImageLoadError> {
    decode_rgb_limited(bytes, name, MAX_PIXELS)
}

/// [`decode_rgb`] refusing images of more than `max_pixels` pixels ([`ImageLoadError::TooLarge`]),
/// checked on the header before any pixel buffer is allocated.
pub fn decode_rgb_limited(
    bytes: &[u8],
    name: &Path,
    max_pixels: u64,
) -> Result<RgbImage, ImageLoadError> {
    // Decoder messages may span lines; errors are shown as one line.
    let decode_error = |message: String| ImageLoadError::Decode {
        path: name.to_path_buf(),
        message: message
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; "),
    };
    let too_large = |width: u32, height: u32| ImageLoadError::TooLarge {
        path: name.to_path_buf(),
        width,
        height,
        limit: max_pixels,
    };
    if bytes.is_empty() {
        return Err(decode_error("the file is empty".into()));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| decode_error(e.to_string()))?;
    // The `image` crate checks these while reading the header (and before allocating).
    let mut limits = Limits::default();
    let side = u32::try_from(max_pixels).unwrap_or(u32::MAX);
    limits.max_image_width = Some(side);
    limits.max_image_height = Some(side);
    limits.max_alloc = Some(max_pixels.saturating_mul(MAX_BYTES_PER_PIXEL).max(1 << 20));
    reader.limits(limits);
    let is_jpeg = reader.format() == Some(ImageFormat::Jpeg);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e.to_string()))?;
    let (width, height) = decoder.dimensions();
    if u64::from(width) * u64::from(height) > max_pixels {
        return Err(too_large(width, height));
    }
    // A broken EXIF block should not cost the image: cv2 ignores it as well.
    let orientation = decoder.orientation().ok();
    let own_jpeg = if is_jpeg {
        match jpeg::decode(bytes, max_pixels) {
            Ok(d) => RgbImage::from_raw(d.width as u32, d.height as u32, d.rgb),
            Err(JpegError::Unsupported(_)) => None,
            Err(JpegError::TooLarge { width, height }) => {
                return Err(too_large(width as u32, height as u32))
            }
            Err(e @ JpegError::Corrupt(_)) => return Err(decode_error(e.to_string())),
        }
    } else {
        None
    };
    let mut image = match own_jpeg {
        Some(rgb) => DynamicImage::ImageRgb8(rgb),
        None => DynamicImage::from_decoder(decoder).map_err(|e| decode_error(e.to_string()))?,
    };
    if let Some(orientation) = orientation {
        image.apply_orientation(orientation);
    }
    Ok(to_rgb8_like_opencv(&image))
}

/// Convert any decoded image to 8-bit RGB with `cv2.imread`'s rules: grey is replicated, alpha is
/// dropped, 16-bit samples keep their high byte, float samples are clamped to [0, 1] and scaled
/// by 255 with rounding.
pub fn to_rgb8_like_opencv(image: &DynamicImage) -> RgbImage {
    let (w, h) = (image.width(), image.height());
    let high_byte = |v: u16| (v >> 8) as u8;
    let from_pixels = |pixels: Vec<u8>| {
        RgbImage::from_raw(w, h, pixels).expect("pixel count follows the image size")
    };
    match image {
        DynamicImage::ImageLuma16(img) => from_pixels(
            img.as_raw()
                .iter()
                .flat_map(|&v| [high_byte(v); 3])
                .collect(),
        ),
        DynamicImage::ImageLumaA16(img) => from_pixels(
            img.as_raw()
                .chunks_exact(2)
                .flat_map(|px| [high_byte(px[0]); 3])
                .collect(),
        ),
        DynamicImage::ImageRgb16(img) => {
            from_pixels(img.as_raw().iter().map(|&v| high_byte(v)).collect())
        }
        DynamicImage::ImageRgba16(img) => from_pixels(
            img.as_raw()
                .chunks_exact(4)
                .flat_map(|px| [high_byte(px[0]), high_byte(px[1]), high_byte(px[2])])
                .collect(),
        ),
        // 8-bit grey/alpha/RGBA: the image crate replicates grey and drops alpha, like cv2;
        // floats: clamp to [0, 1], scale by 255, round.
        other => other.to_rgb8(),
    }
}

/// `(height, width)` of an image file after its EXIF orientation, read from the header only
/// (Ultralytics' `exif_size`): what [`load_rgb`] will return, without decoding the pixels.
pub fn oriented_size(path: &Path) -> Result<(usize, usize), ImageLoadError> {
    let decode_error = |message: String| ImageLoadError::Decode {
        path: PathBuf::from(path),
        message,
    };
    let reader = image::ImageReader::open(path)
        .map_err(|source| ImageLoadError::Io {
            path: path.to_path_buf(),
            source,
        })?
        .with_guessed_format()
        .map_err(|e| decode_error(e.to_string()))?;
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| decode_error(e.to_string()))?;
    let (w, h) = decoder.dimensions();
    let rotated = matches!(
        decoder.orientation(),
        Ok(image::metadata::Orientation::Rotate90
            | image::metadata::Orientation::Rotate270
            | image::metadata::Orientation::Rotate90FlipH
            | image::metadata::Orientation::Rotate270FlipH)
    );
    let (h, w) = (h as usize, w as usize);
    Ok(if rotated { (w, h) } else { (h, w) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, LumaA, Rgb, Rgba};

    #[test]
    fn sixteen_bit_keeps_the_high_byte() {
        // cv2.imread + Ultralytics: (v >> 8), not round(v / 257): 383 -> 1, 65280 -> 255, 32895 -> 128.
        let img =
            ImageBuffer::<Rgb<u16>, _>::from_raw(2, 1, vec![0, 255, 383, 32895, 65280, 65535])
                .unwrap();
        let out = to_rgb8_like_opencv(&DynamicImage::ImageRgb16(img));
        assert_eq!(out.as_raw(), &[0, 0, 1, 128, 255, 255]);
    }

    #[test]
    fn grey_is_replicated_and_alpha_dropped() {
        let grey = ImageBuffer::<Luma<u16>, _>::from_raw(1, 1, vec![0x7f80]).unwrap();
        assert_eq!(
            to_rgb8_like_opencv(&DynamicImage::ImageLuma16(grey)).as_raw(),
            &[0x7f, 0x7f, 0x7f]
        );
        let grey_alpha = ImageBuffer::<LumaA<u8>, _>::from_raw(1, 1, vec![9, 0]).unwrap();
        assert_eq!(
            to_rgb8_like_opencv(&DynamicImage::ImageLumaA8(grey_alpha)).as_raw(),
            &[9, 9, 9]
        );
        // Fully transparent pixels keep their colour: cv2 ignores alpha rather than compositing.
        let rgba = ImageBuffer::<Rgba<u8>, _>::from_raw(1, 1, vec![10, 20, 30, 0]).unwrap();
        assert_eq!(
            to_rgb8_like_opencv(&DynamicImage::ImageRgba8(rgba)).as_raw(),
            &[10, 20, 30]
        );
        let rgba16 =
            ImageBuffer::<Rgba<u16>, _>::from_raw(1, 1, vec![0x0100, 0x02ff, 0xff00, 7]).unwrap();
        assert_eq!(
            to_rgb8_like_opencv(&DynamicImage::ImageRgba16(rgba16)).as_raw(),
            &[1, 2, 255]
        );
    }

    #[test]
    fn missing_file_is_an_io_error_naming_the_path() {
        let err = load_rgb(Path::new("/nonexistent/dir/x.png")).unwrap_err();
        assert!(matches!(err, ImageLoadError::Io { .. }));
        assert!(err.to_string().contains("/nonexistent/dir/x.png"), "{err}");
    }
}
