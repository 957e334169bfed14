//! The scanner: tokens by byte class, then cheap classification of each token.

use std::net::Ipv6Addr;

use threatdesk_model::FindingKind as K;

use crate::Flags;
use crate::tables::{
    is_ambiguous_tld, is_classic_tld, is_file_extension, is_registry_hive, is_unix_root, is_url_scheme,
};
use crate::{benign, crypto};

/// A finding in refanged-text coordinates, before mapping back to the input.
pub(crate) struct RawIoc {
    pub(crate) kind: K,
    pub(crate) value: String,
    pub(crate) start: usize,
    pub(crate) end: usize,
    pub(crate) flags: Flags,
}

// Byte features, OR-ed over a token to decide cheaply which rules can apply.
const ALPHA: u8 = 1;
const DIGIT: u8 = 1 << 1;
const DOT: u8 = 1 << 2;
const COLON: u8 = 1 << 3;
const SLASH: u8 = 1 << 4;
const AT: u8 = 1 << 5;
const BACKSLASH: u8 = 1 << 6;
const OTHER: u8 = 1 << 7;

/// The feature of each byte that can be part of a token; 0 for separators.
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphabetic() {
            ALPHA
        } else if c.is_ascii_digit() {
            DIGIT
        } else {
            match c {
                b'.' => DOT,
                b':' => COLON,
                b'/' => SLASH,
                b'@' => AT,
                b'\\' => BACKSLASH,
                b'-' | b'_' | b'%' | b'?' | b'=' | b'&' | b'#' | b'~' | b'+' | b'$' => OTHER,
                _ => 0,
            }
        };
        b += 1;
    }
    t
};

/// Scans refanged `text`, calling `emit` for every indicator. `edited(start, end)` tells
/// whether the input was defanged within a range (a defanged name is a domain, not a file).
pub(crate) fn scan(text: &str, edited: &dyn Fn(usize, usize) -> bool, emit: &mut dyn FnMut(RawIoc)) {
    let bytes = text.as_bytes();
    let mut scanner = Scanner {
        text,
        bytes,
        edited,
        emit,
        url_start: 0,
        url_end: 0,
        url_run_end: 0,
    };
    let mut i = 0;
    while i < bytes.len() {
        // Jump to the next byte that can make a token an indicator. Plain words, the vast
        // majority of prose, are never looked at as tokens.
        let Some(mark) = next_mark(bytes, i) else {
            break;
        };
        if bytes[mark] == b'>' {
            // `<HKCU>\…`: the hive is the word before the `>`.
            let word_start = word_start_before(bytes, mark, i);
            let resume = if word_start < mark {
                scanner.spaced(word_start, mark)
            } else {
                mark
            };
            i = resume.max(mark + 1);
            continue;
        }
        // The token's bytes before the mark hold no mark: letters and `-_%?=&#~+$`.
        let mut start = mark;
        let mut features = 0u8;
        while start > i && CLASS[bytes[start - 1] as usize] != 0 {
            features |= CLASS[bytes[start - 1] as usize];
            start -= 1;
        }
        // `AS 1234`, `CVE 2021-44228`: a number whose previous word starts the indicator.
        if bytes[start].is_ascii_digit() && start >= 2 && bytes[start - 1] == b' ' {
            let word_start = word_start_before(bytes, start - 1, 0);
            if word_start + 1 < start {
                let resume = scanner.spaced(word_start, start - 1);
                if resume > start {
                    i = resume;
                    continue;
                }
            }
        }
        let mut end = mark;
        while end < bytes.len() {
            let class = CLASS[bytes[end] as usize];
            if class == 0 {
                break;
            }
            features |= class;
            end += 1;
        }
        // A classifier may resume past the token (a URL, a path with spaces); never before.
        let resume = scanner.token(start, end, features);
        i = if resume > start {
            resume.max(mark + 1)
        } else {
            end.max(mark + 1)
        };
    }
}

/// Where the run of ASCII letters ending at `end` starts (not before `floor`, at most a
/// registry hive's length back).
fn word_start_before(bytes: &[u8], end: usize, floor: usize) -> usize {
    let limit = floor.max(end.saturating_sub(20));
    let mut start = end;
    while start > limit && bytes[start - 1].is_ascii_alphabetic() {
        start -= 1;
    }
    start
}

/// The first [`MARK`] byte at or after `from`. Eight bytes at a time (SWAR on `u64`s):
/// marks come every ten bytes or so in reports, and a table look per byte with a
/// branch each was a tenth of the whole extraction.
fn next_mark(bytes: &[u8], from: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut at = from;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or_default());
        // Per byte, with the top bit cleared (non-ASCII bytes are masked out at the end):
        // adding never carries into the next byte.
        let low = word & !HIGH;
        let at_least_first = low + ONES * (0x80 - u64::from(b'-'));
        let past_last = low + ONES * (0x80 - u64::from(b':') - 1);
        let in_range = at_least_first & !past_last;
        let equal = |byte: u8| !((low ^ (ONES * u64::from(byte))) + ONES * 0x7f);
        let found = (in_range | equal(b'>') | equal(b'@') | equal(b'\\')) & !word & HIGH;
        if found != 0 {
            return Some(at + (found.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    bytes[at.min(bytes.len())..]
        .iter()
        .position(|&b| MARK[b as usize])
        .map(|offset| at + offset)
}

/// Bytes that every indicator contains at least one of: digits, `.`, `:`, `@`, `/`, `\`,
/// `-` (letter-only MAC addresses), and `>` (hives written `<HKCU>`). A token without them
/// cannot be an indicator, which lets the scanner skip plain words without tokenising them.
static MARK: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = c.is_ascii_digit() || matches!(c, b'.' | b':' | b'@' | b'/' | b'\\' | b'-' | b'>');
        b += 1;
    }
    t
};

