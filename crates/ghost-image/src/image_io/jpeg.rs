//! A JPEG decoder that reproduces libjpeg-turbo's default output (what `cv2.imread`, and therefore
//! Ultralytics, sees) sample for sample: Huffman-coded baseline, extended and progressive 8-bit
//! JPEGs; accurate integer IDCT; fancy chroma upsampling; libjpeg's YCbCr tables.
//!
//! The `image` crate's decoder (zune-jpeg) rounds its IDCT, upsampling and colour conversion
//! differently (up to 5 levels on a q90 4:2:0 photo), which moves YOLO scores by ~1e-4 and
//! reorders near-tied detections. Formats this decoder does not handle (arithmetic coding,
//! lossless, 12-bit, CMYK/YCCK, DNL) are reported as [`JpegError::Unsupported`] and the caller falls
//! back to the `image` crate.

mod bits;
mod entropy;
mod huffman;
mod idct;
mod output;

use bits::BitReader;
use huffman::Huffman;
use output::{Plane, YccTables};

/// Why the decoder stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JpegError {
    /// A valid JPEG this decoder does not implement (caller should use another decoder).
    Unsupported(String),
    /// Malformed data.
    Corrupt(String),
    /// The frame header announces more pixels than the caller's limit (nothing was allocated).
    TooLarge {
        /// Width from the SOF header.
        width: usize,
        /// Height from the SOF header.
        height: usize,
    },
}

impl JpegError {
    fn corrupt(message: &str) -> Self {
        JpegError::Corrupt(message.to_string())
    }

    fn unsupported(message: impl Into<String>) -> Self {
        JpegError::Unsupported(message.into())
    }
}

impl std::fmt::Display for JpegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JpegError::Unsupported(m) => write!(f, "unsupported JPEG: {m}"),
            JpegError::Corrupt(m) => write!(f, "corrupt JPEG: {m}"),
            JpegError::TooLarge { width, height } => {
                write!(
                    f,
                    "JPEG of {width}x{height} pixels exceeds the decoding limit"
                )
            }
        }
    }
}

/// A decoded image: 8-bit RGB, or grey replicated to RGB (as `cv2.imread(IMREAD_COLOR)`).
#[derive(Debug)]
pub struct Decoded {
    pub width: usize,
    pub height: usize,
    pub rgb: Vec<u8>,
}

#[derive(Debug)]
struct Component {
    id: u8,
    h: usize,
    v: usize,
    quant_slot: usize,
    /// Quantisation table latched when the component first appears in a scan (libjpeg).
    quant: Option<[u16; 64]>,
    /// Allocated blocks per row / rows of blocks (covering every interleaved MCU).
    blocks_w: usize,
    blocks_h: usize,
    /// Blocks a non-interleaved scan covers.
    scan_blocks_w: usize,
    scan_blocks_h: usize,
    /// Meaningful samples (`ceil(image size * factor / max factor)`).
    width: usize,
    height: usize,
    coefs: Vec<i16>,
}

#[derive(Debug)]
struct Frame {
    progressive: bool,
    width: usize,
    height: usize,
    h_max: usize,
    v_max: usize,
    mcus_x: usize,
    mcus_y: usize,
    components: Vec<Component>,
}

/// One scan's parameters.
#[derive(Debug)]
struct Scan {
    /// `(component index, DC table, AC table)`.
    components: Vec<(usize, usize, usize)>,
    ss: usize,
    se: usize,
    ah: u32,
    al: u32,
}

#[derive(Debug, Default)]
struct Decoder {
    quant: [Option<[u16; 64]>; 4],
    dc: [Option<Huffman>; 4],
    ac: [Option<Huffman>; 4],
    restart_interval: usize,
    jfif: bool,
    adobe_transform: Option<u8>,
    frame: Option<Frame>,
}

