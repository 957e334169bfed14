//! The outside yardsticks in `../shared/eval/ioc`, as tests with pass-rate floors.
//!
//! Each suite prints its pass rate. A floor below the rate reached guards against
//! regressions; raise it as the extractor improves. Where threatdesk deliberately differs
//! from a suite's convention, the case is listed in `docs/ioc-conventions.md` and counted as
//! a failure here, never special-cased.

use std::collections::BTreeSet;
use std::net::Ipv6Addr;
use std::path::PathBuf;

use threatdesk_extract::{FindingKind as K, Flags, Ioc, extract, refang};

fn eval_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/eval/ioc");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!("skipping: {} not found (CI has it)", dir.display());
        None
    }
}

fn report(suite: &str, passed: usize, total: usize, floor: f64) {
    let rate = passed as f64 / total.max(1) as f64;
    println!(
        "{suite}: {passed}/{total} passed ({:.1}%), floor {:.1}%",
        rate * 100.0,
        floor * 100.0
    );
    assert!(
        rate >= floor,
        "{suite}: pass rate {rate:.3} fell below the floor {floor:.3}"
    );
}

#[test]
fn ioc_fanger_refangs_defanged_text() {
    let Some(dir) = eval_dir() else { return };
    let defanged = std::fs::read_to_string(dir.join("ioc-fanger/defanged.txt")).expect("defanged.txt");
    let fanged = std::fs::read_to_string(dir.join("ioc-fanger/fanged.txt")).expect("fanged.txt");
    let pairs: Vec<(&str, &str)> = defanged.lines().zip(fanged.lines()).collect();
    let mut failures = Vec::new();
    for (d, f) in &pairs {
        if refang(d) != *f {
            failures.push(format!("{d:?} -> {:?}, want {f:?}", refang(d)));
        }
    }
    for failure in failures.iter().take(15) {
        println!("  miss: {failure}");
    }
    report(
        "ioc-fanger refang",
        pairs.len() - failures.len(),
        pairs.len(),
        1.0,
    );
}

#[test]
fn iocextract_valid_values_are_found_and_invalid_ones_are_not() {
    let Some(dir) = eval_dir() else { return };
    let input = std::fs::read_to_string(dir.join("iocextract/input.txt")).expect("input.txt");
    let found: Vec<Ioc> = extract(&input);
    let values: BTreeSet<String> = found.iter().map(|i| i.value.to_ascii_lowercase()).collect();
    let texts: BTreeSet<String> = found
        .iter()
        .map(|i| refang(&i.text).to_ascii_lowercase())
        .collect();

    let valid = std::fs::read_to_string(dir.join("iocextract/valid.txt")).expect("valid.txt");
    let valid: Vec<&str> = valid.lines().filter(|l| !l.trim().is_empty()).collect();
    let mut missing = Vec::new();
    for line in &valid {
        let want = refang(line).to_ascii_lowercase();
        if !values.contains(&want) && !texts.contains(&want) {
            missing.push(*line);
        }
    }
    println!("  missing: {missing:?}");
    report("iocextract valid", valid.len() - missing.len(), valid.len(), 0.89);

    let invalid = std::fs::read_to_string(dir.join("iocextract/invalid.txt")).expect("invalid.txt");
    let invalid: Vec<&str> = invalid.lines().filter(|l| !l.trim().is_empty()).collect();
    let reported: Vec<&str> = invalid
        .iter()
        .copied()
        .filter(|l| values.contains(&l.to_ascii_lowercase()))
        .collect();
    println!("  wrongly reported: {reported:?}");
    report(
        "iocextract invalid",
        invalid.len() - reported.len(),
        invalid.len(),
        1.0,
    );
}

#[test]
fn iocsearcher_valid_values_are_recognised() {
    let Some(dir) = eval_dir() else { return };
    let mut total = 0;
    let mut passed = 0;
    let mut unsupported = 0;
    let mut misses = Vec::new();
    for file in [
        "blockchain_valid.ioc",
        "onion_valid.ioc",
        "registry_valid.ioc",
        "arn_valid.ioc",
    ] {
        let text = std::fs::read_to_string(dir.join("iocsearcher").join(file)).expect("ioc file");
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (kind_name, value) = match line.split_once(['\t', ' ']) {
                Some((k, v)) => (k, v.trim()),
                None => ("onion", line.trim()),
            };
            let (kind, probe) = match kind_name {
                "bitcoin" => (K::BitcoinAddress, value.to_owned()),
                "ethereum" => (K::EthereumAddress, value.to_owned()),
                "monero" => (K::MoneroAddress, value.to_owned()),
                "onion" => (K::OnionAddress, format!("{value}.onion")),
                "registry" => (K::RegistryKey, value.to_owned()),
                _ => {
                    unsupported += 1;
                    continue;
                }
            };
            total += 1;
            let ok = extract(&probe).iter().any(|i| i.kind == kind && i.text == probe);
            if ok {
                passed += 1;
            } else {
                misses.push(probe);
            }
        }
    }
    println!("  misses: {misses:?}");
    println!("  unsupported kinds (ARN, other chains): {unsupported} values");
    report("iocsearcher (supported kinds)", passed, total, 0.93);
}