struct Scanner<'a, 'e> {
    text: &'a str,
    bytes: &'a [u8],
    edited: &'e dyn Fn(usize, usize) -> bool,
    emit: &'e mut dyn FnMut(RawIoc),
    /// The extent of the last URL: the scanner re-reads its path and query, and what it
    /// finds there is flagged as inside a URL.
    url_start: usize,
    url_end: usize,
    /// The end of the last run of URL bytes measured.
    url_run_end: usize,
}

impl Scanner<'_, '_> {
    /// Reports a finding, with its known-benign flags.
    fn push(&mut self, kind: K, value: String, start: usize, end: usize, flags: Flags) {
        let benign = benign::flags_for(kind, &value);
        self.push_flagged(kind, value, start, end, flags | benign);
    }

    /// Reports a URL or e-mail address and its host (`host_flags` saying how it was found
    /// there). A URL or address is as benign as its host: one lookup serves both.
    fn push_with_host(
        &mut self,
        (kind, value, start, end, flags): (K, String, usize, usize, Flags),
        (host_kind, host_value, host_start, host_end, host_flags): (K, String, usize, usize, Flags),
    ) {
        let benign = benign::flags_for(host_kind, &host_value);
        self.push_flagged(kind, value, start, end, flags | benign);
        self.push_flagged(host_kind, host_value, host_start, host_end, host_flags | benign);
    }

    fn push_flagged(&mut self, kind: K, value: String, start: usize, end: usize, mut flags: Flags) {
        let inside_url =
            kind != K::Url && start >= self.url_start && end <= self.url_end && start < self.url_end;
        if inside_url {
            // A URL's path is not a file-system path.
            if kind == K::FilePath {
                return;
            }
            flags |= Flags::IN_URL;
        }
        (self.emit)(RawIoc {
            kind,
            value,
            start,
            end,
            flags,
        });
    }

    /// Classifies the token `[start, end)`; returns where scanning resumes (past `end` when
    /// an indicator extends beyond the token, like a URL with brackets or a path with spaces).
    fn token(&mut self, start: usize, end: usize, features: u8) -> usize {
        // Plain words and numbers: the overwhelming majority, rejected at once.
        if features == ALPHA {
            return self.spaced(start, end);
        }
        if features & !(ALPHA | DIGIT) == 0 {
            self.alnum(start, end);
            return end;
        }
        if features & COLON != 0
            && let Some(sep) = memchr::memmem::find(&self.bytes[start..end], b"://")
        {
            return self.url(start, start + sep, end);
        }
        if features & BACKSLASH != 0
            && let Some(resume) = self.windows_path(start, end)
        {
            return resume;
        }
        let (start, end) = trim(self.bytes, start, end);
        if start >= end {
            return end;
        }
        // A word whose only punctuation was trimmed off ("attack.", "(see") and that has no
        // digit cannot be an indicator: every kind without digits needs `.:@/\-` inside.
        if features & DIGIT == 0
            && !self.bytes[start..end]
                .iter()
                .any(|b| matches!(b, b'.' | b':' | b'@' | b'/' | b'\\' | b'-'))
        {
            return end;
        }
        if features & AT != 0 && self.email(start, end) {
            return end;
        }
        if (self.bytes[start] == b'/' || self.bytes[start..end].starts_with(b"~/"))
            && let Some(resume) = self.unix_path(start, end)
        {
            return resume;
        }
        // Longer than any path: a blob (base64 images pasted into reports, hex dumps), where
        // whatever looks like an indicator is chance. Splitting it would cost more than the
        // rest of a report.
        if end - start > MAX_PATH_LEN {
            return end;
        }
        if !self.compound(start, end) {
            // Not one indicator as a whole: try its parts (`md5=…`, `ip:port`, `a,b`).
            self.parts(start, end);
        }
        end
    }

    /// A token that may be one indicator; returns whether it was.
    fn compound(&mut self, start: usize, end: usize) -> bool {
        // Tokens are short: one pass over the bytes beats several substring searches.
        let mut has_colon = false;
        let mut has_dot = false;
        let mut alnum_or_hyphen = true;
        for &b in &self.bytes[start..end] {
            has_colon |= b == b':';
            has_dot |= b == b'.';
            alnum_or_hyphen &= b.is_ascii_alphanumeric() || b == b'-';
        }
        if has_colon {
            return self.with_colon(start, end);
        }
        if has_dot {
            return self.dotted(start, end);
        }
        alnum_or_hyphen && self.alnum(start, end)
    }

    fn parts(&mut self, start: usize, end: usize) {
        let mut part_start = start;
        for i in start..=end {
            let at_separator = i == end
                || matches!(
                    self.bytes[i],
                    b'=' | b':' | b',' | b'&' | b'?' | b'#' | b'+' | b'$' | b'/' | b'%'
                );
            if at_separator {
                let (s, e) = trim(self.bytes, part_start, i);
                if s < e && (s, e) != (start, end) {
                    let text = &self.text[s..e];
                    if text.contains('.') {
                        self.dotted(s, e);
                    } else {
                        self.alnum(s, e);
                    }
                }
                part_start = i + 1;
            }
        }
    }

    // ---- tokens of letters, digits and hyphens ----

