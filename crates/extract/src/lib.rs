//! Indicator (IOC) extraction from text, defanged or not.
//!
//! [`extract`] finds IP addresses and ranges, domains, URLs, e-mail addresses, file hashes,
//! CVE and ATT&CK ids, cryptocurrency addresses, registry keys, file paths and names, ASNs,
//! MAC and onion addresses in a text, and returns each as an [`Ioc`]: its kind, its
//! normalised value (refanged, lower-cased where the kind is case-insensitive), the text as
//! written, its byte span in the input, and [`Flags`] (defanged, found inside a URL,
//! known-benign…). [`refang`] and [`defang`] rewrite whole texts.
//!
//! *Design*: one left-to-right pass. The text is first refanged (`hxxp`, `[.]`, `(dot)`,
//! `[at]`…) into a copy with an offset map, so every later rule sees ordinary indicators and
//! every span still points into the caller's text. The scanner then splits the text into
//! candidate tokens with a byte-class table and classifies each token with cheap,
//! allocation-free checks, most tokens (plain words) being rejected after one look at the
//! classes of bytes they contain. Validation removes the classic false positives: domains
//! need a real public suffix (the `psl` crate), file names are told from domains by rule,
//! version numbers are not IPs, hashes must stand alone, cryptocurrency addresses must pass
//! their checksums. Known-benign values (private and reserved ranges, public DNS resolvers,
//! security-vendor blogs, empty-file hashes, from the MISP warning lists) are flagged, never
//! dropped: the caller decides.
//!
//! *Architecture invariant*: this crate does no I/O and never fails or panics on input. Every
//! span it returns is a valid `&str` range of the input.

mod benign;
mod crypto;
pub mod entities;
mod flags;
mod fnv;
mod refang;
mod scan;
mod tables;
pub mod techniques;

use serde::Serialize;
pub use threatdesk_model::FindingKind;

pub use entities::{Mention, Recognizer};
pub use flags::Flags;
pub use refang::{defang, refang};
pub use techniques::{NamedTechniques, TechniqueHit, TechniqueScorer, map_techniques};

/// One indicator found in a text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Ioc {
    /// What it is.
    pub kind: FindingKind,
    /// The normalised value: refanged; lower-cased for case-insensitive kinds (domains,
    /// hashes, e-mail addresses, URL schemes and hosts); upper-cased CVE ids; canonical
    /// IPv6; `AS`-prefixed ASNs.
    pub value: String,
    /// The text exactly as written in the input.
    pub text: String,
    /// First byte of `text` in the input.
    pub start: usize,
    /// One past the last byte of `text` in the input.
    pub end: usize,
    /// Defanged, inside a URL or e-mail address, known-benign…
    pub flags: Flags,
}

/// Finds every indicator in `text`, in order of position. Indicators inside URLs and
/// e-mail addresses (their host) are reported too, flagged [`Flags::IN_URL`] or
/// [`Flags::IN_EMAIL`].
pub fn extract(text: &str) -> Vec<Ioc> {
    let mut found = Vec::new();
    let mut piece_start = 0;
    while piece_start < text.len() {
        let piece_end = piece_end(text, piece_start);
        extract_piece(text, piece_start, piece_end, &mut found);
        piece_start = piece_end;
    }
    found.sort_by_key(|ioc| (ioc.start, std::cmp::Reverse(ioc.end)));
    found
}

/// Texts are read in pieces of about this many bytes, cut after a line break: no indicator
/// spans one, and a piece's refanged copy stays in the processor's cache instead of costing
/// a fresh, page-faulting allocation the size of the whole text.
const PIECE_LEN: usize = 16 * 1024;

/// Where the piece that starts at `start` ends: after the first line break at least
/// [`PIECE_LEN`] bytes on, or at the end of the text.
fn piece_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    if bytes.len() - start <= PIECE_LEN {
        return bytes.len();
    }
    memchr::memchr(b'\n', &bytes[start + PIECE_LEN..]).map_or(bytes.len(), |i| start + PIECE_LEN + i + 1)
}

