//! The newsletter end to end: the public "Get informed" form, double opt-in, topics and
//! clearance, one-click unsubscription and digests, sent by `threatdesk serve` to a real
//! SMTP server process (Python's aiosmtpd) on loopback, which refuses, drops connections
//! and rejects recipients on cue.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Workspace;
use crate::serve::{Client, Server};

/// An SMTP server that stores each accepted message as `NNNN.eml` in a folder, answers
/// `451` to every message while a `refuse` file is there, and `550` to recipients whose
/// address starts with `reject`.
const SMTP_SERVER: &str = r#"
import os, sys, time
from aiosmtpd.controller import Controller
port, folder = int(sys.argv[1]), sys.argv[2]
class Store:
    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.startswith("reject"):
            return "550 5.1.1 No such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        if os.path.exists(os.path.join(folder, "refuse")):
            return "451 4.3.0 Try again later"
        n = len([f for f in os.listdir(folder) if f.endswith(".eml")])
        path = os.path.join(folder, "%04d.eml" % n)
        with open(path + ".part", "wb") as f:
            f.write(envelope.original_content)
        os.rename(path + ".part", path)
        return "250 OK"
controller = Controller(Store(), hostname="127.0.0.1", port=port)
controller.start()
print("ready", flush=True)
while True:
    time.sleep(3600)
"#;

/// Prints a stored message as JSON: headers, and the decoded text and HTML parts.
const READ_MAIL: &str = r#"
import email, email.policy, json, sys
m = email.message_from_binary_file(open(sys.argv[1], "rb"), policy=email.policy.default)
text = m.get_body(("plain",))
html = m.get_body(("html",))
print(json.dumps({
    "to": str(m["To"]), "subject": str(m["Subject"]), "message_id": str(m["Message-ID"]),
    "list_unsubscribe": str(m["List-Unsubscribe"] or ""), "list_unsubscribe_post": str(m["List-Unsubscribe-Post"] or ""),
    "multipart": m.get_content_type(),
    "text": text.get_content() if text else "", "html": html.get_content() if html else "",
}))
"#;