    fn alnum(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        let len = s.len();
        // The shortest indicator without a dot or colon is an ASN like `AS1`. Without a
        // digit, only a MAC address written with hyphens (`AA-BB-CC-DD-EE-FF`) can be one:
        // words and hyphenated words, most of what gets here, leave at once.
        if len < 3 || (len != 17 && !s.bytes().any(|b| b.is_ascii_digit())) {
            return false;
        }
        if let Some(kind) = hash_kind(s) {
            self.push(kind, s.to_ascii_lowercase(), start, end, Flags::empty());
            return true;
        }
        if len == 42
            && (s.starts_with("0x") || s.starts_with("0X"))
            && s[2..].bytes().all(|b| b.is_ascii_hexdigit())
        {
            self.push(
                K::EthereumAddress,
                s.to_ascii_lowercase(),
                start,
                end,
                Flags::empty(),
            );
            return true;
        }
        if let Some(cve) = cve(s) {
            self.push(K::Cve, cve, start, end, Flags::empty());
            return true;
        }
        if let Some(kind) = attack_kind(s) {
            self.push(kind, s.to_ascii_uppercase(), start, end, Flags::empty());
            return true;
        }
        if let Some(asn) = asn_joined(s) {
            self.push(K::Asn, asn, start, end, Flags::empty());
            return true;
        }
        if let Some(mac) = mac_address(s) {
            self.push(K::MacAddress, mac, start, end, Flags::empty());
            return true;
        }
        if crypto::is_bitcoin_legacy(s)
            || (s.len() >= 14 && s[..3].eq_ignore_ascii_case("bc1") && crypto::is_bitcoin_bech32(s))
        {
            let value = if s.starts_with("BC1") {
                s.to_ascii_lowercase()
            } else {
                s.to_owned()
            };
            self.push(K::BitcoinAddress, value, start, end, Flags::empty());
            return true;
        }
        if crypto::is_monero(s) {
            self.push(K::MoneroAddress, s.to_owned(), start, end, Flags::empty());
            return true;
        }
        false
    }

    /// Words that start an indicator written with a space: `AS 1234`, `ASN 1234`,
    /// `CVE 2021-44228`, and registry hives in angle brackets (`<HKCU>\Software`).
    fn spaced(&mut self, start: usize, end: usize) -> usize {
        let word = &self.bytes[start..end];
        // Almost every plain word leaves here.
        if !matches!(word.first(), Some(b'A' | b'a' | b'C' | b'c' | b'H' | b'h')) || word.len() > 19 {
            return end;
        }
        if start > 0
            && self.bytes[start - 1] == b'<'
            && self.bytes[end..].starts_with(b">\\")
            && is_registry_hive(&self.text[start..end].to_ascii_uppercase())
        {
            let path_end = trim_path_end(self.bytes, start, self.extend_path(end + 2, b'\\'));
            if path_end > end + 2 {
                let value = format!("{}{}", &self.text[start..end], &self.text[end + 1..path_end]);
                self.push(K::RegistryKey, value, start - 1, path_end, Flags::empty());
                return path_end;
            }
            return end;
        }
        if self.bytes.get(end) != Some(&b' ') {
            return end;
        }
        let next_end = self.bytes[end + 1..]
            .iter()
            .position(|b| !(b.is_ascii_digit() || *b == b'-'))
            .map_or(self.bytes.len(), |p| end + 1 + p);
        let next = &self.text[end + 1..next_end];
        let followed_by_word = self
            .bytes
            .get(next_end)
            .is_some_and(|b| CLASS[*b as usize] & (ALPHA | DIGIT) != 0);
        if followed_by_word || next.is_empty() {
            return end;
        }
        // "as 2014" is prose: only `AS`, `ASN` and `asn` start a spaced ASN.
        if matches!(word, b"AS" | b"ASN" | b"asn" | b"Asn")
            && (1..=10).contains(&next.len())
            && next.parse::<u32>().is_ok_and(|n| n > 0)
        {
            self.push(K::Asn, format!("AS{next}"), start, next_end, Flags::empty());
            return next_end;
        }
        if word.eq_ignore_ascii_case(b"cve")
            && let Some(id) = cve(&format!("CVE-{next}"))
        {
            self.push(K::Cve, id, start, next_end, Flags::empty());
            return next_end;
        }
        end
    }

    // ---- tokens with a colon ----

