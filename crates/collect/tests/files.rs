//! The files collector against a real folder tree.

use std::fs;
use std::path::Path;

use chrono::Utc;
use threatdesk_collect::files::{Candidate, FilesConfig, Input, collect, discover};
use threatdesk_collect::{RejectReason, Rejection};
use threatdesk_model::{NewSource, Source, SourceId, SourceKind, Tlp};
use threatdesk_text::DocumentFormat;

fn source() -> Source {
    let mut spec = NewSource::new("files", SourceKind::File, "");
    spec.default_tlp = Tlp::Green;
    Source {
        id: SourceId(1),
        spec,
        created_at: Utc::now(),
    }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).expect("mkdir");
    }
    fs::write(path, bytes).expect("write");
}

fn collect_all(
    inputs: &[Input],
    config: &FilesConfig,
) -> (Vec<threatdesk_collect::files::Collected>, Vec<Rejection>, u64) {
    let found = discover(inputs, config);
    let mut rejections = found.rejections;
    let mut collected = Vec::new();
    for candidate in &found.candidates {
        match collect(candidate, &source(), config, Utc::now()) {
            Ok(c) => collected.push(c),
            Err(r) => rejections.push(r),
        }
    }
    (collected, rejections, found.skipped_hidden)
}

fn reason_for<'a>(rejections: &'a [Rejection], name: &str) -> Option<&'a RejectReason> {
    rejections
        .iter()
        .find(|r| r.input.ends_with(name))
        .map(|r| &r.reason)
}

#[test]
fn a_mixed_folder_yields_every_good_file_and_a_reason_for_every_bad_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path();
    write(
        root,
        "a/report.html",
        b"<html><head><title>Turla returns</title></head><body><p>Turla used Kazuar.</p></body></html>",
    );
    write(
        root,
        "a/notes.md",
        b"# Sandworm notes\n\nIndustroyer2 hit substations.",
    );
    write(
        root,
        "b/plain.txt",
        b"Plain heading\n\nVolt Typhoon lives off the land.",
    );
    write(
        root,
        "b/README",
        b"No extension, still text about Scattered Spider.",
    );
    write(
        root,
        "b/latin1.txt",
        b"R\xe9sum\xe9: l'attaquant a utilis\xe9 un chargeur sign\xe9.",
    );
    write(root, "empty.txt", b"");
    write(root, "blank.md", b"  \n\n ");
    write(root, "tool.exe.txt", b"MZ\x90\x00\x03\x00\x00\x00");
    write(root, "slides.pdf", b"%PDF-1.7");
    write(
        root,
        "only-markup.html",
        b"<html><body><script>x()</script></body></html>",
    );
    write(root, ".hidden/secret.txt", b"should be skipped");
    write(root, ".DS_Store", b"junk");

    let inputs = [
        Input::Path(root.to_owned()),
        Input::Path(root.join("does-not-exist.txt")),
    ];
    let (collected, rejections, skipped_hidden) = collect_all(&inputs, &FilesConfig::default());

    let mut titles: Vec<&str> = collected.iter().map(|c| c.item.title.as_str()).collect();
    titles.sort();
    assert_eq!(
        titles,
        [
            "Plain heading",
            "README",
            "Sandworm notes",
            "Turla returns",
            "latin1"
        ]
    );
    assert_eq!(skipped_hidden, 2);

    assert_eq!(reason_for(&rejections, "empty.txt"), Some(&RejectReason::Empty));
    assert_eq!(reason_for(&rejections, "blank.md"), Some(&RejectReason::Empty));
    assert!(
        matches!(reason_for(&rejections, "tool.exe.txt"), Some(RejectReason::Binary(m)) if m.contains("NUL byte at offset 3"))
    );
    assert!(
        matches!(reason_for(&rejections, "slides.pdf"), Some(RejectReason::UnsupportedType { extension }) if extension == "pdf")
    );
    assert!(matches!(
        reason_for(&rejections, "only-markup.html"),
        Some(RejectReason::NoText { .. })
    ));
    assert_eq!(
        reason_for(&rejections, "does-not-exist.txt"),
        Some(&RejectReason::NotFound)
    );
    assert_eq!(rejections.len(), 6, "{rejections:#?}");

    let latin = collected
        .iter()
        .find(|c| c.input.ends_with("latin1.txt"))
        .expect("latin1 collected");
    assert!(
        latin.notes.iter().any(|n| n.contains("windows-1252")),
        "{:?}",
        latin.notes
    );
    let html = collected
        .iter()
        .find(|c| c.format == DocumentFormat::Html)
        .expect("html");
    assert_eq!(html.item.text, "Turla used Kazuar.");
    assert!(
        html.item.canonical_url.starts_with("file:///") && html.item.canonical_url.ends_with("a/report.html")
    );
    assert_eq!(
        html.item.tlp,
        Tlp::Green,
        "items take the source's default marking"
    );
    let readme = collected
        .iter()
        .find(|c| c.input.ends_with("README"))
        .expect("readme");
    assert_eq!(readme.format, DocumentFormat::PlainText);
}

