//! Canonical Huffman tables (DHT) and symbol decoding, as libjpeg derives them.

use super::bits::BitReader;
use super::JpegError;

/// Bits resolved by the lookup table in one step; longer codes fall back to the canonical walk.
const LOOKUP_BITS: u32 = 9;

/// A decoding table for one DHT class/slot.
#[derive(Debug, Clone)]
pub struct Huffman {
    /// `maxcode[l]`: largest code of length `l` (-1 if none), `l` in 1..=16; `maxcode[17]` sentinel.
    maxcode: [i32; 18],
    /// `valoffset[l]`: index into `values` of the first code of length `l`, minus that code.
    valoffset: [i32; 17],
    values: Vec<u8>,
    /// `(length, symbol)` for every `LOOKUP_BITS`-bit prefix whose code is that short; length 0
    /// means "longer code".
    lookup: Vec<(u8, u8)>,
}

impl Huffman {
    /// Build from the 16 code-length counts and the symbols of a DHT segment. `is_dc` checks the
    /// symbol range libjpeg enforces for DC tables (bit counts up to 15).
    pub fn new(counts: &[u8; 16], values: &[u8], is_dc: bool) -> Result<Self, JpegError> {
        let total: usize = counts.iter().map(|&c| usize::from(c)).sum();
        if total > 256 || total != values.len() {
            return Err(JpegError::corrupt("bad Huffman table size"));
        }
        if is_dc && values.iter().any(|&v| v > 15) {
            return Err(JpegError::corrupt("DC Huffman symbol above 15"));
        }
        let mut maxcode = [-1i32; 18];
        let mut valoffset = [0i32; 17];
        let mut lookup = vec![(0u8, 0u8); 1 << LOOKUP_BITS];
        let (mut code, mut k) = (0i32, 0usize);
        for len in 1..=16usize {
            let n = usize::from(counts[len - 1]);
            // Codes of one length must fit in that many bits (checked before the lookup table
            // is filled: an over-full length would index past it).
            if code + n as i32 > (1 << len) {
                return Err(JpegError::corrupt("bad Huffman table code lengths"));
            }
            if n > 0 {
                valoffset[len] = k as i32 - code;
                for _ in 0..n {
                    if len as u32 <= LOOKUP_BITS {
                        let shift = LOOKUP_BITS - len as u32;
                        let base = (code as usize) << shift;
                        for entry in &mut lookup[base..base + (1 << shift)] {
                            *entry = (len as u8, values[k]);
                        }
                    }
                    code += 1;
                    k += 1;
                }
                maxcode[len] = code - 1;
            }
            code <<= 1;
        }
        maxcode[17] = i32::MAX;
        Ok(Self {
            maxcode,
            valoffset,
            values: values.to_vec(),
            lookup,
        })
    }

    /// Decode one symbol. A bit pattern no code matches yields symbol 0 after 17 bits, as
    /// libjpeg's `jpeg_huff_decode` does for corrupt data.
    pub fn decode(&self, reader: &mut BitReader<'_>) -> u8 {
        let (len, symbol) = self.lookup[reader.peek(LOOKUP_BITS) as usize];
        if len > 0 {
            reader.consume(u32::from(len));
            return symbol;
        }
        let bits = reader.peek(16) as i32;
        for len in LOOKUP_BITS as usize + 1..=16 {
            let code = bits >> (16 - len);
            if code <= self.maxcode[len] {
                reader.consume(len as u32);
                let index = (code + self.valoffset[len]) as usize;
                return self.values.get(index).copied().unwrap_or(0);
            }
        }
        reader.consume(16);
        reader.bits(1);
        0
    }
}

/// JPEG `EXTEND`: a `bits`-bit magnitude category value to its signed coefficient.
pub fn extend(value: u32, bits: u32) -> i32 {
    if bits == 0 {
        0
    } else if value < (1 << (bits - 1)) {
        value as i32 - (1 << bits) + 1
    } else {
        value as i32
    }
}