    fn with_colon(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        if s.contains('/') && s.contains('.') && !s.starts_with(['/', ':']) && self.schemeless_url(start, end)
        {
            return true;
        }
        if let Some(mac) = mac_address(s) {
            self.push(K::MacAddress, mac, start, end, Flags::empty());
            return true;
        }
        let without_zone = s.split('%').next().unwrap_or(s);
        if without_zone.bytes().filter(|&b| b == b':').count() >= 2
            && without_zone
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b":./".contains(&b))
        {
            let (addr, prefix) = match s.split_once('/') {
                Some((a, p)) => (a, Some(p)),
                None => (s, None),
            };
            let addr_no_zone = addr.split('%').next().unwrap_or(addr);
            if let Ok(ip) = addr_no_zone.parse::<Ipv6Addr>()
                && (!ip.is_unspecified() || addr_no_zone.len() > 2)
            {
                match prefix.map(|p| p.parse::<u8>()) {
                    Some(Ok(bits)) if bits <= 128 => {
                        self.push(K::Cidr, format!("{ip}/{bits}"), start, end, Flags::empty())
                    }
                    Some(_) => return false,
                    None => self.push(K::Ipv6, ip.to_string(), start, end, Flags::empty()),
                }
                return true;
            }
        }
        // host:port
        if let Some(colon) = s.rfind(':') {
            let port = &s[colon + 1..];
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) && colon > 0 {
                return self.dotted(start, start + colon);
            }
        }
        false
    }

    // ---- dotted tokens: IPs, domains, file names, scheme-less URLs ----

    fn dotted(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        if let Some((addr, bits)) = s.split_once('/') {
            if let (Some(ip), Ok(bits)) = (ipv4(addr), bits.parse::<u8>())
                && bits <= 32
                && bits.to_string() == s[addr.len() + 1..]
            {
                self.push(K::Cidr, format!("{ip}/{bits}"), start, end, Flags::empty());
                return true;
            }
            return self.schemeless_url(start, end);
        }
        if let Some(ip) = ipv4(s) {
            if !self.preceded_by_version_word(start) {
                self.push(K::Ipv4, ip, start, end, Flags::empty());
                return true;
            }
            return false;
        }
        if let Some(kind) = attack_kind(s) {
            self.push(kind, s.to_ascii_uppercase(), start, end, Flags::empty());
            return true;
        }
        if let Some(mac) = cisco_mac(s) {
            self.push(K::MacAddress, mac, start, end, Flags::empty());
            return true;
        }
        self.name(start, end)
    }

    /// A domain, onion address or file name, standing alone (hosts of URLs and e-mail
    /// addresses are checked where those are parsed).
    fn name(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        // Both TLDs and file extensions are at least two characters, letters (or a
        // digit-bearing extension like `7z`, `bz2`, `mp4`) with no more dots: versions
        // (`1.2.3`), abbreviations (`e.g`) and sentences run together leave here.
        let Some(tld_start) = memchr::memrchr(b'.', s.as_bytes()) else {
            return false;
        };
        let last_label = &s[tld_start + 1..];
        if last_label.len() < 2 || !last_label.bytes().any(|b| b.is_ascii_alphabetic()) {
            return false;
        }
        let mut buf = [0u8; MAX_NAME_LEN];
        // Longer than any domain name, and with a suffix longer than any TLD or file
        // extension: neither a domain nor a file name.
        let Some(lower) = lower_into(s, &mut buf) else {
            return false;
        };
        if let Some(onion) = onion(lower) {
            self.push(K::OnionAddress, onion, start, end, Flags::empty());
            return true;
        }
        let tld = &lower[tld_start + 1..];
        let labels = memchr::memchr_iter(b'.', s.as_bytes()).count() + 1;
        let known_suffix = valid_labels(s)
            && tld.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-')
            && has_public_suffix(lower);
        let defanged = (self.edited)(start, end);

        if known_suffix {
            let ambiguous = is_ambiguous_tld(tld) && !defanged && labels < 3;
            let code_like = !is_classic_tld(tld) && !defanged && {
                let written_tld = &s[tld_start + 1..];
                written_tld.bytes().any(|b| b.is_ascii_uppercase())
                    && s.bytes().any(|b| b.is_ascii_lowercase())
            };
            if !ambiguous && !code_like {
                self.push(K::Domain, lower.to_owned(), start, end, Flags::empty());
                return true;
            }
        }
        if is_file_extension(tld) && valid_file_name(s) {
            self.push(K::FileName, s.to_owned(), start, end, Flags::empty());
            return true;
        }
        false
    }

    fn schemeless_url(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        let Some(slash) = s.find('/') else { return false };
        let authority = &s[..slash];
        let host = authority
            .rsplit_once(':')
            .filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit()))
            .map_or(authority, |(h, _)| h);
        let host_end = start + host.len();
        let defanged = (self.edited)(start, end);
        let host_kind_value = if let Some(ip) = ipv4(host) {
            Some((K::Ipv4, ip))
        } else {
            let mut buf = [0u8; MAX_NAME_LEN];
            lower_into(host, &mut buf).and_then(|lower| {
                let tld = lower.rsplit('.').next().unwrap_or_default();
                let plausible = valid_labels(host)
                    && tld.bytes().all(|b| b.is_ascii_alphabetic())
                    && has_public_suffix(lower)
                    && (!is_ambiguous_tld(tld) || defanged)
                    && (is_classic_tld(tld) || defanged || host.bytes().all(|b| !b.is_ascii_uppercase()));
                plausible.then(|| (K::Domain, lower.to_owned()))
            })
        };
        let Some((host_kind, host_value)) = host_kind_value else {
            return false;
        };
        let value = format!("{host_value}{}", &s[host.len()..]);
        self.push_with_host(
            (K::Url, value, start, end, Flags::NO_SCHEME),
            (host_kind, host_value, start, host_end, Flags::IN_URL),
        );
        true
    }

    fn preceded_by_version_word(&self, start: usize) -> bool {
        // Only the few bytes before the token on its own line matter; never look further
        // (linear time on long runs of addresses without spaces).
        let mut from = start.saturating_sub(24);
        while !self.text.is_char_boundary(from) {
            from -= 1;
        }
        let line = &self.text[from..start];
        let before = line[line.rfind('\n').map_or(0, |i| i + 1)..].trim_end();
        let word_start = before
            .char_indices()
            .rev()
            .find(|(_, c)| c.is_whitespace() || *c == '(')
            .map_or(0, |(i, c)| i + c.len_utf8());
        let word = before[word_start..]
            .trim_end_matches([':', '.'])
            .to_ascii_lowercase();
        matches!(
            word.as_str(),
            "version" | "ver" | "v" | "build" | "release" | "firmware" | "versions"
        )
    }

    // ---- e-mail ----

    fn email(&mut self, start: usize, end: usize) -> bool {
        let s = &self.text[start..end];
        let Some(at) = s.rfind('@') else { return false };
        let local_start = s[..at]
            .bytes()
            .rposition(|b| !(b.is_ascii_alphanumeric() || b"._%+-".contains(&b)))
            .map_or(0, |p| p + 1);
        let local = s[local_start..at].trim_start_matches('.');
        let domain_len = s[at + 1..]
            .bytes()
            .position(|b| !(b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_'))
            .unwrap_or(s.len() - at - 1);
        let domain = s[at + 1..at + 1 + domain_len].trim_end_matches(['.', '-']);
        if local.is_empty() || local.len() > 64 || domain.is_empty() {
            return false;
        }
        let domain_start = start + at + 1;
        let domain_end = domain_start + domain.len();
        let lower = domain.to_ascii_lowercase();
        if !(valid_labels(domain) && domain.contains('.') && has_public_suffix(&lower)) {
            return false;
        }
        let email_start = start + at - local.len();
        let address = format!("{}@{lower}", local.to_ascii_lowercase());
        self.push_with_host(
            (K::Email, address, email_start, domain_end, Flags::empty()),
            (K::Domain, lower, domain_start, domain_end, Flags::IN_EMAIL),
        );
        true
    }

    // ---- URLs ----

    /// `sep` is where `://` starts inside the token `[start, end)`. Returns where scanning
    /// resumes: after the URL, whose inside has been read by [`Self::url_interior`].
    fn url(&mut self, start: usize, sep: usize, end: usize) -> usize {
        // A URL runs to the next character that cannot be in one, then loses trailing
        // punctuation and closing brackets that are not its own.
        // Every `://` inside one run of URL bytes shares the run's end: compute it once.
        let run_end = if sep < self.url_run_end {
            self.url_run_end
        } else {
            let mut run_end = sep + 3;
            while run_end < self.bytes.len() && is_url_byte(self.bytes[run_end]) {
                run_end += 1;
            }
            run_end
        };
        self.url_run_end = run_end;
        let Some((scheme_start, authority_end, url_end)) = self.emit_url(start, sep, run_end) else {
            return end.max(sep + 3);
        };
        self.url_start = scheme_start;
        self.url_end = url_end;
        self.url_interior(authority_end, url_end);
        url_end
    }

    /// Validates and reports the URL whose `://` is at `sep` and whose run of URL bytes
    /// ends at `run_end`, with its host. Returns (start, end of authority, end).
    fn emit_url(&mut self, floor: usize, sep: usize, run_end: usize) -> Option<(usize, usize, usize)> {
        let scheme_window = floor.max(sep.saturating_sub(MAX_SCHEME_LEN));
        let scheme_start = self.bytes[scheme_window..sep]
            .iter()
            .rposition(|b| !(b.is_ascii_alphanumeric() || b"+.-".contains(b)))
            .map_or(scheme_window, |p| scheme_window + p + 1);
        let scheme = self.text[scheme_start..sep].to_ascii_lowercase();
        if !is_url_scheme(&scheme) {
            return None;
        }
        // Trimming removes only trailing punctuation: a run this long stays over the cap.
        if run_end - scheme_start > 2 * MAX_URL_LEN {
            return None;
        }
        let url_end = trim_url_end(self.bytes, scheme_start, run_end);
        let authority_start = sep + 3;
        // Longer runs are not one usable indicator; capping them keeps memory linear.
        if url_end <= authority_start || url_end - scheme_start > MAX_URL_LEN {
            return None;
        }
        let rest = &self.text[authority_start..url_end];
        let authority_len = rest
            .bytes()
            .position(|b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(rest.len());
        let authority = &rest[..authority_len];
        let host_offset = memchr::memrchr(b'@', authority.as_bytes()).map_or(0, |i| i + 1);
        let host_port = &authority[host_offset..];
        let (host, host_len) = if let Some(inner) = host_port.strip_prefix('[') {
            match inner.find(']') {
                Some(close) => (&inner[..close], close + 2),
                None => (inner, host_port.len()),
            }
        } else {
            let h = host_port.split(':').next().unwrap_or(host_port);
            (h, h.len())
        };
        let host_start = authority_start + host_offset + usize::from(host_port.starts_with('['));
        let host_end = host_start + host.len();

        let (host_kind, host_value) = if let Some(ip) = ipv4(host) {
            (K::Ipv4, ip)
        } else if let Some(ip) = host
            .contains(':')
            .then(|| host.parse::<Ipv6Addr>().ok())
            .flatten()
        {
            (K::Ipv6, ip.to_string())
        } else {
            let mut buf = [0u8; MAX_NAME_LEN];
            let lower = lower_into(host, &mut buf)
                .filter(|lower| lower.contains('.') && valid_labels(lower) && has_public_suffix(lower))?;
            (K::Domain, lower.to_owned())
        };
        let after_host = &self.text[authority_start + host_offset + host_len..url_end];
        let userinfo = &authority[..host_offset];
        let mut value =
            String::with_capacity(scheme.len() + 5 + userinfo.len() + host_value.len() + after_host.len());
        for part in [scheme.as_str(), "://", userinfo] {
            value.push_str(part);
        }
        if host_kind == K::Ipv6 {
            for part in ["[", host_value.as_str(), "]"] {
                value.push_str(part);
            }
        } else {
            value.push_str(&host_value);
        }
        value.push_str(after_host);
        self.push_with_host(
            (K::Url, value, scheme_start, url_end, Flags::empty()),
            (host_kind, host_value, host_start, host_end, Flags::IN_URL),
        );
        Some((scheme_start, authority_start + authority_len, url_end))
    }

    /// Reads a URL's path and query once: nested URLs (`?u=http://…`, reported without
    /// re-reading their insides, so chains stay linear) and the domains, ids and hashes
    /// between its delimiters, percent-escapes included (`%2F` is a delimiter).
    fn url_interior(&mut self, from: usize, to: usize) {
        let nested: Vec<usize> = memchr::memmem::find_iter(&self.bytes[from..to], b"://")
            .map(|i| from + i)
            .collect();
        for sep in nested {
            self.emit_url(from, sep, to);
        }
        let mut piece_start = from;
        let mut i = from;
        while i <= to {
            let delimiter_len = if i == to {
                1
            } else {
                match self.bytes[i] {
                    b if URL_DELIMITER[b as usize] => 1,
                    b'%' if i + 2 < to
                        && self.bytes[i + 1].is_ascii_hexdigit()
                        && self.bytes[i + 2].is_ascii_hexdigit() =>
                    {
                        3
                    }
                    _ => 0,
                }
            };
            if delimiter_len == 0 {
                i += 1;
                continue;
            }
            let (s, e) = trim(self.bytes, piece_start, i);
            if s < e {
                if self.bytes[s..e].contains(&b'.') {
                    self.dotted(s, e);
                } else {
                    self.alnum(s, e);
                }
            }
            i += delimiter_len;
            piece_start = i;
        }
    }

    // ---- paths and registry keys ----

    fn windows_path(&mut self, start: usize, end: usize) -> Option<usize> {
        let (start, _) = trim(self.bytes, start, end);
        let s = &self.text[start..end];
        let first = s.split('\\').next().unwrap_or_default();
        let prefix_len = first.len() + 1;
        let kind = if is_registry_hive(&first.to_ascii_uppercase()) && s.len() >= prefix_len {
            K::RegistryKey
        } else if is_drive_path(s) || is_env_path(first) || s.starts_with("\\\\") && s.len() > 3 {
            K::FilePath
        } else {
            return None;
        };
        let path_end = trim_path_end(self.bytes, start, self.extend_path(end, b'\\'));
        if path_end <= start + prefix_len || path_end - start > MAX_PATH_LEN {
            return Some(end.max(path_end));
        }
        let value = self.text[start..path_end].to_owned();
        self.push(kind, value, start, path_end, Flags::empty());
        Some(path_end)
    }

    /// Extends a path over placeholders (`<username>`) and over spaces inside it ("Program
    /// Files (x86)\…"): a space belongs to the path when another separator follows within a
    /// short run of path characters, and what follows does not start a new path.
    fn extend_path(&self, mut end: usize, separator: u8) -> usize {
        loop {
            while end < self.bytes.len() {
                let b = self.bytes[end];
                if is_path_byte(b) || b == separator {
                    end += 1;
                } else if b == b'<' {
                    let window = &self.bytes[end..self.bytes.len().min(end + 40)];
                    match window.iter().position(|&c| c == b'>') {
                        Some(close)
                            if window[1..close]
                                .iter()
                                .all(|c| c.is_ascii_alphanumeric() || b" _-".contains(c)) =>
                        {
                            end += close + 1;
                        }
                        _ => return end,
                    }
                } else {
                    break;
                }
            }
            if self.bytes.get(end) != Some(&b' ') {
                return end;
            }
            let next = &self.bytes[end + 1..];
            if starts_new_path(next) {
                return end;
            }
            let window = &next[..next.len().min(48)];
            let Some(sep) = window.iter().position(|&b| b == separator) else {
                return end;
            };
            let gap = &window[..sep];
            let gap_ok = gap
                .iter()
                .all(|&b| is_path_byte(b) || b == b' ' || b == b'(' || b == b')')
                && !gap.windows(2).any(|w| w == b"  ")
                && !gap.contains(&b'/')
                && !gap.contains(&b'\\');
            if !gap_ok || gap.first() == Some(&b' ') {
                return end;
            }
            end += 1 + sep + 1;
        }
    }

    fn unix_path(&mut self, start: usize, end: usize) -> Option<usize> {
        let s = &self.text[start..end];
        let body = s.strip_prefix("~/").or_else(|| s.strip_prefix('/')).unwrap_or(s);
        let mut components = body.split('/').filter(|c| !c.is_empty());
        let first = components.next()?;
        let home = s.starts_with("~/");
        // `~/x` is always a path; otherwise a known root and at least two components.
        let known_root = home || (is_unix_root(first) && components.next().is_some());
        if !known_root {
            return None;
        }
        if s.bytes().any(|b| b"?=&#".contains(&b)) || start < self.url_end {
            return None;
        }
        let path_end = trim_path_end(self.bytes, start, self.extend_path(end, b'/'));
        if path_end - start > MAX_PATH_LEN {
            return Some(path_end);
        }
        self.push(
            K::FilePath,
            self.text[start..path_end].to_owned(),
            start,
            path_end,
            Flags::empty(),
        );
        Some(path_end)
    }
}

/// A membership table for a set of bytes: one load per test instead of a loop over the set.
const fn byte_set(members: &[u8]) -> [bool; 256] {
    let mut set = [false; 256];
    let mut i = 0;
    while i < members.len() {
        set[members[i] as usize] = true;
        i += 1;
    }
    set
}

/// Punctuation trimmed from the start of a token.
static TRIM_START: [bool; 256] = byte_set(b".:-_?=&#+$@,");
/// Punctuation trimmed from the end of a token.
static TRIM_END: [bool; 256] = byte_set(b".:-_?=&#+$@,~!");

/// Drops punctuation that ends sentences or wraps tokens, keeping what starts paths.
fn trim(bytes: &[u8], mut start: usize, mut end: usize) -> (usize, usize) {
    // `::1` and `::ffff:…` are IPv6 addresses, not a colon-led word.
    if bytes[start..end].starts_with(b"::") && bytes.get(start + 2).is_some_and(u8::is_ascii_hexdigit) {
        while end > start && TRIM_END[bytes[end - 1] as usize] {
            end -= 1;
        }
        return (start, end);
    }
    while start < end && TRIM_START[bytes[start] as usize] {
        start += 1;
    }
    while end > start && TRIM_END[bytes[end - 1] as usize] {
        end -= 1;
    }
    (start, end)
}

/// Bytes that separate the pieces of a URL's path and query (`%XX` escapes too, checked apart).
static URL_DELIMITER: [bool; 256] = byte_set(b"/?&=#;:+,()[]!*'@$~");

/// Bytes a URL can contain. A comma ends it: in reports and CSV exports a comma after a
/// URL separates it from the next value far more often than it belongs to the URL.
fn is_url_byte(b: u8) -> bool {
    URL_BYTE[b as usize]
}

static URL_BYTE: [bool; 256] = {
    let excluded = byte_set(b"<>\"`{}|^\\',");
    let mut set = [false; 256];
    let mut b = 0x21;
    while b < 0x7f {
        set[b] = !excluded[b];
        b += 1;
    }
    set
};

/// The longest URL reported, in bytes (browsers and servers refuse far shorter ones); a
/// longer run is not one indicator, and capping it keeps memory linear in the input.
const MAX_URL_LEN: usize = 8192;
/// The longest URL scheme looked for before `://`.
const MAX_SCHEME_LEN: usize = 16;
/// The longest path or registry key reported, in bytes (Windows' own limit is 32,767
/// UTF-16 units; real indicators are far shorter).
const MAX_PATH_LEN: usize = 4096;

/// How far back from its end a URL is searched for the bracket that would balance a
/// closing one: bounds the work on pathological input.
const BRACKET_WINDOW: usize = 4096;

fn trim_url_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start {
        let last = bytes[end - 1];
        let drop = match last {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'*' => true,
            b')' => unbalanced(
                &bytes[start.max(end.saturating_sub(BRACKET_WINDOW))..end],
                b'(',
                b')',
            ),
            b']' => unbalanced(
                &bytes[start.max(end.saturating_sub(BRACKET_WINDOW))..end],
                b'[',
                b']',
            ),
            _ => false,
        };
        if !drop {
            break;
        }
        end -= 1;
    }
    end
}

fn unbalanced(url: &[u8], open: u8, close: u8) -> bool {
    url.iter().filter(|&&b| b == close).count() > url.iter().filter(|&&b| b == open).count()
}

fn is_path_byte(b: u8) -> bool {
    PATH_BYTE[b as usize]
}

static PATH_BYTE: [bool; 256] = {
    let mut set = byte_set(b"\\._-$%~{}!@#&+=,'()");
    let mut b = 0;
    while b < 256 {
        set[b] |= (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    set
};

fn trim_path_end(bytes: &[u8], start: usize, mut end: usize) -> usize {
    while end > start && b".,;:!'(".contains(&bytes[end - 1]) {
        end -= 1;
    }
    if end > start && bytes[end - 1] == b')' {
        let path = &bytes[start..end];
        if path.iter().filter(|&&b| b == b')').count() > path.iter().filter(|&&b| b == b'(').count() {
            end -= 1;
        }
    }
    end
}

/// Whether `rest` (what follows a space) begins another path or key rather than
/// continuing the current one.
fn starts_new_path(rest: &[u8]) -> bool {
    let word_end = rest
        .iter()
        .position(|&b| b == b'\\' || b == b' ' || b == b'/')
        .unwrap_or(rest.len());
    let word = std::str::from_utf8(&rest[..word_end]).unwrap_or_default();
    is_registry_hive(&word.to_ascii_uppercase())
        || (rest.len() > 2 && rest[0].is_ascii_alphabetic() && rest[1] == b':' && rest[2] == b'\\')
        || rest.starts_with(b"\\\\")
        || (word.starts_with('%') && word.ends_with('%') && word.len() > 2)
        || rest.starts_with(b"~/")
}

fn is_drive_path(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 3 && b[0].is_ascii_alphabetic() && b[1] == b':' && b[2] == b'\\'
}

fn is_env_path(first: &str) -> bool {
    first.len() > 2
        && first.starts_with('%')
        && first.ends_with('%')
        && first[1..first.len() - 1]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'(' || b == b')')
}

/// The longest domain name (253) or file name (255), in bytes.
const MAX_NAME_LEN: usize = 255;

/// `s` lower-cased into `buf`: checking a name costs no allocation, only keeping it does.
/// `None` if it is longer than any domain or file name.
fn lower_into<'b>(s: &str, buf: &'b mut [u8; MAX_NAME_LEN]) -> Option<&'b str> {
    let out = buf.get_mut(..s.len())?;
    out.copy_from_slice(s.as_bytes());
    out.make_ascii_lowercase();
    // Lower-casing ASCII letters keeps UTF-8 valid.
    std::str::from_utf8(out).ok()
}