/// Extracts from `text[piece_start..piece_end]`, with spans in `text` coordinates.
fn extract_piece(text: &str, piece_start: usize, piece_end: usize, found: &mut Vec<Ioc>) {
    // Pieces end after a `\n` (ASCII), so their bounds are char boundaries.
    let piece = text.get(piece_start..piece_end).unwrap_or_default();
    let refanged = refang::Refanged::new(piece);
    let edited = |start: usize, end: usize| refanged.edited_within(start, end);
    scan::scan(refanged.text(), &edited, &mut |raw: scan::RawIoc| {
        let start = refanged.original_start(raw.start);
        let end = refanged.original_end(raw.end).max(start);
        let mut flags = raw.flags;
        if refanged.edited_within(raw.start, raw.end) {
            flags |= Flags::DEFANGED;
        }
        // Offsets come from char-boundary positions of the refanged text mapped through
        // edit boundaries, which are char boundaries of the input; `get` keeps this total.
        let written = piece.get(start..end).unwrap_or_default().to_owned();
        found.push(Ioc {
            kind: raw.kind,
            value: raw.value,
            text: written,
            start: piece_start + start,
            end: piece_start + end,
            flags,
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn found(text: &str) -> Vec<(FindingKind, String, String)> {
        extract(text)
            .into_iter()
            .map(|i| (i.kind, i.value, i.text))
            .collect()
    }

    fn has(text: &str, kind: FindingKind, value: &str) -> bool {
        extract(text).iter().any(|i| i.kind == kind && i.value == value)
    }

    #[test]
    fn defanged_indicators_keep_their_written_span() {
        let text = "C2 at hxxps://evil[.]com/gate.php and 185.220.101[.]4, mail ops[at]evil-mail[.]ru.";
        let iocs = extract(text);
        let url = iocs.iter().find(|i| i.kind == FindingKind::Url).expect("url");
        assert_eq!(url.value, "https://evil.com/gate.php");
        assert_eq!(&text[url.start..url.end], "hxxps://evil[.]com/gate.php");
        assert!(url.flags.contains(Flags::DEFANGED));
        let ip = iocs.iter().find(|i| i.kind == FindingKind::Ipv4).expect("ip");
        assert_eq!(
            (ip.value.as_str(), ip.text.as_str()),
            ("185.220.101.4", "185.220.101[.]4")
        );
        let email = iocs.iter().find(|i| i.kind == FindingKind::Email).expect("email");
        assert_eq!(
            (email.value.as_str(), email.text.as_str()),
            ("ops@evil-mail.ru", "ops[at]evil-mail[.]ru")
        );
    }

    #[test]
    fn file_names_are_not_domains() {
        assert!(has(
            "open readme.txt then invoice.zip",
            FindingKind::FileName,
            "readme.txt"
        ));
        assert!(has("open invoice.zip", FindingKind::FileName, "invoice.zip"));
        assert!(!has("open invoice.zip", FindingKind::Domain, "invoice.zip"));
        assert!(has("run update.sh", FindingKind::FileName, "update.sh"));
        // Defanged, it can only be a domain.
        assert!(has(
            "download from invoice[.]zip",
            FindingKind::Domain,
            "invoice.zip"
        ));
        assert!(has(
            "cdn.files.zip served it",
            FindingKind::Domain,
            "cdn.files.zip"
        ));
        assert!(has("svchost.exe", FindingKind::FileName, "svchost.exe"));
    }

    #[test]
    fn code_identifiers_and_versions_are_not_indicators() {
        assert!(found("System.Management.Automation and Microsoft.Office").is_empty());
        assert!(!has("version 1.2.3.4 of the tool", FindingKind::Ipv4, "1.2.3.4"));
        assert!(has("beacon to 1.2.3.4 daily", FindingKind::Ipv4, "1.2.3.4"));
        assert!(found("the build 10.0.19041 and 3.14").is_empty());
        assert!(found("e.g. i.e. U.S. etc.").is_empty());
        assert!(!has("ver 2.10.1.3", FindingKind::Ipv4, "2.10.1.3"));
        assert!(!has("256.1.1.1", FindingKind::Ipv4, "256.1.1.1"));
    }

    #[test]
    fn hashes_must_stand_alone() {
        let md5 = "68b329da9893e34099c7d8ad5cb9c940";
        assert!(has(&format!("md5: {md5}."), FindingKind::Md5, md5));
        assert!(found(&format!("{md5}ab")).is_empty(), "part of a longer hex run");
        assert!(found(&"1".repeat(32)).is_empty(), "one repeated digit");
        assert!(found(&"a".repeat(64)).is_empty(), "one repeated letter");
        assert!(has(
            &format!("sha1={}", "adc83b19e793491b1c6ea0fd8b46cd9f32e592fc"),
            FindingKind::Sha1,
            "adc83b19e793491b1c6ea0fd8b46cd9f32e592fc"
        ));
    }

    #[test]
    fn urls_lose_punctuation_that_is_not_theirs() {
        assert!(has(
            "(see https://example.org/a_(b)).",
            FindingKind::Url,
            "https://example.org/a_(b)"
        ));
        assert!(has(
            "see https://example.org/x.",
            FindingKind::Url,
            "https://example.org/x"
        ));
        assert!(has(
            "\"https://Example.ORG/Path?q=1\"",
            FindingKind::Url,
            "https://example.org/Path?q=1"
        ));
        assert!(has(
            "http://[2001:db8::1]:8080/x",
            FindingKind::Ipv6,
            "2001:db8::1"
        ));
    }

    #[test]
    fn ids_and_addresses() {
        assert!(has("CVE-2021-44228", FindingKind::Cve, "CVE-2021-44228"));
        assert!(has("cve-2021-44228", FindingKind::Cve, "CVE-2021-44228"));
        assert!(has(
            "T1059.001 and TA0001",
            FindingKind::AttackTechnique,
            "T1059.001"
        ));
        assert!(has("T1059.001 and TA0001", FindingKind::AttackTactic, "TA0001"));
        assert!(has("G0007 uses S0002", FindingKind::AttackGroup, "G0007"));
        assert!(has("announced by AS13335", FindingKind::Asn, "AS13335"));
        assert!(!has("just as 2014", FindingKind::Asn, "AS2014"));
        assert!(has("10.0.0.0/8", FindingKind::Cidr, "10.0.0.0/8"));
        assert!(has("fe80::1%eth0", FindingKind::Ipv6, "fe80::1"));
        assert!(has(
            "2001:0db8:0000:0000:0000:ff00:0042:8329",
            FindingKind::Ipv6,
            "2001:db8::ff00:42:8329"
        ));
        assert!(!has("at 10:30:00 UTC", FindingKind::Ipv6, "10:30:00"));
        assert!(has(
            "00:1A:2B:3C:4D:5E",
            FindingKind::MacAddress,
            "00:1a:2b:3c:4d:5e"
        ));
        assert!(has(
            "pay 1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa",
            FindingKind::BitcoinAddress,
            "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
        ));
        assert!(has(
            "0x507877C2E26f1387432D067D2DaAfa7d0420d90a",
            FindingKind::EthereumAddress,
            "0x507877c2e26f1387432d067d2daafa7d0420d90a"
        ));
        let onion = format!("{}.onion", "a".repeat(56));
        assert!(has(&onion, FindingKind::OnionAddress, &onion));
    }

    #[test]
    fn paths_and_registry_keys() {
        assert!(has(
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon was set",
            FindingKind::RegistryKey,
            "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Winlogon"
        ));
        assert!(has(
            "C:\\Program Files (x86)\\Foo\\bar.exe ran",
            FindingKind::FilePath,
            "C:\\Program Files (x86)\\Foo\\bar.exe"
        ));
        assert!(has(
            "%APPDATA%\\Roaming\\x.dll",
            FindingKind::FilePath,
            "%APPDATA%\\Roaming\\x.dll"
        ));
        assert!(has(
            "wrote /tmp/.X11/kworker",
            FindingKind::FilePath,
            "/tmp/.X11/kworker"
        ));
        assert!(found("and/or either/or").is_empty());
    }

    #[test]
    fn benign_values_are_flagged_not_dropped() {
        let iocs = extract("internal 192.168.1.10, resolver 8.8.8.8, empty d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(iocs.len(), 3);
        assert!(iocs.iter().all(|i| i.flags.is_benign()), "{iocs:?}");
    }

    #[test]
    fn non_ascii_text_around_indicators() {
        let text = "Le serveur\u{a0}1.2.3.4 — voir «evil.com» et 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 T1059";
        let iocs = extract(text);
        assert!(iocs.iter().any(|i| i.value == "1.2.3.4"));
        assert!(iocs.iter().any(|i| i.value == "evil.com"));
        for ioc in iocs {
            assert_eq!(&text[ioc.start..ioc.end], ioc.text);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        // Never panics, and every span is a valid `&str` range whose text is what was written.
        #[test]
        fn spans_are_valid_for_any_input(text in "\\PC{0,200}") {
            for ioc in extract(&text) {
                prop_assert!(ioc.start <= ioc.end && ioc.end <= text.len());
                prop_assert_eq!(text.get(ioc.start..ioc.end), Some(ioc.text.as_str()));
            }
        }

        // Indicator-shaped noise: the characters indicators and defang markers are made of.
        #[test]
        fn spans_are_valid_for_indicator_like_noise(text in "[a-f0-9A-Z.:/@\\\\\\[\\]()\\- _%<>x\u{a0}é]{0,300}") {
            for ioc in extract(&text) {
                prop_assert_eq!(text.get(ioc.start..ioc.end), Some(ioc.text.as_str()));
            }
            let _ = refang(&text);
            let _ = defang(&text);
        }
    }
}
