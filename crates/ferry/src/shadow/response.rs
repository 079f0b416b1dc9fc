//! A target's answer as kept for comparison: status, headers and the body — held in memory up
//! to the body limit, and beyond it only as a SHA-256 digest and a length, read as it streams.

use std::collections::BTreeMap;

use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

/// A response body for comparison.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CapturedBody {
    /// The whole body, at most the limit.
    Held(Bytes),
    /// A body over the limit: its digest, its length and its first bytes (for reports).
    Digest {
        sha256: [u8; 32],
        len: u64,
        head: Bytes,
    },
}

impl CapturedBody {
    /// The SHA-256 and length of the whole body, however it is kept.
    pub fn digest(&self) -> ([u8; 32], u64) {
        match self {
            CapturedBody::Held(bytes) => (Sha256::digest(bytes).into(), bytes.len() as u64),
            CapturedBody::Digest { sha256, len, .. } => (*sha256, *len),
        }
    }

    pub fn len(&self) -> u64 {
        match self {
            CapturedBody::Held(bytes) => bytes.len() as u64,
            CapturedBody::Digest { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes kept: the whole body, or the head of a digested one.
    pub fn kept(&self) -> &Bytes {
        match self {
            CapturedBody::Held(bytes) => bytes,
            CapturedBody::Digest { head, .. } => head,
        }
    }

    /// Keeps `bytes` whole when within `limit`, else as a digest.
    pub fn from_bytes(bytes: Bytes, limit: usize) -> CapturedBody {
        if bytes.len() <= limit {
            return CapturedBody::Held(bytes);
        }
        let mut reader = BodyReader::new(limit);
        reader.push(&bytes);
        reader.finish()
    }
}

/// Accumulates a streamed body, switching to a digest once it passes the limit.
pub struct BodyReader {
    limit: usize,
    held: BytesMut,
    hasher: Option<Sha256>,
    len: u64,
}

/// How much of a digested body is kept for the report.
const HEAD_BYTES: usize = 4096;

impl BodyReader {
    pub fn new(limit: usize) -> BodyReader {
        BodyReader {
            limit,
            held: BytesMut::new(),
            hasher: None,
            len: 0,
        }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        self.len += chunk.len() as u64;
        if self.hasher.is_none() {
            if self.held.len() + chunk.len() <= self.limit {
                self.held.extend_from_slice(chunk);
                return;
            }
            // Over the limit: hash what was held, keep only its head, and hash from now on.
            let mut hasher = Sha256::new();
            hasher.update(&self.held);
            self.hasher = Some(hasher);
            self.held.truncate(HEAD_BYTES);
        }
        if let Some(hasher) = self.hasher.as_mut() {
            hasher.update(chunk);
        }
        if self.held.len() < HEAD_BYTES {
            let room = HEAD_BYTES - self.held.len();
            self.held.extend_from_slice(&chunk[..room.min(chunk.len())]);
        }
    }

    pub fn finish(self) -> CapturedBody {
        match self.hasher {
            None => CapturedBody::Held(self.held.freeze()),
            Some(hasher) => CapturedBody::Digest {
                sha256: hasher.finalize().into(),
                len: self.len,
                head: self.held.freeze(),
            },
        }
    }

    /// Reads all of `body` through the reader.
    pub async fn read_body<B>(mut self, mut body: B) -> Result<CapturedBody, B::Error>
    where
        B: hyper::body::Body<Data = Bytes> + Unpin,
    {
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                self.push(&data);
            }
        }
        Ok(self.finish())
    }
}

/// One target's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Captured {
    pub status: u16,
    /// Lower-case names, in the order received.
    pub headers: Vec<(String, String)>,
    pub body: CapturedBody,
}

impl Captured {
    /// A response with its whole body held.
    pub fn held(status: u16, headers: Vec<(String, String)>, body: Bytes) -> Captured {
        Captured {
            status,
            headers,
            body: CapturedBody::Held(body),
        }
    }

    /// Headers by name; repeated headers are joined with `, ` in order.
    pub fn header_map(&self) -> BTreeMap<&str, String> {
        let mut map: BTreeMap<&str, String> = BTreeMap::new();
        for (name, value) in &self.headers {
            map.entry(name.as_str())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        map
    }

    /// The headers of a hyper response, lower-case, values read as Latin-1 when not UTF-8.
    pub fn headers_of(headers: &hyper::HeaderMap) -> Vec<(String, String)> {
        headers
            .iter()
            .map(|(name, value)| {
                let text = match value.to_str() {
                    Ok(text) => text.to_string(),
                    Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
                };
                (name.as_str().to_string(), text)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_over_the_limit_are_digested_whole() {
        let body: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = BodyReader::new(1000);
        for chunk in body.chunks(700) {
            reader.push(chunk);
        }
        let kept = reader.finish();
        let CapturedBody::Digest { sha256, len, head } = &kept else {
            panic!("10,000 bytes are over a 1,000-byte limit: {kept:?}");
        };
        assert_eq!(*len, 10_000);
        assert_eq!(sha256[..], Sha256::digest(&body)[..]);
        assert_eq!(head.len(), HEAD_BYTES);
        assert_eq!(head[..], body[..HEAD_BYTES]);
        assert_eq!(
            kept.digest(),
            CapturedBody::Held(Bytes::from(body)).digest()
        );
        let small = CapturedBody::from_bytes(Bytes::from_static(b"abc"), 1000);
        assert_eq!(small, CapturedBody::Held(Bytes::from_static(b"abc")));
    }
}