/// A dotted quad of decimal octets without leading zeros, normalised. One pass over the
/// bytes: this runs on every dotted token.
fn ipv4(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if !(7..=15).contains(&bytes.len()) {
        return None;
    }
    let (mut dots, mut digits, mut octet) = (0, 0, 0u16);
    for &b in bytes {
        if b == b'.' {
            if digits == 0 || dots == 3 {
                return None;
            }
            dots += 1;
            digits = 0;
            octet = 0;
        } else if b.is_ascii_digit() {
            // A second digit after a leading zero (`01`) is not decimal notation.
            if digits == 3 || (digits == 1 && octet == 0) {
                return None;
            }
            octet = octet * 10 + u16::from(b - b'0');
            if octet > 255 {
                return None;
            }
            digits += 1;
        } else {
            return None;
        }
    }
    (dots == 3 && digits > 0).then(|| s.to_owned())
}

/// Whether every dot-separated label of `name` is a host label: 1–63 letters, digits,
/// hyphens or underscores, not starting or ending with a hyphen. One pass over the bytes.
fn valid_labels(name: &str) -> bool {
    let mut label_len = 0;
    let mut previous = b'.';
    for &b in name.as_bytes() {
        if b == b'.' {
            if label_len == 0 || previous == b'-' {
                return false;
            }
            label_len = 0;
        } else {
            let label_byte = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
            if !label_byte || (label_len == 0 && b == b'-') || label_len == 63 {
                return false;
            }
            label_len += 1;
        }
        previous = b;
    }
    label_len > 0 && previous != b'-'
}