/// Decode a whole JPEG file of at most `max_pixels` pixels (checked on each frame header,
/// before its coefficient buffers are allocated).
pub fn decode(data: &[u8], max_pixels: u64) -> Result<Decoded, JpegError> {
    if data.len() < 4 || data[0] != 0xFF || data[1] != 0xD8 {
        return Err(JpegError::corrupt("missing SOI marker"));
    }
    let mut dec = Decoder::default();
    let mut pos = 2;
    loop {
        let Some((marker, next)) = next_marker(data, pos) else {
            // OpenCV 5 turns libjpeg's "premature end of data" warning into a failed read.
            return Err(JpegError::corrupt("truncated file (no EOI marker)"));
        };
        pos = next;
        match marker {
            0xD8 | 0x01 | 0xD0..=0xD7 => {}
            0xD9 => break,
            0xC0..=0xC2 => {
                // libjpeg's get_sof: a second frame header is JERR_SOF_DUPLICATE. Taking the
                // last one instead decoded a file whose scans belong to another frame as a
                // blank image of the second header's size.
                if dec.frame.is_some() {
                    return Err(JpegError::corrupt(
                        "Invalid JPEG file structure: two SOF markers",
                    ));
                }
                let seg = segment(data, pos)?;
                dec.frame = Some(parse_frame(seg, marker == 0xC2, max_pixels)?);
                pos += 2 + seg.len();
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(JpegError::unsupported(format!(
                    "SOF{} (lossless, hierarchical or arithmetic coding)",
                    marker - 0xC0
                )));
            }
            0xC4 => {
                let seg = segment(data, pos)?;
                dec.parse_dht(seg)?;
                pos += 2 + seg.len();
            }
            0xDB => {
                let seg = segment(data, pos)?;
                dec.parse_dqt(seg)?;
                pos += 2 + seg.len();
            }
            0xDD => {
                let seg = segment(data, pos)?;
                if seg.len() < 2 {
                    return Err(JpegError::corrupt("short DRI segment"));
                }
                dec.restart_interval = usize::from(u16::from_be_bytes([seg[0], seg[1]]));
                pos += 2 + seg.len();
            }
            0xDC => return Err(JpegError::unsupported("DNL marker")),
            0xDA => {
                let seg = segment(data, pos)?;
                let scan = dec.parse_sos(seg)?;
                pos += 2 + seg.len();
                pos = dec.decode_scan(data, pos, &scan)?;
            }
            0xE0 => {
                let seg = segment(data, pos)?;
                dec.jfif |= seg.len() >= 14 && seg.starts_with(b"JFIF\0");
                pos += 2 + seg.len();
            }
            0xEE => {
                let seg = segment(data, pos)?;
                if seg.len() >= 12 && seg.starts_with(b"Adobe") {
                    dec.adobe_transform = Some(seg[11]);
                }
                pos += 2 + seg.len();
            }
            _ => {
                let seg = segment(data, pos)?;
                pos += 2 + seg.len();
            }
        }
    }
    dec.finish()
}

/// The next marker at or after `pos` (skipping fill bytes and stray data): `(code, offset after)`.
fn next_marker(data: &[u8], mut pos: usize) -> Option<(u8, usize)> {
    while pos + 1 < data.len() {
        if data[pos] == 0xFF && data[pos + 1] != 0xFF && data[pos + 1] != 0x00 {
            return Some((data[pos + 1], pos + 2));
        }
        pos += 1;
    }
    None
}

/// The payload of the length-prefixed segment starting at `pos`.
fn segment(data: &[u8], pos: usize) -> Result<&[u8], JpegError> {
    let len = data
        .get(pos..pos + 2)
        .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
        .ok_or_else(|| JpegError::corrupt("truncated segment length"))?;
    if len < 2 {
        return Err(JpegError::corrupt("segment length below 2"));
    }
    data.get(pos + 2..pos + len)
        .ok_or_else(|| JpegError::corrupt("truncated segment"))
}

