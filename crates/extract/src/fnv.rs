/// FNV-1a, 64-bit: the hash of the known-benign values table. One definition for both
/// sides: `build.rs` `include!`s this file to build the table, `benign.rs` to look it up.
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}
