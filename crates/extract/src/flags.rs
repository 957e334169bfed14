//! Finding flags: a small bit set with stable names.

use std::fmt;
use std::ops::{BitOr, BitOrAssign};

use serde::{Serialize, Serializer};

/// What else is known about a finding. Serialises as a list of names.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Flags(u16);

impl Flags {
    /// Written defanged (`evil[.]com`, `hxxp://…`).
    pub const DEFANGED: Flags = Flags(1);
    /// The host part of a URL also reported as a URL.
    pub const IN_URL: Flags = Flags(1 << 1);
    /// The domain part of an e-mail address also reported as an e-mail address.
    pub const IN_EMAIL: Flags = Flags(1 << 2);
    /// A URL written without its scheme (`evil[.]com/gate.php`).
    pub const NO_SCHEME: Flags = Flags(1 << 3);
    /// Benign: a private address range (RFC 1918, IPv6 unique-local and link-local).
    pub const BENIGN_PRIVATE: Flags = Flags(1 << 8);
    /// Benign: reserved or special-use addresses and names (RFC 5735, RFC 6761, loopback,
    /// documentation ranges, `example.com`).
    pub const BENIGN_RESERVED: Flags = Flags(1 << 9);
    /// Benign: a well-known public DNS resolver.
    pub const BENIGN_PUBLIC_DNS: Flags = Flags(1 << 10);
    /// Benign: a security vendor's or researcher's blog domain.
    pub const BENIGN_SECURITY_VENDOR: Flags = Flags(1 << 11);
    /// Benign: the hash of an empty file.
    pub const BENIGN_EMPTY_FILE: Flags = Flags(1 << 12);
    /// Benign: a hash often reported by mistake (common false positive).
    pub const BENIGN_COMMON_FALSE_POSITIVE: Flags = Flags(1 << 13);

    const BENIGN_MASK: u16 = 0xff00;

    const NAMES: [(Flags, &'static str); 10] = [
        (Flags::DEFANGED, "defanged"),
        (Flags::IN_URL, "in_url"),
        (Flags::IN_EMAIL, "in_email"),
        (Flags::NO_SCHEME, "no_scheme"),
        (Flags::BENIGN_PRIVATE, "benign:private"),
        (Flags::BENIGN_RESERVED, "benign:reserved"),
        (Flags::BENIGN_PUBLIC_DNS, "benign:public-dns"),
        (Flags::BENIGN_SECURITY_VENDOR, "benign:security-vendor"),
        (Flags::BENIGN_EMPTY_FILE, "benign:empty-file"),
        (
            Flags::BENIGN_COMMON_FALSE_POSITIVE,
            "benign:common-false-positive",
        ),
    ];

    /// No flags.
    pub const fn empty() -> Self {
        Flags(0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether any `benign:*` flag is set.
    pub const fn is_benign(self) -> bool {
        self.0 & Self::BENIGN_MASK != 0
    }

    /// The names of the flags that are set, in a fixed order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(flag, _)| self.contains(*flag))
            .map(|(_, name)| name)
    }
}

impl BitOr for Flags {
    type Output = Flags;

    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

impl BitOrAssign for Flags {
    fn bitor_assign(&mut self, rhs: Flags) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Serialize for Flags {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_benign() {
        let flags = Flags::DEFANGED | Flags::BENIGN_PRIVATE;
        assert_eq!(flags.names().collect::<Vec<_>>(), ["defanged", "benign:private"]);
        assert!(flags.is_benign());
        assert!(!Flags::IN_URL.is_benign());
    }
}