fn has_public_suffix(lower: &str) -> bool {
    if lower.len() > 253 {
        return false;
    }
    // A registrable domain under a suffix on the list (not just the default `*` rule).
    psl::domain(lower.as_bytes()).is_some_and(|domain| domain.suffix().is_known())
}

fn valid_file_name(s: &str) -> bool {
    let stem = s.rsplit_once('.').map_or("", |(stem, _)| stem);
    !stem.is_empty()
        && s.len() <= 255
        && stem.bytes().any(|b| b.is_ascii_alphanumeric())
        && !s.contains(['/', '\\', ':', '@', '?', '=', '&'])
}

fn onion(lower: &str) -> Option<String> {
    let name = lower.strip_suffix(".onion")?;
    let service = name.rsplit('.').next()?;
    let valid = (service.len() == 16 || service.len() == 56)
        && service
            .bytes()
            .all(|b| b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b));
    valid.then(|| lower.to_owned())
}

fn hash_kind(s: &str) -> Option<K> {
    let kind = match s.len() {
        32 => K::Md5,
        40 => K::Sha1,
        64 => K::Sha256,
        128 => K::Sha512,
        _ => return None,
    };
    let bytes = s.as_bytes();
    let hex = bytes.iter().all(u8::is_ascii_hexdigit);
    let has_letter = bytes.iter().any(u8::is_ascii_alphabetic);
    let has_digit = bytes.iter().any(u8::is_ascii_digit);
    // All digits is a number; all letters is a word-like run; one repeated digit is filler.
    (hex && has_letter && has_digit && !bytes.iter().all(|&b| b == bytes[0])).then_some(kind)
}

