//! Refanging (`hxxp://evil[.]com` → `http://evil.com`) with an offset map back to the
//! input, and defanging.

use std::borrow::Cow;
use std::sync::OnceLock;

/// Defang markers and what they stand for, written in lower case. Each is matched as
/// written and in upper case (`[dot]`, `[DOT]`). Markers with a context rule are checked
/// in [`accept`]. A few more are searched for separately ([`SCHEME_SPELLINGS`],
/// [`SPELLED_DOT`], [`SCHEME_MARKERS`]).
const MARKERS: &[(&str, &str)] = &[
    ("[.]", "."),
    ("(.)", "."),
    (" [.] ", "."),
    ("\\.", "."),
    ("[.", "."),
    (".]", "."),
    ("[dot]", "."),
    ("(dot)", "."),
    ("[:]", ":"),
    ("[://]", "://"),
    ("[at]", "@"),
    ("(at)", "@"),
    ("[@]", "@"),
    (" [at] ", "@"),
    ("[/]", "/"),
    ("h[tt]p", "http"),
];

/// Every marker contains one of these bytes, or (`hxxp`, `h**p`) comes right before one:
/// markers are found by jumping between them with `memchr` (several GB/s) and comparing
/// the spellings anchored there, instead of running a multi-pattern automaton over every
/// byte.
const ANCHORS: [u8; 5] = [b'[', b'(', b'\\', b']', b':'];

/// Defanged `http` schemes, found by looking back from the `:` or `[` that follows them
/// (`hxxp://`, `hXXps[:]//`): `hXXp` is a common house style, and schemes start sentences.
const SCHEME_SPELLINGS: [&[u8; 4]; 6] = [b"hxxp", b"hXXp", b"Hxxp", b"HXXP", b"h**p", b"H**P"];

/// A searched spelling of a marker: the bytes, where its anchor byte sits in them, and the
/// index of its marker in [`MARKERS`].
struct Spelling {
    bytes: Vec<u8>,
    anchor_at: usize,
    marker: usize,
}

/// The spellings that contain one anchor byte (as their first anchor), and the bytes that
/// stand beside it in them: a one-byte look rejects almost every anchor in prose (`[1]`,
/// `(see`, `note:`) before any spelling is compared.
struct Anchored {
    spellings: Vec<Spelling>,
    /// Bytes that follow the anchor in some spelling.
    next: [bool; 256],
    /// Bytes that precede the anchor in a spelling that ends with it (`.]`).
    previous: [bool; 256],
}

impl Anchored {
    fn could_match(&self, bytes: &[u8], at: usize) -> bool {
        bytes.get(at + 1).is_some_and(|&b| self.next[b as usize])
            || at
                .checked_sub(1)
                .is_some_and(|i| self.previous[bytes[i] as usize])
    }
}

/// Every searched spelling, grouped by anchor byte (the index into [`ANCHORS`]).
fn spellings() -> &'static [Anchored; ANCHORS.len()] {
    static SPELLINGS: OnceLock<[Anchored; ANCHORS.len()]> = OnceLock::new();
    SPELLINGS.get_or_init(|| {
        let mut by_anchor: [Anchored; ANCHORS.len()] = std::array::from_fn(|_| Anchored {
            spellings: Vec::new(),
            next: [false; 256],
            previous: [false; 256],
        });
        for (marker, (pattern, _)) in MARKERS.iter().enumerate() {
            let mut variants = vec![pattern.to_string(), pattern.to_ascii_uppercase()];
            variants.sort();
            variants.dedup();
            for variant in variants {
                let bytes = variant.into_bytes();
                // The first anchor byte of the spelling; every marker has one.
                let Some((anchor_at, anchor)) = bytes
                    .iter()
                    .enumerate()
                    .find_map(|(i, b)| ANCHORS.iter().position(|a| a == b).map(|a| (i, a)))
                else {
                    continue;
                };
                let anchored = &mut by_anchor[anchor];
                match bytes.get(anchor_at + 1) {
                    Some(&next) => anchored.next[next as usize] = true,
                    None => {
                        if let Some(&previous) = anchor_at.checked_sub(1).and_then(|i| bytes.get(i)) {
                            anchored.previous[previous as usize] = true;
                        }
                    }
                }
                anchored.spellings.push(Spelling {
                    bytes,
                    anchor_at,
                    marker,
                });
            }
        }
        by_anchor
    })
}

