//! Linear time and bounded memory on large and adversarial inputs.
//!
//! `cargo run --release -p threatdesk-extract --example stress [MB]` builds several inputs of
//! MB megabytes (default 100) designed to hit each rule's worst case, times extraction on a
//! tenth and on the whole of each, and prints MB/s and the ratio of the two times (about 10
//! when the work is linear). Peak memory is reported by the caller, e.g. `/usr/bin/time -v`.
use std::time::Instant;

fn main() {
    let mb: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let size = mb * 1_000_000;
    let inputs: [(&str, &str); 9] = [
        (
            "prose with indicators",
            "The actor used 185.220.101.4 and evil[.]com to stage CVE-2024-3400 payloads. ",
        ),
        ("addresses without spaces", "1.2.3.4,"),
        ("one endless dotted token", "a."),
        ("nested URLs", "http://a.com/?u="),
        ("URL with brackets", "http://a.com/(x)]"),
        ("defang markers", "[.](.)[dot]hxxp"),
        ("backslash paths", "C:\\a b\\"),
        ("hex runs", "0123456789abcdef"),
        ("at signs", "a@b.co@"),
    ];
    for (name, unit) in inputs {
        let big = unit.repeat(size / unit.len());
        let small = &big[..big.len() / 10];
        let t = Instant::now();
        let n_small = threatdesk_extract::extract(small).len();
        let small_s = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let n_big = threatdesk_extract::extract(&big).len();
        let big_s = t.elapsed().as_secs_f64();
        println!(
            "{name:<26} {:>6.1} MB/s on {mb} MB ({n_big} findings); time ratio 10x input: {:.1} ({n_small} findings on a tenth)",
            big.len() as f64 / 1e6 / big_s,
            big_s / small_s.max(1e-9)
        );
    }
}
