//! Encoding detection and binary sniffing.

use std::borrow::Cow;

/// How many leading bytes [`sniff_binary`] and [`decode`]'s detector look at.
const SNIFF_LEN: usize = 8192;

/// Why some bytes were judged not to be text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BinaryEvidence {
    /// A NUL byte, which no text encoding we accept produces (UTF-16 aside, see [`decode`]).
    NulByte {
        /// Where the first one is.
        offset: usize,
    },
    /// Too many control characters for text.
    ControlCharacters {
        /// How many of the sniffed bytes were control characters.
        count: usize,
        /// How many bytes were sniffed.
        of: usize,
    },
}

impl std::fmt::Display for BinaryEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BinaryEvidence::NulByte { offset } => write!(f, "binary content (NUL byte at offset {offset})"),
            BinaryEvidence::ControlCharacters { count, of } => {
                write!(f, "binary content ({count} control bytes in the first {of})")
            }
        }
    }
}

/// Judges whether `bytes` are binary rather than text, from their first 8 KiB.
///
/// UTF-16 text with a byte-order mark is text, although it is full of NUL bytes.
pub fn sniff_binary(bytes: &[u8]) -> Option<BinaryEvidence> {
    if bom_encoding(bytes).is_some() {
        return None;
    }
    let head = &bytes[..bytes.len().min(SNIFF_LEN)];
    if let Some(offset) = memchr_nul(head) {
        return Some(BinaryEvidence::NulByte { offset });
    }
    // A branch-free sum the compiler vectorises: this runs on every input.
    let control: usize = head.iter().map(|&b| usize::from(is_stray_control(b))).sum();
    // Real text has next to no C0 controls; 10% is far beyond any sloppy editor's output.
    if !head.is_empty() && control * 10 > head.len() {
        return Some(BinaryEvidence::ControlCharacters {
            count: control,
            of: head.len(),
        });
    }
    None
}

fn memchr_nul(bytes: &[u8]) -> Option<usize> {
    memchr::memchr(0, bytes)
}

/// A C0 control character that text does not use (line breaks, tabs, form feeds and
/// escapes do occur in text).
fn is_stray_control(b: u8) -> bool {
    b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c | 0x1b)
}

fn bom_encoding(bytes: &[u8]) -> Option<&'static encoding_rs::Encoding> {
    encoding_rs::Encoding::for_bom(bytes).map(|(encoding, _)| encoding)
}

/// Text decoded from bytes, with an account of how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded<'a> {
    /// The text (borrowed when the input was already valid UTF-8 without a BOM).
    pub text: Cow<'a, str>,
    /// The encoding used, by its WHATWG name (`UTF-8`, `windows-1252`, …).
    pub encoding: &'static str,
    /// Whether the input was not valid in that encoding and some bytes became U+FFFD.
    pub lossy: bool,
    /// Whether the encoding was guessed rather than declared (by a BOM) or valid UTF-8.
    pub guessed: bool,
}

impl Decoded<'_> {
    /// A one-line note for the user when the decode was anything but clean UTF-8.
    pub fn note(&self) -> Option<String> {
        match (self.guessed, self.lossy) {
            (false, false) => None,
            (true, false) => Some(format!(
                "not valid UTF-8; decoded as {} (detected)",
                self.encoding
            )),
            (_, true) => Some(format!(
                "not valid {}; undecodable bytes replaced with U+FFFD",
                self.encoding
            )),
        }
    }
}

/// Decodes bytes to text: a byte-order mark wins, then valid UTF-8, then the encoding
/// `chardetng` detects (legacy single-byte and CJK encodings), decoding lossily if even
/// that fails. An HTML `<meta charset>` is not consulted: detection is right more often
/// than stale declarations in saved pages.
pub fn decode(bytes: &[u8]) -> Decoded<'_> {
    if let Some(encoding) = bom_encoding(bytes) {
        let (text, lossy) = encoding.decode_with_bom_removal(bytes);
        return Decoded {
            text,
            encoding: encoding.name(),
            lossy,
            guessed: false,
        };
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Decoded {
            text: Cow::Borrowed(text),
            encoding: "UTF-8",
            lossy: false,
            guessed: false,
        };
    }
    let mut detector = chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
    detector.feed(bytes, true);
    let encoding = detector.guess(None, chardetng::Utf8Detection::Allow);
    let (text, _, lossy) = encoding.decode(bytes);
    Decoded {
        text: Cow::Owned(text.into_owned()),
        encoding: encoding.name(),
        lossy,
        guessed: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_is_borrowed_and_clean() {
        let d = decode("Sofacy — APT28".as_bytes());
        assert!(matches!(d.text, Cow::Borrowed(_)));
        assert_eq!(
            (d.encoding, d.lossy, d.guessed, d.note()),
            ("UTF-8", false, false, None)
        );
    }

    #[test]
    fn latin1_is_detected_and_reported() {
        // "Société Générale a été ciblée" in windows-1252.
        let bytes = b"Soci\xe9t\xe9 G\xe9n\xe9rale a \xe9t\xe9 cibl\xe9e par une campagne d'hame\xe7onnage.";
        let d = decode(bytes);
        assert_eq!(d.encoding, "windows-1252");
        assert!(d.text.contains("Société Générale"), "{}", d.text);
        assert!(d.note().is_some_and(|n| n.contains("windows-1252")));
    }

    #[test]
    fn utf16_with_bom_is_text() {
        let mut bytes = vec![0xFF, 0xFE];
        for unit in "Lazarus".encode_utf16() {
            bytes.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(sniff_binary(&bytes), None);
        assert_eq!(decode(&bytes).text, "Lazarus");
    }

    #[test]
    fn binary_is_recognised() {
        assert_eq!(
            sniff_binary(b"MZ\x90\x00\x03"),
            Some(BinaryEvidence::NulByte { offset: 3 })
        );
        let controls: Vec<u8> = (0..100u8).map(|i| if i % 3 == 0 { 0x01 } else { b'a' }).collect();
        assert!(matches!(
            sniff_binary(&controls),
            Some(BinaryEvidence::ControlCharacters { .. })
        ));
        assert_eq!(sniff_binary(b"plain text\r\n\twith tabs"), None);
        assert_eq!(sniff_binary(b""), None);
    }
}