/// The spelled-out dot, searched for with `memmem`: its bytes are all common in prose.
const SPELLED_DOT: [&str; 2] = [" dot ", " DOT "];

/// Scheme defangs that end in `://`, found by looking back from each `://`.
/// (spelling, replacement)
const SCHEME_MARKERS: [(&str, &str); 4] =
    [("meow", "http"), ("MEOW", "HTTP"), ("fxp", "ftp"), ("FXP", "FTP")];

/// A defanged `http` (`hxxp`, `hXXps`, `h**p`) ending right before the `:` or `[` at `at`:
/// its span, and whether it is written in upper case.
fn scheme_before(bytes: &[u8], at: usize) -> Option<(usize, usize, bool)> {
    let mut end = at;
    if end > 0 && matches!(bytes[end - 1], b's' | b'S') {
        end -= 1;
    }
    let start = end.checked_sub(4)?;
    let written = &bytes[start..end];
    let known = SCHEME_SPELLINGS.iter().any(|spelling| written == *spelling);
    let whole_word = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
    (known && whole_word).then(|| (start, start + 4, written == b"HXXP" || written == b"H**P"))
}

/// Positions of anchor bytes in `bytes`, in order of position within each `memchr` pass.
fn anchor_positions(bytes: &[u8]) -> impl Iterator<Item = usize> + '_ {
    memchr::memchr3_iter(ANCHORS[0], ANCHORS[1], ANCHORS[2], bytes)
        .chain(memchr::memchr2_iter(ANCHORS[3], ANCHORS[4], bytes))
}

/// Context rules for markers that also occur in ordinary prose or code.
fn accept(text: &[u8], start: usize, end: usize, pattern: &str) -> bool {
    let before = start.checked_sub(1).map(|i| text[i]);
    let after = text.get(end).copied();
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric());
    match pattern {
        // Unbalanced brackets only between label characters: `evil[.com`, `evil.]com`.
        "[." | ".]" => alnum(before) && alnum(after),
        // An escaped dot only inside a name: `evil\.com`, not a Windows path `C:\.git`.
        "\\." => alnum(before) && alnum(after) && before != Some(b':'),
        // ` dot ` only between two labels whose right side looks like a TLD (letters only,
        // then a boundary), and never after an article: "the dot com bubble" stays prose.
        " dot " => {
            let left = word_before(text, start);
            let right = word_after(text, end);
            !left.is_empty()
                && left.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
                && !matches!(
                    left.to_ascii_lowercase().as_slice(),
                    b"the" | b"a" | b"an" | b"one" | b"this"
                )
                && (2..=24).contains(&right.len())
                && right.iter().all(u8::is_ascii_alphabetic)
        }
        // `h[tt]p` only as a scheme.
        p if p.starts_with('h') => matches!(after, Some(b':' | b's' | b'S' | b'[')),
        _ => true,
    }
}

fn word_before(text: &[u8], end: usize) -> &[u8] {
    let start = text[..end]
        .iter()
        .rposition(|b| b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    &text[start..end]
}

fn word_after(text: &[u8], start: usize) -> &[u8] {
    let end = text[start..]
        .iter()
        .position(|b| !b.is_ascii_alphanumeric())
        .map_or(text.len(), |i| start + i);
    &text[start..end]
}

/// One replaced region: `[new_start, new_end)` in the refanged text stands for
/// `[orig_start, orig_end)` in the input.
#[derive(Debug, Clone, Copy)]
struct Edit {
    new_start: usize,
    new_end: usize,
    orig_start: usize,
    orig_end: usize,
}

/// A refanged text and the map back to the input.
pub(crate) struct Refanged<'a> {
    text: Cow<'a, str>,
    edits: Vec<Edit>,
}