fn parse_frame(seg: &[u8], progressive: bool, max_pixels: u64) -> Result<Frame, JpegError> {
    if seg.len() < 6 {
        return Err(JpegError::corrupt("short SOF segment"));
    }
    if seg[0] != 8 {
        return Err(JpegError::unsupported(format!("{}-bit samples", seg[0])));
    }
    let height = usize::from(u16::from_be_bytes([seg[1], seg[2]]));
    let width = usize::from(u16::from_be_bytes([seg[3], seg[4]]));
    let count = usize::from(seg[5]);
    if height == 0 {
        return Err(JpegError::unsupported("height defined by a DNL marker"));
    }
    if width == 0 {
        return Err(JpegError::corrupt("zero image width"));
    }
    if (width as u64) * (height as u64) > max_pixels {
        return Err(JpegError::TooLarge { width, height });
    }
    if count != 1 && count != 3 {
        return Err(JpegError::unsupported(format!("{count} components")));
    }
    if seg.len() < 6 + 3 * count {
        return Err(JpegError::corrupt("short SOF component list"));
    }
    let mut components = Vec::with_capacity(count);
    for c in 0..count {
        let p = &seg[6 + 3 * c..9 + 3 * c];
        let (h, v) = (usize::from(p[1] >> 4), usize::from(p[1] & 15));
        if !(1..=4).contains(&h) || !(1..=4).contains(&v) || p[2] > 3 {
            return Err(JpegError::corrupt(
                "bad component sampling factors or table",
            ));
        }
        components.push(Component {
            id: p[0],
            h,
            v,
            quant_slot: usize::from(p[2]),
            quant: None,
            blocks_w: 0,
            blocks_h: 0,
            scan_blocks_w: 0,
            scan_blocks_h: 0,
            width: 0,
            height: 0,
            coefs: Vec::new(),
        });
    }
    let h_max = components.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = components.iter().map(|c| c.v).max().unwrap_or(1);
    let mcus_x = width.div_ceil(8 * h_max);
    let mcus_y = height.div_ceil(8 * v_max);
    for c in &mut components {
        if h_max % c.h != 0 || v_max % c.v != 0 {
            return Err(JpegError::unsupported("fractional chroma subsampling"));
        }
        c.width = (width * c.h).div_ceil(h_max);
        c.height = (height * c.v).div_ceil(v_max);
        c.scan_blocks_w = c.width.div_ceil(8);
        c.scan_blocks_h = c.height.div_ceil(8);
        c.blocks_w = mcus_x * c.h;
        c.blocks_h = mcus_y * c.v;
        c.coefs = vec![0; c.blocks_w * c.blocks_h * 64];
    }
    Ok(Frame {
        progressive,
        width,
        height,
        h_max,
        v_max,
        mcus_x,
        mcus_y,
        components,
    })
}

impl Decoder {
    fn parse_dht(&mut self, mut seg: &[u8]) -> Result<(), JpegError> {
        while !seg.is_empty() {
            if seg.len() < 17 {
                return Err(JpegError::corrupt("short DHT segment"));
            }
            let (class, slot) = (seg[0] >> 4, usize::from(seg[0] & 15));
            if class > 1 || slot > 3 {
                return Err(JpegError::corrupt("bad DHT class or slot"));
            }
            let mut counts = [0u8; 16];
            counts.copy_from_slice(&seg[1..17]);
            let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
            let values = seg
                .get(17..17 + total)
                .ok_or_else(|| JpegError::corrupt("truncated DHT values"))?;
            let table = Huffman::new(&counts, values, class == 0)?;
            if class == 0 {
                self.dc[slot] = Some(table);
            } else {
                self.ac[slot] = Some(table);
            }
            seg = &seg[17 + total..];
        }
        Ok(())
    }

    fn parse_dqt(&mut self, mut seg: &[u8]) -> Result<(), JpegError> {
        while !seg.is_empty() {
            let (precision, slot) = (seg[0] >> 4, usize::from(seg[0] & 15));
            if slot > 3 || precision > 1 {
                return Err(JpegError::corrupt("bad DQT precision or slot"));
            }
            let size = if precision == 0 { 64 } else { 128 };
            let body = seg
                .get(1..1 + size)
                .ok_or_else(|| JpegError::corrupt("truncated DQT"))?;
            let mut table = [0u16; 64];
            for k in 0..64 {
                let v = if precision == 0 {
                    u16::from(body[k])
                } else {
                    u16::from_be_bytes([body[2 * k], body[2 * k + 1]])
                };
                table[entropy::natural(k)] = v;
            }
            self.quant[slot] = Some(table);
            seg = &seg[1 + size..];
        }
        Ok(())
    }

    fn parse_sos(&mut self, seg: &[u8]) -> Result<Scan, JpegError> {
        let frame = self
            .frame
            .as_mut()
            .ok_or_else(|| JpegError::corrupt("SOS before SOF"))?;
        let n = usize::from(*seg.first().unwrap_or(&0));
        if n == 0 || n > 4 || seg.len() < 4 + 2 * n {
            return Err(JpegError::corrupt("bad SOS segment"));
        }
        let mut components = Vec::with_capacity(n);
        for i in 0..n {
            let (id, tables) = (seg[1 + 2 * i], seg[2 + 2 * i]);
            let index = frame
                .components
                .iter()
                .position(|c| c.id == id)
                .ok_or_else(|| JpegError::corrupt("SOS names an unknown component"))?;
            let (td, ta) = (usize::from(tables >> 4), usize::from(tables & 15));
            if td > 3 || ta > 3 {
                return Err(JpegError::corrupt("bad Huffman table selector"));
            }
            components.push((index, td, ta));
        }
        let p = &seg[1 + 2 * n..];
        let scan = Scan {
            components,
            ss: usize::from(p[0]),
            se: usize::from(p[1]),
            ah: u32::from(p[2] >> 4),
            al: u32::from(p[2] & 15),
        };
        if frame.progressive {
            let dc_scan = scan.ss == 0;
            if (dc_scan && scan.se != 0)
                || (!dc_scan && (scan.se < scan.ss || scan.se > 63 || n != 1))
                || scan.al > 13
            {
                return Err(JpegError::corrupt("bad progressive scan parameters"));
            }
        }
        // Latch quantisation tables at the first scan of each component (libjpeg).
        for &(index, _, _) in &scan.components {
            let comp = &mut frame.components[index];
            if comp.quant.is_none() {
                comp.quant = Some(
                    self.quant[comp.quant_slot]
                        .ok_or_else(|| JpegError::corrupt("missing quantisation table"))?,
                );
            }
        }
        Ok(scan)
    }

