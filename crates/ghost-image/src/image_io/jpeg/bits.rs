//! Entropy-coded segment reader: byte stuffing (`FF 00`), markers ending a segment, and
//! libjpeg's behaviour at a premature marker or end of data (zero bits are supplied and the
//! condition is remembered, see `padded`).

/// Reads bits MSB-first from the entropy-coded data starting at a byte offset.
#[derive(Debug)]
pub struct BitReader<'a> {
    data: &'a [u8],
    pos: usize,
    buffer: u64,
    /// Valid bits in `buffer` (data or zero padding).
    bits: u32,
    /// Of those, bits that came from the data (they precede any padding).
    real_bits: u32,
    /// A marker (or the end of the data) stopped the byte supply.
    at_marker: bool,
    /// Bits beyond the data were consumed (libjpeg's `insufficient_data`).
    pub padded: bool,
}

impl<'a> BitReader<'a> {
    pub fn new(data: &'a [u8], pos: usize) -> Self {
        Self {
            data,
            pos,
            buffer: 0,
            bits: 0,
            real_bits: 0,
            at_marker: false,
            padded: false,
        }
    }

    fn fill(&mut self) {
        while self.bits <= 56 {
            let mut byte = 0u8;
            if !self.at_marker && self.pos < self.data.len() {
                let b = self.data[self.pos];
                if b != 0xFF {
                    self.pos += 1;
                    byte = b;
                } else {
                    // FF 00 is a stuffed FF; FF followed by anything else starts a marker.
                    match self.data.get(self.pos + 1) {
                        Some(0x00) => {
                            self.pos += 2;
                            byte = 0xFF;
                        }
                        _ => self.at_marker = true,
                    }
                }
            } else {
                self.at_marker = true;
            }
            if !self.at_marker {
                self.real_bits += 8;
            }
            self.buffer |= u64::from(byte) << (56 - self.bits);
            self.bits += 8;
        }
    }

    /// The next `n` (1..=16) bits, not consumed.
    pub fn peek(&mut self, n: u32) -> u32 {
        if self.bits < n {
            self.fill();
        }
        (self.buffer >> (64 - n)) as u32
    }

    /// Consume `n` bits previously peeked.
    pub fn consume(&mut self, n: u32) {
        if n > self.real_bits {
            self.padded = true;
        }
        self.real_bits = self.real_bits.saturating_sub(n);
        self.buffer <<= n;
        self.bits -= n;
    }

    /// Read `n` (0..=16) bits as an unsigned value.
    pub fn bits(&mut self, n: u32) -> u32 {
        if n == 0 {
            return 0;
        }
        let v = self.peek(n);
        self.consume(n);
        v
    }

    /// Drop buffered bits and skip to the next marker; returns its code and moves past it, or
    /// `None` at the end of the data.
    pub fn take_marker(&mut self) -> Option<u8> {
        let start = self.seek_marker();
        let code = *self.data.get(start + 1)?;
        self.pos = start + 2;
        Some(code)
    }

    /// Drop buffered bits and move to the `FF` of the next marker (or the end of the data);
    /// returns that offset.
    pub fn seek_marker(&mut self) -> usize {
        self.buffer = 0;
        self.bits = 0;
        self.real_bits = 0;
        self.at_marker = false;
        while self.pos + 1 < self.data.len() {
            let code = self.data[self.pos + 1];
            if self.data[self.pos] == 0xFF && code != 0x00 && code != 0xFF {
                return self.pos;
            }
            self.pos += 1;
        }
        self.pos = self.data.len();
        self.pos
    }

    /// Code of the marker at the current position, if the reader stands on one.
    pub fn peek_marker(&self) -> Option<u8> {
        match (self.data.get(self.pos), self.data.get(self.pos + 1)) {
            (Some(0xFF), Some(&c)) if c != 0 && c != 0xFF => Some(c),
            _ => None,
        }
    }

    /// Reset after a restart marker: empty buffer, fresh `padded` state.
    pub fn restart(&mut self) {
        self.buffer = 0;
        self.bits = 0;
        self.real_bits = 0;
        self.at_marker = false;
        self.padded = false;
    }
}