struct SmtpServer {
    child: Child,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_smtp(python: &Path, port: u16, folder: &Path) -> SmtpServer {
    let mut child = Command::new(python)
        .args([
            "-c",
            SMTP_SERVER,
            &port.to_string(),
            folder.to_str().expect("path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start aiosmtpd");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().expect("stdout")),
        &mut line,
    )
    .expect("read");
    assert_eq!(line.trim(), "ready");
    SmtpServer { child }
}

/// Accepts connections on `port` and closes them at once, until told to stop.
fn start_dropping(port: u16) -> (Arc<AtomicBool>, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind the dropping listener");
    listener.set_nonblocking(true).expect("nonblocking");
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let handle = std::thread::spawn(move || {
        while !flag.load(Ordering::SeqCst) {
            if let Ok((stream, _)) = listener.accept() {
                drop(stream);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    (stop, handle)
}

fn messages(folder: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
        .expect("read the mail folder")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    files.sort();
    files
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read_mail(python: &Path, path: &Path) -> Value {
    let out = Command::new(python)
        .args(["-c", READ_MAIL, path.to_str().expect("path")])
        .output()
        .expect("parse the message");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON")
}

fn publish(ws: &Workspace, title: &str, tlp: &str, tag: &str, publish: bool) {
    let notes = ws.write("notes.md", "Block the sender domains **today**.");
    let notes = notes.to_str().expect("path");
    crate::create_bulletin(ws, title, tlp, &["--notes-file", notes, "--tag", tag], publish);
}

fn mail_log(ws: &Workspace) -> Vec<Value> {
    ws.json(&["newsletter", "log", "--format", "json"])
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn subscriber_mail(files: &[PathBuf], python: &Path) -> Vec<Value> {
    files.iter().map(|f| read_mail(python, f)).collect()
}

#[test]
fn subscribers_confirm_then_get_what_they_asked_for_within_clearance_exactly_once() {
    let Some(python) = crate::py_tools("aiosmtpd") else {
        return;
    };
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let folder = ws.dir.path().join("mailbox");
    std::fs::create_dir_all(&folder).expect("mkdir");
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let smtp_url = format!("smtp://127.0.0.1:{port}");
    let env = [
        ("THREATDESK_NEWSLETTER__SMTP_URL", smtp_url.as_str()),
        ("THREATDESK_NEWSLETTER__SEND_INTERVAL_SECS", "0.2"),
        ("THREATDESK_NEWSLETTER__RETRY_BASE_SECS", "0.2"),
        ("THREATDESK_NEWSLETTER__FROM", "Example CERT <cert@example.org>"),
    ];
    let server = Server::start_with(&ws, &env);
    let mut visitor = Client::new(&server);
    let home = visitor.get("/");
    assert!(home.body.contains("Get informed") && home.body.contains("action=\"/newsletter/subscribe\""));

    // A bad address is refused and stores nothing.
    let bad = visitor.post(
        "/newsletter/subscribe",
        &[("email", "not an address"), ("cadence", "daily")],
    );
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(
        ws.json(&["newsletter", "list", "--format", "json"]),
        serde_json::json!([])
    );

    // The SMTP server drops every connection at first: the confirmation stays queued.
    let (stop_dropping, dropping) = start_dropping(port);
    let subscribed = visitor.post(
        "/newsletter/subscribe",
        &[
            ("email", "alice@example.org"),
            ("cadence", "immediate"),
            ("tags", "phishing"),
        ],
    );
    assert_eq!(subscribed.status, 200, "{}", subscribed.body);
    assert!(subscribed.body.contains("Check your inbox"));
    wait_for("two failed attempts", || {
        mail_log(&ws)
            .first()
            .is_some_and(|m| m["status"] == "queued" && m["attempts"].as_u64() >= Some(2))
    });
    let log = mail_log(&ws);
    assert_eq!(log.len(), 1);
    assert!(
        log[0]["last_error"].as_str().is_some_and(|e| !e.is_empty()),
        "{log:?}"
    );
    stop_dropping.store(true, Ordering::SeqCst);
    dropping.join().expect("join");

    // A real server comes up: the confirmation arrives once.
    let _smtp = start_smtp(&python, port, &folder);
    wait_for("the confirmation request", || messages(&folder).len() == 1);
    let confirm = read_mail(&python, &messages(&folder)[0]);
    assert_eq!(confirm["to"], "alice@example.org");
    assert!(confirm["subject"].as_str().is_some_and(|s| s.contains("Confirm")));
    let text = confirm["text"].as_str().expect("text");
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/newsletter/confirm?token="))
        .expect("a confirmation link");
    let path = &link[link.find("/newsletter").expect("path")..];
    let token = path.split("token=").nth(1).expect("token");
    let page = visitor.get(path);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Confirm my subscription"),
        "a button, not an automatic confirmation"
    );
    let tampered = visitor.post("/newsletter/confirm", &[("token", &format!("{token}x"))]);
    assert_eq!(tampered.status, 400);
    let confirmed = visitor.post("/newsletter/confirm", &[("token", token)]);
    assert_eq!(confirmed.status, 200);
    assert!(confirmed.body.contains("You are subscribed"));
    let subscriptions = ws.json(&["newsletter", "list", "--format", "json"]);
    assert!(subscriptions[0]["confirmed_at"].is_string());
    assert_eq!(subscriptions[0]["tlp_ceiling"], "CLEAR");

    // An address the SMTP server rejects for good: marked failed, never retried.
    let added = ws.run(&[
        "newsletter",
        "add",
        "reject-me@example.org",
        "--cadence",
        "immediate",
        "--confirmed",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);

    // Only the published, CLEAR, tagged bulletin reaches alice.
    publish(&ws, "Clear phishing alert", "clear", "phishing", true);
    publish(&ws, "Clear note on patching", "clear", "patching", true);
    publish(
        &ws,
        "Green phishing details for members",
        "green",
        "phishing",
        true,
    );
    publish(&ws, "Clear phishing draft", "clear", "phishing", false);
    wait_for("the bulletin", || messages(&folder).len() == 2);
    std::thread::sleep(Duration::from_millis(1500));
    let received = subscriber_mail(&messages(&folder), &python);
    assert_eq!(received.len(), 2, "nothing else arrives");
    let bulletin = &received[1];
    assert_eq!(bulletin["subject"], "[TLP:CLEAR] Clear phishing alert");
    assert_eq!(bulletin["multipart"], "multipart/alternative");
    assert!(
        bulletin["text"]
            .as_str()
            .is_some_and(|t| t.contains("Analyst Notes") && t.contains("**today**"))
    );
    assert!(
        bulletin["html"]
            .as_str()
            .is_some_and(|h| h.contains("<strong>today</strong>"))
    );
    assert_eq!(bulletin["list_unsubscribe_post"], "List-Unsubscribe=One-Click");
    let unsubscribe = bulletin["list_unsubscribe"]
        .as_str()
        .and_then(|v| v.strip_prefix('<'))
        .and_then(|v| v.strip_suffix('>'))
        .expect("a List-Unsubscribe URL")
        .to_owned();
    for leak in ["Green phishing", "Clear phishing draft", "Clear note on patching"] {
        assert!(
            !received.iter().any(|m| m.to_string().contains(leak)),
            "{leak} reached alice"
        );
    }
    wait_for("the permanent refusal", || {
        mail_log(&ws)
            .iter()
            .any(|m| m["email"] == "reject-me@example.org" && m["status"] == "failed")
    });
    let refused = mail_log(&ws)
        .into_iter()
        .find(|m| m["email"] == "reject-me@example.org")
        .expect("the rejected message");
    assert_eq!(refused["attempts"], 1, "a permanent refusal is not retried");
    assert!(
        refused["last_error"].as_str().is_some_and(|e| e.contains("550")),
        "{refused}"
    );

    // The server refuses for a while (451): the message waits and arrives once afterwards.
    std::fs::write(folder.join("refuse"), "").expect("refuse");
    publish(&ws, "Second clear phishing alert", "clear", "phishing", true);
    wait_for("retries under 451", || {
        mail_log(&ws).iter().any(|m| {
            m["email"] == "alice@example.org"
                && m["status"] == "queued"
                && m["attempts"].as_u64() >= Some(2)
                && m["last_error"].as_str().is_some_and(|e| e.contains("451"))
        })
    });
    assert_eq!(messages(&folder).len(), 2);
    std::fs::remove_file(folder.join("refuse")).expect("accept again");
    wait_for("the retried message", || messages(&folder).len() == 3);
    std::thread::sleep(Duration::from_millis(1500));
    let received = subscriber_mail(&messages(&folder), &python);
    assert_eq!(received.len(), 3);
    assert_eq!(received[2]["subject"], "[TLP:CLEAR] Second clear phishing alert");
    let ids: std::collections::BTreeSet<&str> =
        received.iter().filter_map(|m| m["message_id"].as_str()).collect();
    assert_eq!(ids.len(), 3);

    // One-click unsubscription (RFC 8058), as a mail client does it.
    let one_click = &unsubscribe[unsubscribe.find("/newsletter").expect("path")..];
    let left = visitor.request("POST", one_click, Some("List-Unsubscribe=One-Click"), &[]);
    assert_eq!(left.status, 200, "{}", left.body);
    publish(&ws, "Third clear phishing alert", "clear", "phishing", true);
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(messages(&folder).len(), 3, "nothing after unsubscribing");
    assert!(
        !mail_log(&ws)
            .iter()
            .any(|m| m["email"] == "alice@example.org" && m["status"] == "queued")
    );

    // A daily digest for a GREEN-cleared address: CLEAR and GREEN, never AMBER or RED.
    let added = ws.run(&[
        "newsletter",
        "add",
        "bob@example.org",
        "--cadence",
        "daily",
        "--tlp-ceiling",
        "GREEN",
        "--confirmed",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    publish(&ws, "Digest clear one", "clear", "ransomware", true);
    publish(&ws, "Digest green two", "green", "ransomware", true);
    publish(&ws, "Digest amber three", "amber", "ransomware", true);
    publish(&ws, "Digest strict amber", "amber+strict", "ransomware", true);
    publish(&ws, "Digest clear draft", "clear", "ransomware", false);
    publish(&ws, "Digest red four", "red", "ransomware", true);
    let send = |ws: &Workspace| {
        let mut command = ws.command(&["newsletter", "send", "--all-digests", "--format", "json"]);
        command.envs(env.iter().copied());
        let out = command.output().expect("run newsletter send");
        serde_json::from_slice::<Value>(&out.stdout).unwrap_or(Value::Null)
    };
    let first = send(&ws);
    assert!(first["planned"].as_u64() >= Some(1), "{first}");
    wait_for("the digest", || messages(&folder).len() == 4);
    let second = send(&ws);
    assert_eq!(second["planned"], 0, "a digest is planned once: {second}");
    std::thread::sleep(Duration::from_millis(1000));
    let received = subscriber_mail(&messages(&folder), &python);
    assert_eq!(received.len(), 4);
    let digest = &received[3];
    assert_eq!(digest["to"], "bob@example.org");
    let digest_text = digest["text"].as_str().expect("text");
    assert!(digest_text.contains("Digest clear one") && digest_text.contains("Digest green two"));
    assert!(digest_text.contains("TLP:GREEN"));
    for leak in [
        "Digest amber three",
        "Digest strict amber",
        "Digest red four",
        "Digest clear draft",
    ] {
        assert!(
            !digest.to_string().contains(leak),
            "{leak} reached a GREEN address"
        );
    }
    // `status` counts subscriptions and messages.
    let status = ws.json(&["status", "--format", "json"]);
    assert_eq!(status["subscriptions"]["unsubscribed"], 1, "{status}");
    assert_eq!(status["subscriptions"]["active"], 2, "{status}");
    assert_eq!(status["mail"]["sent"], 4, "{status}");
    assert!(status["mail"]["failed"].as_u64() >= Some(1), "{status}");
    drop(server);
}

#[test]
fn admins_see_subscriptions_and_the_send_log_and_add_partner_addresses() {
    let ws = crate::serve::newsroom();
    let server = Server::start(&ws);
    let mut visitor = Client::new(&server);
    let asked = visitor.post(
        "/newsletter/subscribe",
        &[
            ("email", "carol@example.org"),
            ("cadence", "weekly"),
            ("entities", "Fancy Bear"),
        ],
    );
    assert_eq!(asked.status, 200, "{}", asked.body);
    let unknown = visitor.post(
        "/newsletter/subscribe",
        &[("email", "dave@example.org"), ("entities", "No Such Group")],
    );
    assert_eq!(unknown.status, 422, "unknown entities are refused");
    assert!(unknown.body.contains("No Such Group"));

    let mut analyst = Client::new(&server);
    assert_eq!(analyst.login("ana", "ana-password-1").status, 303);
    assert_eq!(analyst.get("/desk/newsletter").status, 403);

    let mut admin = Client::new(&server);
    assert_eq!(admin.login("adm", "adm-password-1").status, 303);
    let page = admin.get("/desk/newsletter");
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("No SMTP server is set"),
        "nothing is sent, and the page says so"
    );
    assert!(page.body.contains("carol@example.org") && page.body.contains("pending"));
    assert!(
        page.body.contains("confirm"),
        "the confirmation request waits in the log"
    );
    let forged = admin.post(
        "/desk/newsletter",
        &[
            ("csrf", "forged"),
            ("email", "partner@example.org"),
            ("cadence", "daily"),
            ("tlp_ceiling", "GREEN"),
        ],
    );
    assert_eq!(forged.status, 403);
    let csrf = admin.get("/desk/newsletter").field("csrf");
    let added = admin.post(
        "/desk/newsletter",
        &[
            ("csrf", &csrf),
            ("email", "partner@example.org"),
            ("cadence", "daily"),
            ("tlp_ceiling", "GREEN"),
            ("confirmed", "yes"),
        ],
    );
    assert_eq!(added.status, 303, "{}", added.body);
    let listed = ws.json(&["newsletter", "list", "--format", "json"]);
    let partner = listed
        .as_array()
        .and_then(|l| l.iter().find(|s| s["email"] == "partner@example.org"))
        .cloned()
        .expect("the partner");
    assert_eq!(partner["tlp_ceiling"], "GREEN");
    assert!(partner["confirmed_at"].is_string());
    let carol = listed
        .as_array()
        .and_then(|l| l.iter().find(|s| s["email"] == "carol@example.org"))
        .cloned()
        .expect("carol");
    assert_eq!(
        carol["topics"]["entity_ids"].as_array().map(Vec::len),
        Some(1),
        "Fancy Bear resolved"
    );
    let id = partner["id"].as_i64().expect("id");
    let ended = admin.post(&format!("/desk/newsletter/{id}/unsubscribe"), &[("csrf", &csrf)]);
    assert_eq!(ended.status, 303);
    let listed = ws.json(&["newsletter", "list", "--format", "json"]);
    assert!(listed.as_array().is_some_and(|l| {
        l.iter()
            .any(|s| s["email"] == "partner@example.org" && s["unsubscribed_at"].is_string())
    }));
}
