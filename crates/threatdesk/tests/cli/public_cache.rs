//! Public responses come from rendered copies, and a change to a bulletin reaches every
//! channel the moment it commits, even when another process makes it.

use std::io::{Read, Write};
use std::net::TcpStream;

use crate::Workspace;
use crate::serve::{Client, Server};

const TITLE: &str = "Clear bulletin on APT28";

/// A raw GET: status, headers and the body's bytes as sent (compressed or not).
fn raw_get(address: &str, path: &str, extra: &[(&str, &str)]) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).expect("connect");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n");
    for (name, value) in extra {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("end of headers");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, raw[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[test]
fn every_public_channel_is_served_from_cache_and_drops_a_re_marked_bulletin_at_once() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let report = ws.write("report.txt", crate::bulletin::REPORT);
    assert_eq!(ws.run(&["ingest", report.to_str().expect("path")]).code, 0);
    let id = crate::create_bulletin(&ws, TITLE, "clear", &["--tag", "espionage", "--item", "1"], true);
    crate::create_bulletin(
        &ws,
        "Another clear bulletin",
        "clear",
        &["--tag", "espionage"],
        true,
    );
    let server = Server::start(&ws);
    let mut visitor = Client::new(&server);

    let collections: serde_json::Value = serde_json::from_str(
        &visitor
            .request(
                "GET",
                "/taxii2/api/collections/",
                None,
                &[("Accept", crate::channels::TAXII)],
            )
            .body,
    )
    .expect("collections");
    let clear = collections["collections"][0]["id"]
        .as_str()
        .expect("a collection")
        .to_owned();
    let channels: Vec<String> = vec![
        "/".to_owned(),
        "/bulletins/clear-bulletin-on-apt28".to_owned(),
        "/tags/espionage".to_owned(),
        "/feeds/bulletins.atom".to_owned(),
        "/feeds/bulletins.json".to_owned(),
        "/feeds/tags/espionage.atom".to_owned(),
        "/feeds/tags/espionage.json".to_owned(),
        "/misp-feed/manifest.json".to_owned(),
        format!("/taxii2/api/collections/{clear}/objects/"),
    ];
    let accept = |path: &str| {
        if path.starts_with("/taxii2/") {
            crate::channels::TAXII
        } else {
            "*/*"
        }
    };

    for path in &channels {
        let first = visitor.request("GET", path, None, &[("Accept", accept(path))]);
        assert_eq!(first.status, 200, "{path}: {first:?}");
        assert!(first.body.contains(TITLE), "{path} shows the bulletin");
        let etag = first
            .header("etag")
            .unwrap_or_else(|| panic!("{path}: an ETag"))
            .to_owned();
        let modified = first
            .header("last-modified")
            .unwrap_or_else(|| panic!("{path}: Last-Modified"))
            .to_owned();
        let again = visitor.request("GET", path, None, &[("Accept", accept(path))]);
        assert_eq!(
            (again.status, again.body.as_str()),
            (200, first.body.as_str()),
            "{path}"
        );
        assert_eq!(again.header("etag"), Some(etag.as_str()), "{path}");
        for condition in [
            ("If-None-Match", etag.as_str()),
            ("If-Modified-Since", modified.as_str()),
        ] {
            let unchanged = visitor.request("GET", path, None, &[("Accept", accept(path)), condition]);
            assert_eq!(unchanged.status, 304, "{path} with {condition:?}");
            assert!(unchanged.body.is_empty());
        }
    }

    // Compressed forms are the same page.
    let (_, _, plain) = raw_get(&server.address, "/", &[]);
    let (status, headers, gzipped) = raw_get(&server.address, "/", &[("Accept-Encoding", "gzip")]);
    assert_eq!(
        (status, header(&headers, "content-encoding")),
        (200, Some("gzip"))
    );
    let mut unzipped = Vec::new();
    flate2::read::GzDecoder::new(gzipped.as_slice())
        .read_to_end(&mut unzipped)
        .expect("gzip");
    assert_eq!(unzipped, plain);
    let (_, headers, brotli) = raw_get(&server.address, "/", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(header(&headers, "content-encoding"), Some("br"));
    let mut unbrotli = Vec::new();
    brotli::Decompressor::new(brotli.as_slice(), 4096)
        .read_to_end(&mut unbrotli)
        .expect("brotli");
    assert_eq!(unbrotli, plain);

    // Another process re-marks the bulletin AMBER: no channel shows it any more.
    let run = ws.run(&["bulletin", "edit", &id.to_string(), "--tlp", "amber"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for path in &channels {
        let after = visitor.request("GET", path, None, &[("Accept", accept(path))]);
        assert!(
            !after.body.contains(TITLE),
            "{path} still shows the re-marked bulletin"
        );
    }
    // Marked CLEAR again, it is back everywhere.
    let run = ws.run(&["bulletin", "edit", &id.to_string(), "--tlp", "clear"]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let home = visitor.get("/");
    assert!(home.body.contains(TITLE), "{home:?}");
}