fn cve(s: &str) -> Option<String> {
    let rest = s
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("cve-"))
        .map(|_| &s[4..])?;
    let (year, number) = rest.split_once('-')?;
    let ok = year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (4..=7).contains(&number.len())
        && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| format!("CVE-{year}-{number}"))
}

/// ATT&CK ids. Techniques and tactics are recognised in either case (`t1059` is still
/// unambiguous); groups, software, campaigns and mitigations only in upper case, since
/// `s0002` or `m1036` in lower case are as likely part numbers.
fn attack_kind(s: &str) -> Option<K> {
    let digits4 = |d: &str| d.len() == 4 && d.bytes().all(|b| b.is_ascii_digit());
    if s.len() >= 6 && s[..2].eq_ignore_ascii_case("ta") {
        return digits4(&s[2..]).then_some(K::AttackTactic);
    }
    if let Some(rest) = s.strip_prefix(['T', 't']) {
        let (main, sub) = rest.split_once('.').unwrap_or((rest, ""));
        let sub_ok = sub.is_empty() || (sub.len() == 3 && sub.bytes().all(|b| b.is_ascii_digit()));
        return (digits4(main) && main.starts_with('1') && sub_ok).then_some(K::AttackTechnique);
    }
    let (kind, rest) = match s.as_bytes().first()? {
        b'G' => (K::AttackGroup, &s[1..]),
        b'S' => (K::AttackSoftware, &s[1..]),
        b'C' => (K::AttackCampaign, &s[1..]),
        b'M' => (K::AttackMitigation, &s[1..]),
        _ => return None,
    };
    (digits4(rest) && matches!(rest.as_bytes()[0], b'0' | b'1')).then_some(kind)
}