#[test]
fn hidden_entries_are_read_when_asked_or_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), ".notes/a.txt", b"hidden notes");
    let config = FilesConfig {
        include_hidden: true,
        ..Default::default()
    };
    assert_eq!(
        collect_all(&[Input::Path(dir.path().to_owned())], &config)
            .0
            .len(),
        1
    );
    let named = [Input::Path(dir.path().join(".notes/a.txt"))];
    assert_eq!(collect_all(&named, &FilesConfig::default()).0.len(), 1);
}

#[test]
fn files_over_the_limit_are_rejected_unread() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "big.txt", &b"x".repeat(101));
    let config = FilesConfig {
        max_file_bytes: 100,
        ..Default::default()
    };
    let (collected, rejections, _) = collect_all(&[Input::Path(dir.path().to_owned())], &config);
    assert!(collected.is_empty());
    assert_eq!(
        rejections[0].reason,
        RejectReason::TooLarge {
            size: 101,
            limit: 100
        }
    );
    assert!(
        rejections[0].to_string().contains("over the limit of 100 bytes"),
        "{}",
        rejections[0]
    );
}

#[test]
fn one_file_named_two_ways_has_one_identity() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "sub/r.md", b"# R\n\ntext");
    let direct = Candidate::File(dir.path().join("sub/r.md"));
    let roundabout = Candidate::File(dir.path().join("sub/../sub/./r.md"));
    let config = FilesConfig::default();
    let a = collect(&direct, &source(), &config, Utc::now()).expect("direct");
    let b = collect(&roundabout, &source(), &config, Utc::now()).expect("roundabout");
    assert_eq!(a.item.canonical_url, b.item.canonical_url);
}

#[cfg(unix)]
#[test]
fn unreadable_files_and_symlink_loops_are_rejected_not_fatal() {
    use std::os::unix::fs::{PermissionsExt, symlink};
    let dir = tempfile::tempdir().expect("tempdir");
    write(dir.path(), "ok.txt", b"fine");
    write(dir.path(), "locked.txt", b"secret");
    fs::set_permissions(dir.path().join("locked.txt"), fs::Permissions::from_mode(0o000)).expect("chmod");
    symlink(dir.path(), dir.path().join("loop")).expect("symlink");
    let (collected, rejections, _) =
        collect_all(&[Input::Path(dir.path().to_owned())], &FilesConfig::default());
    assert_eq!(
        collected.len(),
        1 + usize::from(running_as_root()),
        "root can read a 000 file"
    );
    assert!(
        rejections.iter().any(|r| r.input.ends_with("loop")),
        "{rejections:#?}"
    );
}

#[cfg(unix)]
fn running_as_root() -> bool {
    fs::File::open("/proc/self/status")
        .ok()
        .and_then(|mut f| {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut f, &mut s).ok()?;
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}
