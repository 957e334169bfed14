//! Checksums of cryptocurrency addresses, so random base58 or bech32 look-alikes are not
//! reported.

use sha2::{Digest, Sha256};

const BASE58: &[u8; 58] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

pub(crate) fn is_base58(s: &str) -> bool {
    s.bytes().all(|b| BASE58.contains(&b))
}

/// Decodes base58 into at most `max` bytes; `None` if it does not fit or is not base58.
fn base58_decode(s: &str, max: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(max);
    for b in s.bytes() {
        let mut carry = BASE58.iter().position(|&c| c == b)? as u32;
        for byte in out.iter_mut().rev() {
            carry += u32::from(*byte) * 58;
            *byte = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
        if out.len() > max {
            return None;
        }
    }
    let leading_ones = s.bytes().take_while(|&b| b == b'1').count();
    let mut full = vec![0u8; leading_ones];
    full.extend(out);
    Some(full)
}

/// A legacy (P2PKH `1…` or P2SH `3…`) Bitcoin address with a valid Base58Check checksum.
pub(crate) fn is_bitcoin_legacy(s: &str) -> bool {
    if !(26..=35).contains(&s.len()) || !matches!(s.as_bytes().first(), Some(b'1' | b'3')) || !is_base58(s) {
        return false;
    }
    let Some(bytes) = base58_decode(s, 25) else {
        return false;
    };
    if bytes.len() != 25 {
        return false;
    }
    let (payload, checksum) = bytes.split_at(21);
    let digest = Sha256::digest(Sha256::digest(payload));
    digest[..4] == *checksum
}

const BECH32: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";

/// A SegWit Bitcoin address (`bc1…`) with a valid bech32 or bech32m checksum.
pub(crate) fn is_bitcoin_bech32(s: &str) -> bool {
    if !(14..=74).contains(&s.len()) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if lower != s && s.to_ascii_uppercase() != s {
        return false; // mixed case is invalid in bech32
    }
    let Some(data) = lower.strip_prefix("bc1") else {
        return false;
    };
    let mut values = Vec::with_capacity(data.len());
    for b in data.bytes() {
        match BECH32.iter().position(|&c| c == b) {
            Some(v) => values.push(v as u32),
            None => return false,
        }
    }
    let mut checked: Vec<u32> = b"bc".iter().map(|&c| u32::from(c) >> 5).collect();
    checked.push(0);
    checked.extend(b"bc".iter().map(|&c| u32::from(c) & 31));
    checked.extend(values);
    let polymod = bech32_polymod(&checked);
    polymod == 1 || polymod == 0x2bc8_30a3
}

fn bech32_polymod(values: &[u32]) -> u32 {
    const GEN: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x1ff_ffff) << 5) ^ v;
        for (i, g) in GEN.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

/// A Monero standard (95 characters) or integrated (106) address: base58, starting with
/// `4` (main), or `8` (subaddress).
pub(crate) fn is_monero(s: &str) -> bool {
    (s.len() == 95 || s.len() == 106) && matches!(s.as_bytes().first(), Some(b'4' | b'8')) && is_base58(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitcoin_checksums() {
        assert!(is_bitcoin_legacy("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"));
        assert!(is_bitcoin_legacy("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"));
        assert!(!is_bitcoin_legacy("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb"));
        assert!(is_bitcoin_bech32("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"));
        assert!(is_bitcoin_bech32(
            "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297"
        ));
        assert!(!is_bitcoin_bech32("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdx"));
    }
}