fn asn_joined(s: &str) -> Option<String> {
    if s.len() < 3 || !s[..2].eq_ignore_ascii_case("as") {
        return None;
    }
    let digits = if s[2..].starts_with(['n', 'N']) {
        &s[3..]
    } else {
        &s[2..]
    };
    let ok = (1..=10).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && digits.parse::<u32>().is_ok_and(|n| n > 0);
    ok.then(|| format!("AS{digits}"))
}

/// Cisco notation, `acf2.c9a6.b34f`, normalised to `ac:f2:c9:a6:b3:4f`.
fn cisco_mac(s: &str) -> Option<String> {
    if s.len() != 14 {
        return None;
    }
    let groups: Vec<&str> = s.split('.').collect();
    let ok = groups.len() == 3
        && groups
            .iter()
            .all(|g| g.len() == 4 && g.bytes().all(|b| b.is_ascii_hexdigit()));
    if !ok || !s.bytes().any(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let hex: String = groups.concat().to_ascii_lowercase();
    Some(
        hex.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(":"),
    )
}

fn mac_address(s: &str) -> Option<String> {
    let b = s.as_bytes();
    if b.len() != 17 {
        return None;
    }
    let sep = b[2];
    if sep != b':' && sep != b'-' {
        return None;
    }
    for (i, &c) in b.iter().enumerate() {
        let ok = if i % 3 == 2 {
            c == sep
        } else {
            c.is_ascii_hexdigit()
        };
        if !ok {
            return None;
        }
    }
    Some(s.to_ascii_lowercase().replace('-', ":"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        // The word-at-a-time search finds exactly what a look per byte finds.
        #[test]
        fn next_mark_agrees_with_the_table(bytes in proptest::collection::vec(any::<u8>(), 0..64), from in 0usize..64) {
            let from = from.min(bytes.len());
            let expected = bytes[from..].iter().position(|&b| MARK[b as usize]).map(|o| from + o);
            prop_assert_eq!(next_mark(&bytes, from), expected);
        }
    }
}
