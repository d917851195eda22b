//! One decoded frame: raw pixels as ffmpeg wrote them to the pipe.

/// The raw pixel layout asked of ffmpeg (`-pix_fmt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PixelFormat {
    /// Packed 8-bit B, G, R: what `cv2.VideoCapture` returns (FFmpeg's swscale converts, as
    /// inside OpenCV), so detections match Ultralytics'. The default.
    #[default]
    Bgr24,
    /// Packed 8-bit R, G, B (the same conversion, channels in model order).
    Rgb24,
    /// Planar Y, then U and V at half width and height (rounded up): the decoder's own output,
    /// before any colour conversion.
    Yuv420p,
}

impl PixelFormat {
    /// FFmpeg's name for it (`-pix_fmt`).
    pub fn ffmpeg_name(self) -> &'static str {
        match self {
            PixelFormat::Bgr24 => "bgr24",
            PixelFormat::Rgb24 => "rgb24",
            PixelFormat::Yuv420p => "yuv420p",
        }
    }

    /// Bytes of one `width` x `height` frame.
    pub fn frame_bytes(self, width: u32, height: u32) -> usize {
        let (w, h) = (width as usize, height as usize);
        match self {
            PixelFormat::Bgr24 | PixelFormat::Rgb24 => w * h * 3,
            PixelFormat::Yuv420p => w * h + 2 * w.div_ceil(2) * h.div_ceil(2),
        }
    }
}

/// A decoded frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoFrame {
    /// 0-based index of the frame in the decoded stream (before `vid_stride` skips any).
    pub index: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Layout of [`VideoFrame::data`].
    pub format: PixelFormat,
    /// The pixels, [`PixelFormat::frame_bytes`] long.
    pub data: Vec<u8>,
}

impl VideoFrame {
    /// The Y, U and V planes of a [`PixelFormat::Yuv420p`] frame; `None` for packed formats.
    pub fn yuv_planes(&self) -> Option<(&[u8], &[u8], &[u8])> {
        if self.format != PixelFormat::Yuv420p {
            return None;
        }
        let luma = self.width as usize * self.height as usize;
        let chroma = (self.width as usize).div_ceil(2) * (self.height as usize).div_ceil(2);
        let (y, rest) = self.data.split_at(luma);
        let (u, v) = rest.split_at(chroma);
        Some((y, u, v))
    }

    /// Packed RGB bytes (`[h, w, 3]`): a copy with B and R swapped for [`PixelFormat::Bgr24`],
    /// the data itself for [`PixelFormat::Rgb24`]; `None` for YUV.
    pub fn into_rgb(self) -> Option<Vec<u8>> {
        match self.format {
            PixelFormat::Rgb24 => Some(self.data),
            PixelFormat::Bgr24 => {
                let mut data = self.data;
                for px in data.chunks_exact_mut(3) {
                    px.swap(0, 2);
                }
                Some(data)
            }
            PixelFormat::Yuv420p => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_sizes_follow_ffmpeg_layouts() {
        assert_eq!(PixelFormat::Bgr24.frame_bytes(320, 256), 245_760);
        assert_eq!(PixelFormat::Yuv420p.frame_bytes(320, 256), 122_880);
        // odd sizes: chroma planes round up (FFmpeg's AV_CEIL_RSHIFT)
        assert_eq!(PixelFormat::Yuv420p.frame_bytes(5, 3), 15 + 2 * 3 * 2);
    }

    #[test]
    fn bgr_becomes_rgb_and_planes_split() {
        let f = VideoFrame {
            index: 0,
            width: 2,
            height: 1,
            format: PixelFormat::Bgr24,
            data: vec![1, 2, 3, 4, 5, 6],
        };
        assert_eq!(f.clone().into_rgb().unwrap(), vec![3, 2, 1, 6, 5, 4]);
        assert!(f.yuv_planes().is_none());
        let y = VideoFrame {
            index: 0,
            width: 3,
            height: 3,
            format: PixelFormat::Yuv420p,
            data: (0..17).collect(),
        };
        let (py, pu, pv) = y.yuv_planes().unwrap();
        assert_eq!((py.len(), pu.len(), pv.len()), (9, 4, 4));
        assert_eq!(pv[0], 13);
    }
}