    /// Entropy-decode one scan starting at `pos`; returns the offset of the marker after it.
    fn decode_scan(&mut self, data: &[u8], pos: usize, scan: &Scan) -> Result<usize, JpegError> {
        let frame = self
            .frame
            .as_mut()
            .ok_or_else(|| JpegError::corrupt("SOS before SOF"))?;
        let progressive = frame.progressive;
        let kind = ScanKind::of(progressive, scan);
        let table = |tables: &[Option<Huffman>; 4], slot: usize| {
            tables[slot]
                .clone()
                .ok_or_else(|| JpegError::corrupt("scan uses an undefined Huffman table"))
        };
        let mut dc_tables = Vec::new();
        let mut ac_tables = Vec::new();
        for &(_, td, ta) in &scan.components {
            dc_tables.push(match kind {
                ScanKind::Sequential | ScanKind::DcFirst => Some(table(&self.dc, td)?),
                _ => None,
            });
            ac_tables.push(match kind {
                ScanKind::Sequential | ScanKind::AcFirst | ScanKind::AcRefine => {
                    Some(table(&self.ac, ta)?)
                }
                _ => None,
            });
        }

        // MCU layout: interleaved scans walk MCUs of h x v blocks per component; a single
        // component scan walks that component's own blocks one at a time.
        let interleaved = scan.components.len() > 1;
        let (mcus_x, mcus_y) = if interleaved {
            (frame.mcus_x, frame.mcus_y)
        } else {
            let c = &frame.components[scan.components[0].0];
            (c.scan_blocks_w, c.scan_blocks_h)
        };
        let mut reader = BitReader::new(data, pos);
        let mut preds = vec![0i32; scan.components.len()];
        let mut eobrun = 0u32;
        let mut restarts_to_go = self.restart_interval;
        let mut insufficient = false;
        for mcu in 0..mcus_x * mcus_y {
            if self.restart_interval > 0 {
                if restarts_to_go == 0 {
                    // Restart: drop leftover bits, consume RSTn, reset predictions.
                    // (A missing RSTn leaves the reader on the other marker: the rest of the
                    // scan then reads zeros, as libjpeg's resync does.)
                    reader.seek_marker();
                    if let Some(0xD0..=0xD7) = reader.peek_marker() {
                        reader.take_marker();
                        reader.restart();
                        insufficient = false;
                    }
                    preds.iter_mut().for_each(|p| *p = 0);
                    eobrun = 0;
                    restarts_to_go = self.restart_interval;
                }
                restarts_to_go -= 1;
            }
            if insufficient {
                continue; // libjpeg skips the rest of a scan after running out of data
            }
            let (mx, my) = (mcu % mcus_x, mcu / mcus_x);
            for (slot, &(index, _, _)) in scan.components.iter().enumerate() {
                let comp = &mut frame.components[index];
                let (bw, bh) = if interleaved {
                    (comp.h, comp.v)
                } else {
                    (1, 1)
                };
                for by in 0..bh {
                    for bx in 0..bw {
                        let (col, row) = if interleaved {
                            (mx * comp.h + bx, my * comp.v + by)
                        } else {
                            (mx, my)
                        };
                        let start = (row * comp.blocks_w + col) * 64;
                        let block = &mut comp.coefs[start..start + 64];
                        let pred = &mut preds[slot];
                        let (dc, ac) = (&dc_tables[slot], &ac_tables[slot]);
                        let band = (scan.ss, scan.se);
                        match (kind, dc, ac) {
                            (ScanKind::Sequential, Some(dc), Some(ac)) => {
                                entropy::decode_sequential(&mut reader, dc, ac, pred, block)
                            }
                            (ScanKind::DcFirst, Some(dc), _) => {
                                entropy::decode_dc_first(&mut reader, dc, pred, scan.al, block)
                            }
                            (ScanKind::DcRefine, _, _) => {
                                entropy::decode_dc_refine(&mut reader, scan.al, block)
                            }
                            (ScanKind::AcFirst, _, Some(ac)) => entropy::decode_ac_first(
                                &mut reader,
                                ac,
                                band,
                                scan.al,
                                &mut eobrun,
                                block,
                            ),
                            (ScanKind::AcRefine, _, Some(ac)) => entropy::decode_ac_refine(
                                &mut reader,
                                ac,
                                band,
                                scan.al,
                                &mut eobrun,
                                block,
                            ),
                            _ => {}
                        }
                    }
                }
            }
            insufficient = reader.padded;
        }
        Ok(reader.seek_marker())
    }