impl<'a> Refanged<'a> {
    pub(crate) fn new(input: &'a str) -> Self {
        let bytes = input.as_bytes();
        // Candidate replacements at anchor bytes and for the spelled dot.
        // Overlaps are resolved below: leftmost first, then longest.
        // (start, end, replacement, whether the marker was written in upper case)
        let mut candidates: Vec<(usize, usize, &'static str, bool)> = Vec::new();
        let spellings = spellings();
        for at in anchor_positions(bytes) {
            if matches!(bytes[at], b':' | b'[')
                && let Some((start, end, upper)) = scheme_before(bytes, at)
            {
                candidates.push((start, end, "http", upper));
            }
            if bytes[at] == b':' && bytes[at..].starts_with(b"://") {
                for (spelling, replacement) in SCHEME_MARKERS {
                    let start = at.saturating_sub(spelling.len());
                    let whole_word = start == 0 || !bytes[start - 1].is_ascii_alphanumeric();
                    if at >= spelling.len() && &bytes[start..at] == spelling.as_bytes() && whole_word {
                        candidates.push((start, at, replacement, false));
                    }
                }
            }
            let Some(anchored) = ANCHORS
                .iter()
                .position(|&a| a == bytes[at])
                .map(|i| &spellings[i])
            else {
                continue;
            };
            if !anchored.could_match(bytes, at) {
                continue;
            }
            for spelling in &anchored.spellings {
                let Some(start) = at.checked_sub(spelling.anchor_at) else {
                    continue;
                };
                let end = start + spelling.bytes.len();
                if bytes.get(start..end) != Some(spelling.bytes.as_slice()) {
                    continue;
                }
                let (pattern, replacement) = MARKERS[spelling.marker];
                if accept(bytes, start, end, pattern) {
                    let written = &spelling.bytes;
                    let upper = !written.iter().any(u8::is_ascii_lowercase)
                        && written.iter().any(u8::is_ascii_uppercase);
                    candidates.push((start, end, replacement, upper));
                }
            }
        }
        for needle in SPELLED_DOT {
            for start in memchr::memmem::find_iter(bytes, needle) {
                if accept(bytes, start, start + needle.len(), " dot ") {
                    candidates.push((start, start + needle.len(), ".", false));
                }
            }
        }
        if candidates.is_empty() {
            return Self {
                text: Cow::Borrowed(input),
                edits: Vec::new(),
            };
        }
        candidates.sort_unstable_by_key(|&(start, end, _, _)| (start, std::cmp::Reverse(end)));

        let mut buf = String::with_capacity(input.len());
        let mut edits = Vec::with_capacity(candidates.len());
        let mut copied_to = 0;
        for (start, end, replacement, upper) in candidates {
            if start < copied_to {
                continue; // overlaps the previous replacement
            }
            // Markers are ASCII, so their bounds are char boundaries.
            buf.push_str(&input[copied_to..start]);
            let new_start = buf.len();
            if upper {
                buf.push_str(&replacement.to_ascii_uppercase());
            } else {
                buf.push_str(replacement);
            }
            edits.push(Edit {
                new_start,
                new_end: buf.len(),
                orig_start: start,
                orig_end: end,
            });
            copied_to = end;
        }
        buf.push_str(&input[copied_to..]);
        Self {
            text: Cow::Owned(buf),
            edits,
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Maps a start offset in the refanged text to the input.
    pub(crate) fn original_start(&self, pos: usize) -> usize {
        // The last edit that starts at or before `pos`.
        let i = self.edits.partition_point(|e| e.new_start <= pos);
        match i.checked_sub(1).map(|i| self.edits[i]) {
            None => pos,
            Some(e) if pos < e.new_end => e.orig_start,
            Some(e) => e.orig_end + (pos - e.new_end),
        }
    }

    /// Maps an end offset (exclusive) in the refanged text to the input.
    pub(crate) fn original_end(&self, pos: usize) -> usize {
        // The last edit that starts before `pos`.
        let i = self.edits.partition_point(|e| e.new_start < pos);
        match i.checked_sub(1).map(|i| self.edits[i]) {
            None => pos,
            Some(e) if pos <= e.new_end => e.orig_end,
            Some(e) => e.orig_end + (pos - e.new_end),
        }
    }

    /// Whether any replacement lies within `[start, end)` of the refanged text.
    pub(crate) fn edited_within(&self, start: usize, end: usize) -> bool {
        let i = self.edits.partition_point(|e| e.new_end <= start);
        self.edits.get(i).is_some_and(|e| e.new_start < end)
    }
}

/// Rewrites defanged indicators in `text` to their usable form: `hxxp://evil[.]com` →
/// `http://evil.com`, `user[at]mail[.]ru` → `user@mail.ru`. Everything else is unchanged.
pub fn refang(text: &str) -> String {
    Refanged::new(text).text.into_owned()
}

/// Makes the indicators in `text` safe to paste: URL schemes become `hxxp`/`hxxps`, dots
/// in hosts, IP addresses and e-mail domains become `[.]`, and `@` becomes `[@]`. Text that
/// is not an indicator is unchanged; already defanged indicators stay as they are.
pub fn defang(text: &str) -> String {
    use threatdesk_model::FindingKind as K;
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    let mut copied_to = 0;
    for ioc in crate::extract(text) {
        let defangable = matches!(
            ioc.kind,
            K::Url | K::Domain | K::Ipv4 | K::Ipv6 | K::Cidr | K::Email
        );
        if !defangable || ioc.start < copied_to || ioc.flags.contains(crate::Flags::DEFANGED) {
            continue;
        }
        out.push_str(&text[copied_to..ioc.start]);
        out.push_str(&defang_one(&ioc.text, ioc.kind));
        copied_to = ioc.end;
    }
    out.push_str(&text[copied_to..]);
    out
}

fn defang_one(written: &str, kind: threatdesk_model::FindingKind) -> String {
    use threatdesk_model::FindingKind as K;
    let mut s = written.to_owned();
    if kind == K::Url {
        let lower = s.to_ascii_lowercase();
        if lower.starts_with("https://") {
            s.replace_range(..5, "hxxps");
        } else if lower.starts_with("http://") {
            s.replace_range(..4, "hxxp");
        }
        // Only the authority's dots: a path's dots (`/index.php`) are harmless.
        let authority_start = s.find("://").map_or(0, |i| i + 3);
        let authority_end = s[authority_start..]
            .find(['/', '?', '#'])
            .map_or(s.len(), |i| authority_start + i);
        let authority = s[authority_start..authority_end].replace('.', "[.]");
        s.replace_range(authority_start..authority_end, &authority);
        return s;
    }
    if kind == K::Ipv6 || (kind == K::Cidr && s.contains(':')) {
        return s.replace(':', "[:]");
    }
    s.replace('@', "[@]").replace('.', "[.]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refang_common_forms() {
        for (defanged, fanged) in [
            ("hxxp://evil[.]com/a", "http://evil.com/a"),
            ("hXXps://evil(.)com", "https://evil.com"),
            ("1.2.3[.]4", "1.2.3.4"),
            ("user[at]mail[.]ru", "user@mail.ru"),
            ("user(at)mail(.)ru", "user@mail.ru"),
            ("evil[dot]com", "evil.com"),
            ("evil dot com", "evil.com"),
            ("the dot com bubble", "the dot com bubble"),
            ("evil\\.com", "evil.com"),
            ("C:\\.git", "C:\\.git"),
            ("evil[.com and evil.]org", "evil.com and evil.org"),
            ("http[:]//x[.]io", "http://x.io"),
            ("meow://x[.]io", "http://x.io"),
            ("fxp://x[.]io", "ftp://x.io"),
            ("MEOW://X[.]IO", "HTTP://X.IO"),
            ("x[.]io[/]path", "x.io/path"),
            ("my hxxp habit", "my hxxp habit"),
            ("Hxxp://a[dot]io", "http://a.io"),
            ("HXXP://A[DOT]IO", "HTTP://A.IO"),
        ] {
            assert_eq!(refang(defanged), fanged, "{defanged}");
        }
    }

    #[test]
    fn offsets_map_back_to_the_input() {
        let input = "see hxxp://evil[.]com/x now";
        let r = Refanged::new(input);
        assert_eq!(r.text(), "see http://evil.com/x now");
        let start = r.text().find("http").unwrap_or(0);
        let end = start + "http://evil.com/x".len();
        assert_eq!(
            &input[r.original_start(start)..r.original_end(end)],
            "hxxp://evil[.]com/x"
        );
        let dom = r.text().find("evil").unwrap_or(0);
        assert_eq!(
            &input[r.original_start(dom)..r.original_end(dom + 8)],
            "evil[.]com"
        );
        assert!(r.edited_within(dom, dom + 8));
        assert!(!r.edited_within(0, 3));
    }

    #[test]
    fn defang_makes_indicators_inert() {
        assert_eq!(
            defang("Go to https://evil.com/a.php or mail bob@evil.org from 8.8.8.8"),
            "Go to hxxps://evil[.]com/a.php or mail bob[@]evil[.]org from 8[.]8[.]8[.]8"
        );
        assert_eq!(
            refang(&defang("http://a.example.com/x")),
            "http://a.example.com/x"
        );
    }
}
