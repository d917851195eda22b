//! Arbitrary bytes through ghost-image alone: decode (any format; JPEGs through the
//! libjpeg-turbo-exact decoder) with a 2^22-pixel limit. Every input is pixels of the size the
//! header announced, or a typed `ImageLoadError`; never a panic. Faster than
//! `image_to_detections` (no model), so it reaches deeper into the JPEG decoder per second.
#![no_main]

use std::path::Path;

use ghost_image::image_io::decode_rgb_limited;
use libfuzzer_sys::fuzz_target;

const MAX_PIXELS: u64 = 1 << 22;

fuzz_target!(|data: &[u8]| {
    if let Ok(rgb) = decode_rgb_limited(data, Path::new("fuzz"), MAX_PIXELS) {
        let pixels = u64::from(rgb.width()) * u64::from(rgb.height());
        assert!(pixels <= MAX_PIXELS, "decoded {pixels} pixels past the limit");
        assert_eq!(rgb.as_raw().len() as u64, pixels * 3);
    }
});