    /// IDCT, upsampling and colour conversion of the whole image.
    fn finish(self) -> Result<Decoded, JpegError> {
        let frame = self
            .frame
            .as_ref()
            .ok_or_else(|| JpegError::corrupt("no SOF marker"))?;
        let (width, height) = (frame.width, frame.height);
        let mut planes = Vec::with_capacity(frame.components.len());
        for comp in &frame.components {
            let quant = comp
                .quant
                .or(self.quant[comp.quant_slot])
                .ok_or_else(|| JpegError::corrupt("component without quantisation table"))?;
            let stride = comp.blocks_w * 8;
            let mut samples = vec![0u8; stride * comp.blocks_h * 8];
            for by in 0..comp.blocks_h {
                for bx in 0..comp.blocks_w {
                    let start = (by * comp.blocks_w + bx) * 64;
                    let block: &[i16; 64] = comp.coefs[start..start + 64]
                        .try_into()
                        .expect("blocks are 64 coefficients");
                    let out = &mut samples[by * 8 * stride + bx * 8..];
                    idct::idct_islow(block, &quant, out, stride);
                }
            }
            planes.push(Plane {
                samples,
                stride,
                width: comp.width,
                height: comp.height,
                h_expand: frame.h_max / comp.h,
                v_expand: frame.v_max / comp.v,
            });
        }
        // Upsample and convert one output row at a time (no full-size planes).
        let mut rgb = vec![0u8; width * height * 3];
        let mut rows = vec![vec![0u8; width]; planes.len()];
        let mut colsum = vec![0i32; planes.iter().map(|p| p.width).max().unwrap_or(0)];
        let tables = YccTables::new();
        let rgb_source = planes.len() == 3 && self.is_rgb(frame);
        for (y, out) in rgb.chunks_exact_mut(width * 3).enumerate() {
            for (plane, row) in planes.iter().zip(&mut rows) {
                plane.upsample_row(y, row, &mut colsum);
            }
            match rows.as_slice() {
                [g] => {
                    for (px, &v) in out.chunks_exact_mut(3).zip(g) {
                        px.fill(v);
                    }
                }
                [a, b, c] if rgb_source => {
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        px.copy_from_slice(&[a[x], b[x], c[x]]);
                    }
                }
                [luma, cb, cr] => {
                    for (x, px) in out.chunks_exact_mut(3).enumerate() {
                        px.copy_from_slice(&tables.rgb(luma[x], cb[x], cr[x]));
                    }
                }
                _ => return Err(JpegError::unsupported("component count")),
            }
        }
        Ok(Decoded { width, height, rgb })
    }

    /// libjpeg's colour-space guess for 3 components (`default_decompress_parms`).
    fn is_rgb(&self, frame: &Frame) -> bool {
        if self.jfif {
            return false;
        }
        if let Some(transform) = self.adobe_transform {
            return transform == 0;
        }
        let ids: Vec<u8> = frame.components.iter().map(|c| c.id).collect();
        ids == [b'R', b'G', b'B']
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ScanKind {
    Sequential,
    DcFirst,
    DcRefine,
    AcFirst,
    AcRefine,
}

impl ScanKind {
    fn of(progressive: bool, scan: &Scan) -> Self {
        match (progressive, scan.ss == 0, scan.ah == 0) {
            (false, _, _) => ScanKind::Sequential,
            (true, true, true) => ScanKind::DcFirst,
            (true, true, false) => ScanKind::DcRefine,
            (true, false, true) => ScanKind::AcFirst,
            (true, false, false) => ScanKind::AcRefine,
        }
    }
}
