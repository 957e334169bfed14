//! A compact, versioned binary form of [`ItemFeatures`] for the store (about 1.4 KB an
//! item, against 2.5 KB as JSON), so the index is rebuilt without re-reading texts.

use threatdesk_model::{ItemId, SourceId};

use crate::index::{ItemFeatures, dequantize, quantize};
use crate::sketch::{MINHASH_SIZE, Sketch};

/// Version 2 added the sentence embedding (bytes, ×127); version 1 is still read.
const VERSION: u8 = 2;

impl ItemFeatures {
    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40 + MINHASH_SIZE * 4 + self.sketch.terms.len() * 8);
        out.push(VERSION);
        out.extend_from_slice(&self.item.0.to_le_bytes());
        out.extend_from_slice(&self.source.0.to_le_bytes());
        out.extend_from_slice(&self.at_millis.to_le_bytes());
        out.extend_from_slice(&self.sketch.words.to_le_bytes());
        out.extend_from_slice(&(self.sketch.minhash.len() as u16).to_le_bytes());
        for v in &self.sketch.minhash {
            out.extend_from_slice(&v.to_le_bytes());
        }
        out.extend_from_slice(&(self.sketch.terms.len() as u16).to_le_bytes());
        for (t, n) in &self.sketch.terms {
            out.extend_from_slice(&t.to_le_bytes());
            out.extend_from_slice(&n.to_le_bytes());
        }
        for list in [&self.entities, &self.indicators] {
            let n = list.len().min(usize::from(u16::MAX));
            out.extend_from_slice(&(n as u16).to_le_bytes());
            for k in &list[..n] {
                out.extend_from_slice(&k.to_le_bytes());
            }
        }
        let n = self.embedding.len().min(usize::from(u16::MAX));
        out.extend_from_slice(&(n as u16).to_le_bytes());
        out.extend(self.embedding[..n].iter().map(|&v| quantize(v) as u8));
        out
    }

    /// Reads the stored form; `None` for anything else (another version, truncated bytes).
    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let mut r = Reader(bytes);
        let version = r.take::<1>()?[0];
        if !(1..=VERSION).contains(&version) {
            return None;
        }
        let item = i64::from_le_bytes(r.take()?);
        let source = i64::from_le_bytes(r.take()?);
        let at_millis = i64::from_le_bytes(r.take()?);
        let words = u32::from_le_bytes(r.take()?);
        let minhash = (0..u16::from_le_bytes(r.take()?))
            .map(|_| r.take().map(u32::from_le_bytes))
            .collect::<Option<Vec<u32>>>()?;
        let terms = (0..u16::from_le_bytes(r.take()?))
            .map(|_| Some((u32::from_le_bytes(r.take()?), u32::from_le_bytes(r.take()?))))
            .collect::<Option<Vec<_>>>()?;
        let mut lists = [Vec::new(), Vec::new()];
        for list in &mut lists {
            *list = (0..u16::from_le_bytes(r.take()?))
                .map(|_| r.take().map(u64::from_le_bytes))
                .collect::<Option<Vec<u64>>>()?;
        }
        let [entities, indicators] = lists;
        let embedding = if version >= 2 {
            (0..u16::from_le_bytes(r.take()?))
                .map(|_| r.take::<1>().map(|b| dequantize(b[0] as i8)))
                .collect::<Option<Vec<f32>>>()?
        } else {
            Vec::new()
        };
        r.0.is_empty().then_some(Self {
            item: ItemId(item),
            source: SourceId(source),
            at_millis,
            sketch: Sketch {
                minhash,
                terms,
                words,
            },
            entities,
            indicators,
            embedding,
        })
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let (head, rest) = self.0.split_first_chunk::<N>()?;
        self.0 = rest;
        Some(*head)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_round_trip_and_damage_is_refused() {
        let features = ItemFeatures {
            item: ItemId(7),
            source: SourceId(3),
            at_millis: 1_790_000_000_000,
            sketch: Sketch::of(
                "APT28 phishing",
                "Fancy Bear sent spear-phishing e-mails to ministries.",
            ),
            entities: vec![1, 2],
            indicators: vec![u64::MAX],
            embedding: vec![0.5, -1.0, 0.0],
        };
        let bytes = features.encode();
        let back = ItemFeatures::decode(&bytes).expect("decodes");
        assert_eq!(back.sketch, features.sketch);
        assert_eq!(
            (back.entities.clone(), back.indicators.clone()),
            (features.entities.clone(), features.indicators.clone())
        );
        for (a, b) in back.embedding.iter().zip(&features.embedding) {
            assert!((a - b).abs() < 0.01, "{a} {b}");
        }
        assert_eq!(ItemFeatures::decode(&bytes[..bytes.len() - 1]), None);
        let mut other_version = bytes.clone();
        other_version[0] = 9;
        assert_eq!(ItemFeatures::decode(&other_version), None);
        assert_eq!(ItemFeatures::decode(&[]), None);
    }
}
