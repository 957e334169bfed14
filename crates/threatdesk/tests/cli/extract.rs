use crate::Workspace;

const REPORT: &str = "Stage two: hxxps://evil-cdn[.]com/gate.php from 185.220.101[.]4 (resolver 8.8.8.8).\n\
                      Exploits CVE-2024-3400; md5 0e5b2c1f6e0d4a3c9b8a7f6e5d4c3b2a.\n";

#[test]
fn json_output_has_one_object_per_input_with_byte_spans() {
    let ws = Workspace::create();
    let path = ws.write("r.txt", REPORT);
    let out = ws.json(&["extract", path.to_str().expect("path")]);
    let doc = &out[0];
    assert_eq!(doc["source"], path.to_str().expect("path"));
    let findings = doc["findings"].as_array().expect("findings");
    let url = findings.iter().find(|f| f["kind"] == "url").expect("url");
    assert_eq!(url["value"], "https://evil-cdn.com/gate.php");
    let (start, end) = (
        url["start"].as_u64().expect("start") as usize,
        url["end"].as_u64().expect("end") as usize,
    );
    assert_eq!(&REPORT[start..end], "hxxps://evil-cdn[.]com/gate.php");
    assert!(
        url["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "defanged"))
    );
    // The public resolver is benign: hidden by default.
    assert!(!findings.iter().any(|f| f["value"] == "8.8.8.8"));
}

#[test]
fn benign_values_kinds_filter_jsonl_and_csv() {
    let ws = Workspace::create();
    let run = ws.run_with_stdin(
        &[
            "--format",
            "jsonl",
            "extract",
            "--include-benign",
            "--kinds",
            "ipv4",
        ],
        REPORT.as_bytes(),
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let values: Vec<&str> = lines.iter().filter_map(|l| l["value"].as_str()).collect();
    assert_eq!(values, ["185.220.101.4", "8.8.8.8"]);
    assert!(lines.iter().all(|l| l["source"] == "-" && l["kind"] == "ipv4"));

    let csv = ws.run_with_stdin(
        &["--format", "csv", "extract", "--kinds", "cve,md5"],
        REPORT.as_bytes(),
    );
    let rows: Vec<&str> = csv.stdout.lines().collect();
    assert_eq!(rows[0], "source,kind,value,text,start,end,flags");
    assert!(
        rows[1].starts_with("-,cve,CVE-2024-3400,CVE-2024-3400,"),
        "{}",
        csv.stdout
    );
    assert!(
        rows[2].starts_with("-,md5,0e5b2c1f6e0d4a3c9b8a7f6e5d4c3b2a,"),
        "{}",
        csv.stdout
    );

    let bad = ws.run_with_stdin(&["extract", "--kinds", "ipv5"], b"");
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("unknown kind \"ipv5\""), "{}", bad.stderr);
}

#[test]
fn refang_and_defang_rewrite_the_text() {
    let ws = Workspace::create();
    let refanged = ws.run_with_stdin(&["extract", "--refang"], b"hxxp://evil[.]com and 1.2.3[.]4\n");
    assert_eq!(refanged.stdout, "http://evil.com and 1.2.3.4\n");
    let defanged = ws.run_with_stdin(&["extract", "--defang"], b"http://evil.com and 1.2.3.4\n");
    assert_eq!(defanged.stdout, "hxxp://evil[.]com and 1[.]2[.]3[.]4\n");
}

#[test]
fn unreadable_inputs_are_reported_and_the_rest_extracted() {
    let ws = Workspace::create();
    let good = ws.write("good.txt", "CVE-2021-44228");
    let binary = ws.write("tool.bin", b"\x7fELF\x00\x00");
    let run = ws.run(&[
        "--format",
        "jsonl",
        "extract",
        good.to_str().expect("p"),
        binary.to_str().expect("p"),
        "missing.txt",
    ]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stdout.contains("CVE-2021-44228"));
    assert!(run.stderr.contains("tool.bin: binary content"), "{}", run.stderr);
    assert!(
        run.stderr.contains("missing.txt: no such file or folder"),
        "{}",
        run.stderr
    );
}

#[test]
fn ingest_stores_findings_with_their_evidence() {
    let ws = Workspace::create();
    ws.write("r/report.txt", format!("Report\n\n{REPORT}"));
    let report = ws.json(&["ingest", "r"]);
    assert!(
        report["totals"]["findings"].as_u64().is_some_and(|n| n >= 6),
        "{report}"
    );
    let item = ws.json(&["items", "show", "1"]);
    let findings = item["findings"].as_array().expect("findings");
    let text = item["text"].as_str().expect("text");
    for f in findings {
        let span = &f["span"];
        let (start, end) = (
            span["start"].as_u64().expect("start") as usize,
            span["end"].as_u64().expect("end") as usize,
        );
        assert_eq!(&text[start..end], f["text"].as_str().expect("text"));
    }
    let resolver = findings
        .iter()
        .find(|f| f["value"] == "8.8.8.8")
        .expect("benign findings are stored, flagged");
    assert!(
        resolver["flags"]
            .as_array()
            .is_some_and(|f| f.iter().any(|x| x == "benign:public-dns"))
    );
}
