//! Builds the lookup table for the known-benign values: an open-addressing hash table over
//! the lines of `data/benign-values.tsv`, embedded next to the file, so a lookup costs one
//! hash and a probe or two, and a process pays nothing at start-up.
//!
//! Layout (little-endian): `u32` slot count (a power of two), then per slot a `u32`
//! fingerprint and a `u32` offset of the value's first line plus one (0: empty). Lines with
//! the same value are adjacent in the sorted file, so one slot per distinct value suffices.
//! A bit filter (`benign-filter.bin`) over the same hashes answers most lookups, those of
//! values not listed, from cache. The hash is `src/fnv.rs`, shared with the lookup; a test
//! in `src/benign.rs` looks every line up.

use std::path::PathBuf;

include!("src/fnv.rs");

/// log2 of the number of bits in the filter; `src/benign.rs` has the same constant.
const FILTER_BITS: u32 = 20;

fn main() {
    let source = "data/benign-values.tsv";
    println!("cargo::rerun-if-changed={source}");
    println!("cargo::rerun-if-changed=src/fnv.rs");
    let values = std::fs::read(source).expect("data/benign-values.tsv is part of the crate");

    let mut firsts: Vec<(u64, u32)> = Vec::new();
    let mut previous: &[u8] = &[];
    let mut offset = 0usize;
    for line in values.split_inclusive(|&b| b == b'\n') {
        let value = line.split(|&b| b == b'\t').next().unwrap_or_default();
        if value != previous {
            let at = u32::try_from(offset + 1).expect("the values file is under 4 GiB");
            firsts.push((fnv1a(value), at));
            previous = value;
        }
        offset += line.len();
    }

    // One bit per hash value's top FILTER_BITS bits: a value whose bit is clear is not
    // listed, which a lookup learns from 128 KiB that stay in cache, without touching the
    // 1 MiB table. With ~100,000 values about one bit in eleven is set.
    let mut filter = vec![0u8; 1 << (FILTER_BITS - 3)];
    for (hash, _) in &firsts {
        let bit = (hash >> (64 - FILTER_BITS)) as usize;
        filter[bit / 8] |= 1 << (bit % 8);
    }

    // Load factor at most 3/4: an absent value (the common case) stops within a few slots.
    let slots = (firsts.len() * 4 / 3 + 1).next_power_of_two().max(16);
    let mask = slots - 1;
    let mut table = vec![(0u32, 0u32); slots];
    for (hash, at) in firsts {
        let mut slot = (hash as usize) & mask;
        while table[slot].1 != 0 {
            slot = (slot + 1) & mask;
        }
        table[slot] = ((hash >> 32) as u32, at);
    }

    let mut out = Vec::with_capacity(4 + slots * 8);
    out.extend_from_slice(&u32::try_from(slots).expect("slot count fits u32").to_le_bytes());
    for (fingerprint, at) in table {
        out.extend_from_slice(&fingerprint.to_le_bytes());
        out.extend_from_slice(&at.to_le_bytes());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("benign-index.bin"), out).expect("OUT_DIR is writable");
    std::fs::write(out_dir.join("benign-filter.bin"), filter).expect("OUT_DIR is writable");
}