/// ioc-finder's keys for the kinds threatdesk extracts.
fn ioc_finder_kind(key: &str) -> Option<K> {
    Some(match key {
        "urls" => K::Url,
        "domains" => K::Domain,
        "ipv4s" => K::Ipv4,
        "ipv6s" => K::Ipv6,
        "ipv4_cidrs" => K::Cidr,
        "email_addresses" => K::Email,
        "md5s" => K::Md5,
        "sha1s" => K::Sha1,
        "sha256s" => K::Sha256,
        "sha512s" => K::Sha512,
        "cves" => K::Cve,
        "attack_techniques" => K::AttackTechnique,
        "attack_tactics" => K::AttackTactic,
        "attack_mitigations" => K::AttackMitigation,
        "asns" => K::Asn,
        "bitcoin_addresses" => K::BitcoinAddress,
        "monero_addresses" => K::MoneroAddress,
        "mac_addresses" => K::MacAddress,
        "registry_key_paths" => K::RegistryKey,
        "file_paths" => K::FilePath,
        _ => return None,
    })
}

/// Brings ioc-finder's notation to threatdesk's normalised values (see docs/ioc-conventions.md).
fn normalise_expected(kind: K, value: &str) -> String {
    match kind {
        K::Asn => format!("AS{}", value.trim_start_matches("ASN")),
        K::Ipv6 => value
            .parse::<Ipv6Addr>()
            .map(|ip| ip.to_string())
            .unwrap_or_else(|_| value.to_owned()),
        K::MacAddress => {
            let hex: String = value
                .chars()
                .filter(char::is_ascii_hexdigit)
                .collect::<String>()
                .to_ascii_lowercase();
            hex.as_bytes()
                .chunks(2)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect::<Vec<_>>()
                .join(":")
        }
        K::Domain | K::Email | K::Md5 | K::Sha1 | K::Sha256 | K::Sha512 => value.to_ascii_lowercase(),
        K::Cve => value.to_ascii_uppercase(),
        _ => value.to_owned(),
    }
}

fn flatten(value: &serde_json::Value) -> Vec<String> {
    match value {
        serde_json::Value::String(s) => vec![s.clone()],
        serde_json::Value::Array(items) => items.iter().flat_map(flatten).collect(),
        serde_json::Value::Object(map) => map.values().flat_map(flatten).collect(),
        _ => Vec::new(),
    }
}

#[test]
fn ioc_finder_cases() {
    let Some(dir) = eval_dir() else { return };
    let cases = std::fs::read_to_string(dir.join("ioc-finder/cases.jsonl")).expect("cases.jsonl");
    let supported = [
        "urls",
        "domains",
        "ipv4s",
        "ipv6s",
        "ipv4_cidrs",
        "email_addresses",
        "md5s",
        "sha1s",
        "sha256s",
        "sha512s",
        "cves",
        "attack_techniques",
        "attack_tactics",
        "attack_mitigations",
        "asns",
        "bitcoin_addresses",
        "monero_addresses",
        "mac_addresses",
        "registry_key_paths",
        "file_paths",
    ];
    let (mut total, mut passed) = (0, 0);
    let mut failures = Vec::new();
    for line in cases.lines() {
        let case: serde_json::Value = serde_json::from_str(line).expect("case json");
        let expected = case["expected"].as_object().cloned().unwrap_or_default();
        // Cases about kinds threatdesk does not extract (ssdeep, user agents, TLP labels…) are skipped.
        if !expected.is_empty() && !expected.keys().any(|k| supported.contains(&k.as_str())) {
            continue;
        }
        let kwargs = &case["kwargs"];
        let skip_url_hosts = kwargs["parse_domain_from_url"] == false;
        let skip_email_hosts = kwargs["parse_domain_from_email_address"] == false;
        let text = case["text"].as_str().unwrap_or_default();
        let found = extract(text);
        total += 1;
        let mut ok = true;
        let mut diff = Vec::new();
        for key in supported {
            let Some(kind) = ioc_finder_kind(key) else {
                continue;
            };
            let want: BTreeSet<String> = expected
                .get(key)
                .map(flatten)
                .unwrap_or_default()
                .iter()
                .map(|v| normalise_expected(kind, v))
                .collect();
            let got: BTreeSet<String> = found
                .iter()
                .filter(|i| i.kind == kind)
                .filter(|i| !(skip_url_hosts && i.flags.contains(Flags::IN_URL)))
                .filter(|i| !(skip_email_hosts && i.flags.contains(Flags::IN_EMAIL)))
                .map(|i| i.value.clone())
                .collect();
            if want != got {
                ok = false;
                diff.push(format!("{key}: want {want:?} got {got:?}"));
            }
        }
        if ok {
            passed += 1;
        } else {
            failures.push(format!(
                "{}: {}",
                case["id"].as_str().unwrap_or("?"),
                diff.join("; ")
            ));
        }
    }
    for failure in &failures {
        println!("  fail: {failure}");
    }
    report("ioc-finder cases (supported kinds)", passed, total, 0.8);
}
