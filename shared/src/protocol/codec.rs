//! The primitives of the binary encoding: LEB128 integers and length-prefixed bytes.
//!
//! Invariant: a [`Reader`] never allocates more than the bytes still unread, and every
//! read past the end is [`ProtocolError::Truncated`].

use super::ProtocolError;

/// Appends values to a frame under construction.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
}

impl Writer {
    pub(crate) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(crate) fn uint(&mut self, mut v: u64) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.out.push(byte);
                return;
            }
            self.out.push(byte | 0x80);
        }
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.uint(b.len() as u64);
        self.out.extend_from_slice(b);
    }

    pub(crate) fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }
}

/// Reads values from a received frame, checking every length before use.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ProtocolError> {
        let (&first, rest) = self.rest.split_first().ok_or(ProtocolError::Truncated)?;
        self.rest = rest;
        Ok(first)
    }

    pub(crate) fn uint(&mut self) -> Result<u64, ProtocolError> {
        let mut value: u64 = 0;
        for i in 0..10 {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7f);
            if i == 9 && bits > 1 {
                return Err(ProtocolError::Invalid("integer"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(ProtocolError::Invalid("integer"))
    }

    pub(crate) fn bool(&mut self) -> Result<bool, ProtocolError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(ProtocolError::Invalid("flag")),
        }
    }

    /// A count of items, each at least `min_item` bytes long, at most `limit`.
    pub(crate) fn count(
        &mut self,
        what: &'static str,
        limit: usize,
        min_item: usize,
    ) -> Result<usize, ProtocolError> {
        let n = self.uint()?;
        if n > limit as u64 {
            return Err(ProtocolError::OverLimit { what, limit });
        }
        let n = n as usize;
        if n.saturating_mul(min_item.max(1)) > self.rest.len() {
            return Err(ProtocolError::Truncated);
        }
        Ok(n)
    }

    pub(crate) fn bytes(
        &mut self,
        what: &'static str,
        limit: usize,
    ) -> Result<&'a [u8], ProtocolError> {
        let n = self.uint()?;
        if n > limit as u64 {
            return Err(ProtocolError::OverLimit { what, limit });
        }
        let n = n as usize;
        if n > self.rest.len() {
            return Err(ProtocolError::Truncated);
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Ok(head)
    }

    pub(crate) fn fixed<const N: usize>(&mut self) -> Result<[u8; N], ProtocolError> {
        if self.rest.len() < N {
            return Err(ProtocolError::Truncated);
        }
        let (head, rest) = self.rest.split_at(N);
        self.rest = rest;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    pub(crate) fn str(
        &mut self,
        what: &'static str,
        limit: usize,
    ) -> Result<&'a str, ProtocolError> {
        std::str::from_utf8(self.bytes(what, limit)?).map_err(|_| ProtocolError::Invalid(what))
    }

    pub(crate) fn finish(self) -> Result<(), ProtocolError> {
        match self.rest.len() {
            0 => Ok(()),
            n => Err(ProtocolError::Trailing(n)),
        }
    }
}
