//! `threatdesk serve` over real HTTP on loopback, with a real data folder: accounts, CSRF,
//! roles, TLP ceilings, sanitising and the bulletin workflow.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::Duration;

use crate::Workspace;

/// A running `threatdesk serve` and what it printed at start.
pub(crate) struct Server {
    child: Child,
    pub(crate) address: String,
    admin_password: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start(ws: &Workspace) -> Server {
        Server::start_with(ws, &[])
    }

    /// Starts with extra environment (configuration) variables.
    pub(crate) fn start_with(ws: &Workspace, env: &[(&str, &str)]) -> Server {
        let mut command = ws.command(&["serve", "--listen", "127.0.0.1:0", "--no-collect"]);
        command.envs(env.iter().copied());
        let mut child = command
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn serve");
        let stderr = child.stderr.take().expect("stderr");
        let mut lines = BufReader::new(stderr).lines();
        let mut admin_password = String::new();
        let address = loop {
            let line = lines
                .next()
                .expect("serve printed its address before exiting")
                .expect("read stderr");
            if let Some(rest) = line.split("with the password ").nth(1) {
                admin_password = rest.trim().to_owned();
            }
            if let Some(rest) = line.split("workspace at http://").nth(1) {
                break rest.split('/').next().expect("address").to_owned();
            }
        };
        // Keep draining stderr so that the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines.by_ref() {});
        Server {
            child,
            address,
            admin_password,
        }
    }
}

/// One HTTP response.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: String,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The value of the first input named `name` in the page.
    pub(crate) fn field(&self, name: &str) -> String {
        let marker = format!("name=\"{name}\"");
        let start = self
            .body
            .find(&marker)
            .unwrap_or_else(|| panic!("no field {name} in {}", self.body));
        let tag = &self.body[start..];
        let tag = &tag[..tag.find('>').unwrap_or(tag.len())];
        tag.split("value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_default()
            .to_owned()
    }
}

/// A browser-like client: keeps cookies, speaks HTTP/1.1 with `Connection: close`.
pub(crate) struct Client {
    address: String,
    cookies: HashMap<String, String>,
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn form(fields: &[(&str, &str)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    pub(crate) fn new(server: &Server) -> Client {
        Client {
            address: server.address.clone(),
            cookies: HashMap::new(),
        }
    }

    pub(crate) fn request(
        &mut self,
        method: &str,
        path: &str,
        body: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Response {
        let mut stream = TcpStream::connect(&self.address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let cookie = self
            .cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n",
            self.address
        );
        if !cookie.is_empty() {
            request.push_str(&format!("Cookie: {cookie}\r\n"));
        }
        for (name, value) in extra {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            request.push_str(&format!(
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        request.push_str("\r\n");
        request.push_str(body.unwrap_or_default());
        stream.write_all(request.as_bytes()).expect("send");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (head, rest) = text.split_once("\r\n\r\n").expect("a complete response");
        let mut lines = head.lines();
        let status: u16 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|s| s.parse().ok())
            .expect("status");
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
        let body = if chunked { dechunk(rest) } else { rest.to_owned() };
        for (name, value) in &headers {
            if name.eq_ignore_ascii_case("set-cookie")
                && let Some((pair, _)) = value.split_once(';')
                && let Some((k, v)) = pair.split_once('=')
            {
                if v.is_empty() {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_owned(), v.to_owned());
                }
            }
        }
        Response {
            status,
            headers,
            body,
        }
    }

    pub(crate) fn get(&mut self, path: &str) -> Response {
        self.request("GET", path, None, &[])
    }

    pub(crate) fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Response {
        self.request("POST", path, Some(&form(fields)), &[])
    }

    pub(crate) fn login(&mut self, username: &str, password: &str) -> Response {
        let page = self.get("/desk/login");
        assert_eq!(page.status, 200, "{page:?}");
        let csrf = page.field("csrf");
        self.post(
            "/desk/login",
            &[
                ("username", username),
                ("password", password),
                ("csrf", &csrf),
                ("next", "/desk/bulletins"),
            ],
        )
    }

    /// The session's CSRF token, read from any logged-in page.
    pub(crate) fn csrf(&mut self) -> String {
        self.get("/desk/bulletins").field("csrf")
    }
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

pub(crate) const EVIL_PAGE: &str = r#"<html><head><title>Fancy Bear targets ministries</title></head><body><article>
<h1>Fancy Bear targets ministries</h1>
<p>APT28 sent phishing e-mails from evil[.]example and 198.51.100.7 to foreign ministries.
<img src="x" onerror="alert('img')"> <a href="javascript:alert('link')">details</a></p>
<script>alert('script')</script>
<p>The campaign used a new loader and stole credentials; the ministries were warned and the
servers were taken down by the hosting provider after the report was published this week.</p>
</article></body></html>"#;

pub(crate) fn add_user(ws: &Workspace, name: &str, role: &str, extra: &[&str]) {
    let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
    args.extend_from_slice(extra);
    let run = ws.run_with_stdin(&args, format!("{name}-password-1\n").as_bytes());
    assert_eq!(run.code, 0, "{}", run.stderr);
}

/// A data folder with a public page full of script payloads, a TLP:RED note, and one
/// account per role.
pub(crate) fn newsroom() -> Workspace {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let page = ws.write("in/evil.html", EVIL_PAGE);
    let run = ws.run(&["ingest", page.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let secret = ws.write(
        "in/secret.txt",
        "Red channel: the insider at the ministry\n\nOnly named recipients may read about the insider \
         who leaked the ministry's VPN credentials to the operators last week.",
    );
    let run = ws.run(&[
        "ingest",
        "--tlp",
        "RED",
        "--source",
        "partners",
        secret.to_str().expect("path"),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    add_user(&ws, "ana", "analyst", &[]);
    add_user(&ws, "ed", "editor", &[]);
    add_user(&ws, "rea", "reader", &["--tlp-ceiling", "AMBER"]);
    add_user(&ws, "adm", "admin", &[]);
    ws
}

#[test]
fn anonymous_requests_are_refused_and_logins_need_the_right_password_and_token() {
    let ws = newsroom();
    let server = Server::start(&ws);
    assert!(
        server.admin_password.is_empty(),
        "a folder with accounts gets no new admin"
    );
    let mut anonymous = Client::new(&server);
    for path in [
        "/desk/",
        "/desk/stories/1",
        "/desk/items/1",
        "/desk/bulletins",
        "/desk/bulletins/new",
        "/desk/account/tokens",
    ] {
        let response = anonymous.get(path);
        assert_eq!(response.status, 303, "{path}: {response:?}");
        assert!(
            response
                .header("location")
                .is_some_and(|l| l.starts_with("/desk/login?next=")),
            "{path}: {response:?}"
        );
    }
    assert_eq!(anonymous.get("/desk/api/me").status, 401);
    assert_eq!(anonymous.post("/desk/bulletins", &[("title", "x")]).status, 401);
    assert_eq!(anonymous.get("/healthz").status, 200);
    let login = anonymous.get("/desk/login");
    let csp = login.header("content-security-policy").expect("a CSP header");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );

    // No login-form cookie, or a forged token: refused before the password is looked at.
    let mut forger = Client::new(&server);
    let refused = forger.post(
        "/desk/login",
        &[
            ("username", "ana"),
            ("password", "ana-password-1"),
            ("csrf", "forged"),
        ],
    );
    assert_eq!(refused.status, 403);
    assert!(!forger.cookies.contains_key("td_session"));

    let mut client = Client::new(&server);
    let wrong = client.login("ana", "not-her-password");
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("Wrong user name or password"));
    let ok = client.login("ana", "ana-password-1");
    assert_eq!(ok.status, 303, "{ok:?}");
    let cookie = ok
        .headers
        .iter()
        .find(|(k, v)| k.eq_ignore_ascii_case("set-cookie") && v.starts_with("td_session="))
        .map(|(_, v)| v.clone())
        .expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert_eq!(client.get("/desk/").status, 200);

    // Logging out ends the session on the server, not only in the browser.
    let stolen = client.cookies.clone();
    let csrf = client.csrf();
    assert_eq!(client.post("/desk/logout", &[("csrf", &csrf)]).status, 303);
    let mut replay = Client::new(&server);
    replay.cookies = stolen;
    assert_eq!(replay.get("/desk/").status, 303);
}

#[test]
fn the_first_serve_of_a_fresh_folder_creates_it_and_an_admin_whose_password_is_printed_once() {
    let ws = Workspace::create();
    let server = Server::start(&ws);
    assert_eq!(
        server.admin_password.len(),
        20,
        "a generated admin password was printed"
    );
    let mut admin = Client::new(&server);
    assert_eq!(admin.login("admin", &server.admin_password).status, 303);
    assert_eq!(admin.get("/desk/").status, 200);
    drop(server);
    let again = Server::start(&ws);
    assert!(
        again.admin_password.is_empty(),
        "the password is printed only once"
    );
    let list = ws.run(&["user", "list"]);
    assert_eq!(list.stdout.lines().count(), 1, "{}", list.stdout);
}

#[test]
fn serve_collects_in_the_background_and_stops_cleanly_on_sigterm() {
    use threatdesk_testkit::{HttpServer, Reply};
    let feed = HttpServer::start().expect("loopback server");
    let article = "<html><head><title>Sandworm hits a water utility</title></head><body><article>\
        <h1>Sandworm hits a water utility</h1><p>Sandworm operators disrupted a regional water utility's \
        control systems, according to the utility's incident responders, who restored service within hours \
        and shared the indicators with the national CERT for the sector.</p></article></body></html>";
    feed.route("/story", Reply::ok("text/html; charset=utf-8", article));
    let rss = format!(
        "<rss version=\"2.0\"><channel><title>Loopback</title><item><title>Sandworm hits a water utility</title>\
         <link>{}</link><guid>story</guid><description>Sandworm and the water utility.</description></item>\
         </channel></rss>",
        feed.url("/story")
    );
    feed.route("/feed.xml", Reply::ok("application/rss+xml", rss));
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let added = ws.run(&[
        "sources",
        "add",
        &feed.url("/feed.xml"),
        "--name",
        "loopback",
        "--allow-private",
    ]);
    assert_eq!(added.code, 0, "{}", added.stderr);
    add_user(&ws, "ana", "analyst", &[]);
    let mut child = ws
        .command(&["serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let address = loop {
        let line = lines.next().expect("an address").expect("stderr");
        if let Some(rest) = line.split("workspace at http://").nth(1) {
            break rest.split('/').next().expect("address").to_owned();
        }
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    let server = Server {
        child,
        address,
        admin_password: String::new(),
    };
    let mut client = Client::new(&server);
    assert_eq!(client.login("ana", "ana-password-1").status, 303);
    let started = std::time::Instant::now();
    while !client
        .get("/desk/?days=0")
        .body
        .contains("Sandworm hits a water utility")
    {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the collector never delivered the story"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(
        !feed.hits("/story").is_empty(),
        "the article page was fetched for its full text"
    );

    let mut server = server;
    let pid = server.child.id().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "serve did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(0));
    let said: Vec<String> = receiver.try_iter().collect();
    assert!(said.iter().any(|l| l.contains("threatdesk: stopped")), "{said:?}");
}

#[test]
fn repeated_failed_logins_are_throttled_even_with_the_right_password_then() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    for _ in 0..5 {
        assert_eq!(client.login("ed", "guess-guess").status, 401);
    }
    let blocked = client.login("ed", "ed-password-1");
    assert_eq!(blocked.status, 429, "{blocked:?}");
    let wait: u64 = blocked
        .header("retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!(wait > 0 && wait <= 900, "{wait}");
    // Other accounts are not locked out by it.
    let mut other = Client::new(&server);
    assert_eq!(other.login("ana", "ana-password-1").status, 303);
}

#[test]
fn script_in_collected_pages_never_reaches_the_page() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    assert_eq!(client.login("ana", "ana-password-1").status, 303);
    let inbox = client.get("/desk/?days=0");
    assert_eq!(inbox.status, 200);
    let start = inbox.body.find("/desk/stories/").expect("a story in the inbox") + "/desk/stories/".len();
    let story: String = inbox.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let story_page = client.get(&format!("/desk/stories/{story}"));
    assert_eq!(story_page.status, 200);
    assert!(
        story_page.body.contains("198.51.100.7"),
        "the indicator is rolled up"
    );
    let start = story_page.body.find("/desk/items/").expect("an item link") + "/desk/items/".len();
    let item: String = story_page.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let page = client.get(&format!("/desk/items/{item}"));
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<mark class=\"entity\""),
        "entities are highlighted"
    );
    for payload in ["alert(", "onerror", "javascript:", "<img"] {
        assert!(!page.body.contains(payload), "{payload} reached the item page");
        assert!(
            !story_page.body.contains(payload),
            "{payload} reached the story page"
        );
    }
    // Bulletin Markdown with raw HTML is sanitised too (preview and the saved bulletin).
    let csrf = client.csrf();
    let preview = client.post(
        "/desk/bulletins/preview",
        &[
            ("csrf", &csrf),
            (
                "markdown",
                "**bold** <script>alert(1)</script><img src=x onerror=alert(2)>",
            ),
        ],
    );
    assert_eq!(preview.status, 200);
    assert!(preview.body.contains("<strong>bold</strong>"));
    assert!(
        !preview.body.contains("<script") && !preview.body.contains("onerror"),
        "{}",
        preview.body
    );
}

#[test]
fn a_bulletin_goes_from_draft_to_review_to_published_and_tlp_ceilings_hold_everywhere() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut analyst = Client::new(&server);
    assert_eq!(analyst.login("ana", "ana-password-1").status, 303);

    // The analyst (up to AMBER+STRICT) never sees the RED note: not in the inbox, not by id.
    let inbox = analyst.get("/desk/?days=0");
    assert!(inbox.body.contains("Fancy Bear targets ministries"));
    assert!(
        !inbox.body.contains("insider"),
        "RED content in an AMBER+STRICT inbox"
    );
    let red_item = (1..=2)
        .map(|id| (id, analyst.get(&format!("/desk/items/{id}"))))
        .find(|(_, r)| r.status == 404)
        .map(|(id, _)| id);
    assert!(red_item.is_some(), "the RED item is 'not found' for the analyst");

    // A draft from the story: pre-filled from it.
    let start = inbox.body.find("/desk/stories/").expect("story") + "/desk/stories/".len();
    let story: String = inbox.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let form = analyst.get(&format!("/desk/bulletins/new?story={story}"));
    assert_eq!(form.status, 200);
    assert_eq!(form.field("title"), "Fancy Bear targets ministries");
    assert_eq!(form.field("stories"), story);
    assert!(
        form.field("entities").contains("APT28"),
        "entities pre-filled from the story"
    );
    let csrf = form.field("csrf");
    let fields = |csrf: &str, version: &str, notes: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            (
                "title".to_owned(),
                "Fancy Bear phishes foreign ministries".to_owned(),
            ),
            ("kind".to_owned(), "news".to_owned()),
            ("tlp".to_owned(), "AMBER".to_owned()),
            ("severity".to_owned(), "high".to_owned()),
            (
                "summary".to_owned(),
                "APT28 sent phishing e-mails to foreign ministries.".to_owned(),
            ),
            ("analyst_notes".to_owned(), notes.to_owned()),
            ("tags".to_owned(), "phishing, government".to_owned()),
            ("stories".to_owned(), story.clone()),
            ("version".to_owned(), version.to_owned()),
        ]
    };
    let post = |client: &mut Client, path: &str, fields: Vec<(String, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        client.post(path, &borrowed)
    };

    // Forged and missing CSRF tokens are refused, and nothing is saved.
    let forged = post(&mut analyst, "/desk/bulletins", fields("forged", "", "x"));
    assert_eq!(forged.status, 403);
    let missing = analyst.post("/desk/bulletins", &[("title", "No token")]);
    assert_eq!(missing.status, 403);
    assert!(analyst.get("/desk/bulletins").body.contains("No bulletins here"));

    let created = post(
        &mut analyst,
        "/desk/bulletins",
        fields(&csrf, "", "Expect follow-up **lures** in EU capitals."),
    );
    assert_eq!(created.status, 303, "{created:?}");
    let location = created.header("location").expect("location").to_owned();
    let shown = analyst.get(&location);
    assert!(
        shown.body.contains("<strong>lures</strong>"),
        "Analyst Notes rendered from Markdown"
    );
    assert!(shown.body.contains("draft"));

    // A second save is version 2; a save from the stale version 1 is refused, not merged.
    let saved = post(
        &mut analyst,
        &location,
        fields(&csrf, "1", "Expect follow-up lures. Block the sender domains."),
    );
    assert_eq!(saved.status, 303, "{saved:?}");
    let stale = post(
        &mut analyst,
        &location,
        fields(&csrf, "1", "An edit from an old tab."),
    );
    assert_eq!(stale.status, 409, "{stale:?}");
    let versions = analyst.get(&format!("{location}/versions?from=1&to=2"));
    assert!(
        versions
            .body
            .contains("+ Expect follow-up lures. Block the sender domains."),
        "{}",
        versions.body
    );
    assert!(
        versions
            .body
            .contains("- Expect follow-up **lures** in EU capitals.")
    );

    // A RED marking is above the analyst's clearance.
    let mut red = fields(&csrf, "", "x");
    red[1].1 = "Too secret".to_owned();
    red[3].1 = "RED".to_owned();
    assert_eq!(post(&mut analyst, "/desk/bulletins", red).status, 422);

    // Review: the analyst submits but cannot publish.
    let submit = analyst.post(
        &format!("{location}/status"),
        &[("csrf", &csrf), ("status", "in_review")],
    );
    assert_eq!(submit.status, 303);
    let publish = analyst.post(
        &format!("{location}/status"),
        &[("csrf", &csrf), ("status", "published")],
    );
    assert_eq!(publish.status, 403);

    // A reader does not see it before it is published, unless an editor shares the draft.
    let mut reader = Client::new(&server);
    assert_eq!(reader.login("rea", "rea-password-1").status, 303);
    assert_eq!(reader.get(&location).status, 404);
    assert_eq!(reader.get("/desk/").status, 403, "readers have no inbox");
    let share = analyst.post(
        &format!("{location}/share"),
        &[("csrf", &csrf), ("shared", "true")],
    );
    assert_eq!(share.status, 403, "sharing is an editor's");
    let mut early_editor = Client::new(&server);
    assert_eq!(early_editor.login("ed", "ed-password-1").status, 303);
    let early_csrf = early_editor.csrf();
    let shared = early_editor.post(
        &format!("{location}/share"),
        &[("csrf", &early_csrf), ("shared", "true")],
    );
    assert_eq!(shared.status, 303);
    assert_eq!(reader.get(&location).status, 200, "a shared draft is readable");
    assert!(
        reader
            .get("/desk/bulletins")
            .body
            .contains("Fancy Bear phishes foreign ministries")
    );
    let unshared = early_editor.post(
        &format!("{location}/share"),
        &[("csrf", &early_csrf), ("shared", "false")],
    );
    assert_eq!(unshared.status, 303);
    assert_eq!(reader.get(&location).status, 404);

    // The editor publishes it, and writes a RED draft of their own.
    let mut editor = Client::new(&server);
    assert_eq!(editor.login("ed", "ed-password-1").status, 303);
    let editor_csrf = editor.csrf();
    let published = editor.post(
        &format!("{location}/status"),
        &[("csrf", &editor_csrf), ("status", "published")],
    );
    assert_eq!(published.status, 303);
    let mut red = fields(&editor_csrf, "", "Named recipients only.");
    red[1].1 = "Insider at the ministry".to_owned();
    red[3].1 = "RED".to_owned();
    let red_draft = post(&mut editor, "/desk/bulletins", red);
    assert_eq!(red_draft.status, 303, "{red_draft:?}");
    let red_location = red_draft.header("location").expect("location").to_owned();

    let list = reader.get("/desk/bulletins");
    assert!(
        list.body.contains("Fancy Bear phishes foreign ministries"),
        "published and AMBER: visible"
    );
    assert!(
        !list.body.contains("Insider at the ministry"),
        "a RED draft listed for a reader"
    );
    assert_eq!(reader.get(&location).status, 200);
    assert_eq!(reader.get(&red_location).status, 404);
    // Sharing a RED draft does not lift anyone's ceiling.
    let shared = editor.post(
        &format!("{red_location}/share"),
        &[("csrf", &editor_csrf), ("shared", "true")],
    );
    assert_eq!(shared.status, 303);
    assert_eq!(reader.get(&red_location).status, 404);
    // Not for the AMBER+STRICT analyst either, even as a draft.
    assert_eq!(analyst.get(&red_location).status, 404);
    assert!(
        !analyst
            .get("/desk/bulletins")
            .body
            .contains("Insider at the ministry")
    );
}

#[test]
fn entity_pages_resolve_aliases_and_list_stories_and_the_sources_page_is_for_admins() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut analyst = Client::new(&server);
    assert_eq!(analyst.login("ana", "ana-password-1").status, 303);
    let found = analyst.get("/desk/entities?q=Fancy%20Bear");
    assert_eq!(found.status, 303, "one entity has this alias: {found:?}");
    let location = found.header("location").expect("location").to_owned();
    let page = analyst.get(&location);
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("<h1>APT28"),
        "the canonical name heads the page"
    );
    assert!(page.body.contains("Sofacy"), "aliases are listed");
    assert!(
        page.body.contains("Fancy Bear targets ministries"),
        "the story that mentions it"
    );
    assert_eq!(analyst.get("/desk/entities/999999999").status, 404);
    assert_eq!(analyst.get("/desk/sources").status, 403, "sources are an admin's");

    let mut admin = Client::new(&server);
    assert_eq!(admin.login("adm", "adm-password-1").status, 303);
    let sources = admin.get("/desk/sources");
    assert_eq!(sources.status, 200);
    assert!(sources.body.contains("local-files") && sources.body.contains("partners"));
    let csrf = admin.csrf();
    let start = sources.body.find("/desk/sources/").expect("a switch") + "/desk/sources/".len();
    let id: String = sources.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let forged = admin.post(
        &format!("/desk/sources/{id}/enabled"),
        &[("csrf", "x"), ("enabled", "false")],
    );
    assert_eq!(forged.status, 403);
    let off = admin.post(
        &format!("/desk/sources/{id}/enabled"),
        &[("csrf", &csrf), ("enabled", "false")],
    );
    assert_eq!(off.status, 303);
    assert!(
        admin
            .get("/desk/sources")
            .body
            .contains("<span class=\"badge\">disabled</span>")
    );
}

#[test]
fn the_inbox_filters_by_search_entity_source_and_marks() {
    let ws = newsroom();
    let other = ws.write(
        "in/lockbit.txt",
        "LockBit affiliates hit a regional hospital\n\nThe ransomware operators encrypted the hospital's \
         servers after exploiting an unpatched VPN appliance, and threatened to leak patient records.",
    );
    let run = ws.run(&["ingest", "--source", "vendor-blog", other.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    assert_eq!(client.login("ana", "ana-password-1").status, 303);
    let titles = |body: &str| {
        (
            body.contains("Fancy Bear targets ministries"),
            body.contains("LockBit affiliates hit a regional hospital"),
        )
    };
    let all = client.get("/desk/?days=0");
    assert_eq!(titles(&all.body), (true, true));
    assert!(all.body.contains("entity=APT28"), "an entity facet");
    assert_eq!(
        titles(&client.get("/desk/?days=0&q=ransomware").body),
        (false, true)
    );
    assert_eq!(
        titles(&client.get("/desk/?days=0&q=%22foreign+ministries%22").body),
        (true, false)
    );
    assert_eq!(
        titles(&client.get("/desk/?days=0&entity=APT28").body),
        (true, false)
    );
    assert_eq!(
        titles(&client.get("/desk/?days=0&source=vendor-blog").body),
        (false, true)
    );

    // Marks: opening a story marks it read; "important" is set by hand.
    let start = all.body.find("/desk/stories/").expect("a story") + "/desk/stories/".len();
    let first: String = all.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let opened = client.get(&format!("/desk/stories/{first}"));
    let first_is_lockbit = opened.body.contains("LockBit");
    let csrf = client.csrf();
    let marked = client.post(
        &format!("/desk/stories/{first}/mark"),
        &[("csrf", &csrf), ("important", "true"), ("back", "/desk/?days=0")],
    );
    assert_eq!(marked.status, 303);
    assert_eq!(marked.header("location"), Some("/desk/?days=0"));
    let important = titles(&client.get("/desk/?days=0&show=important").body);
    let unread = titles(&client.get("/desk/?days=0&show=unread").body);
    if first_is_lockbit {
        assert_eq!((important, unread), ((false, true), (true, false)));
    } else {
        assert_eq!((important, unread), ((true, false), (false, true)));
    }
    // Another analyst's marks are their own.
    add_user(&ws, "ana2", "analyst", &[]);
    let mut colleague = Client::new(&server);
    assert_eq!(colleague.login("ana2", "ana2-password-1").status, 303);
    assert_eq!(
        titles(&colleague.get("/desk/?days=0&show=unread").body),
        (true, true)
    );
}

#[test]
fn bulletin_entities_are_typed_by_any_alias_and_unknown_names_are_refused() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut analyst = Client::new(&server);
    assert_eq!(analyst.login("ana", "ana-password-1").status, 303);
    let csrf = analyst.csrf();
    let draft = |entities: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("title", "Sofacy again".to_owned()),
            ("tlp", "GREEN".to_owned()),
            ("entities", entities.to_owned()),
        ]
    };
    let post = |client: &mut Client, fields: Vec<(&str, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        client.post("/desk/bulletins", &borrowed)
    };
    let unknown = post(&mut analyst, draft("Fancy Bear, Nonexistent Thing"));
    assert_eq!(unknown.status, 422);
    assert!(unknown.body.contains("no entity is called"), "{}", unknown.body);
    assert_eq!(unknown.field("title"), "Sofacy again", "what was typed is kept");
    // "Sofacy" names the actor and two of its malware families: the analyst must choose.
    let ambiguous = post(&mut analyst, draft("Sofacy"));
    assert_eq!(ambiguous.status, 422);
    assert!(
        ambiguous.body.contains("may mean APT28 (threat_actor)"),
        "{}",
        ambiguous.body
    );
    let created = post(&mut analyst, draft("Fancy Bear, APT28"));
    assert_eq!(created.status, 303, "{created:?}");
    let page = analyst.get(created.header("location").expect("location"));
    assert_eq!(
        page.body.matches("href=\"/desk/entities/").count(),
        1,
        "two aliases, one entity"
    );
    assert!(page.body.contains(">APT28</a>"));
}

#[test]
fn admins_add_disable_enable_and_reset_accounts_in_the_browser() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut analyst = Client::new(&server);
    assert_eq!(analyst.login("ana", "ana-password-1").status, 303);
    assert_eq!(analyst.get("/desk/users").status, 403);
    let mut admin = Client::new(&server);
    assert_eq!(admin.login("adm", "adm-password-1").status, 303);
    let csrf = admin.csrf();
    let fields = |csrf: &str, name: &str| {
        vec![
            ("csrf".to_owned(), csrf.to_owned()),
            ("username".to_owned(), name.to_owned()),
            ("role".to_owned(), "analyst".to_owned()),
            ("tlp_ceiling".to_owned(), "AMBER".to_owned()),
        ]
    };
    let post = |client: &mut Client, path: &str, fields: Vec<(String, String)>| {
        let borrowed: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        client.post(path, &borrowed)
    };
    assert_eq!(
        post(&mut admin, "/desk/users", fields("forged", "zoe")).status,
        403
    );
    let created = post(&mut admin, "/desk/users", fields(&csrf, "zoe"));
    assert_eq!(created.status, 200);
    let start =
        created.body.find("id=\"new-password\">").expect("password shown") + "id=\"new-password\">".len();
    let password: String = created.body[start..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(password.len(), 20);
    let taken = post(&mut admin, "/desk/users", fields(&csrf, "ZOE"));
    assert_eq!(taken.status, 422);
    assert!(taken.body.contains("already exists"));

    let mut zoe = Client::new(&server);
    assert_eq!(zoe.login("zoe", &password).status, 303);
    assert_eq!(zoe.get("/desk/").status, 200);
    let page = admin.get("/desk/users");
    let marker = "action=\"/desk/users/";
    let zoe_row = page.body.find("<td>zoe</td>").expect("zoe listed");
    let start = page.body[zoe_row..].find(marker).expect("a form") + zoe_row + marker.len();
    let id: String = page.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let path = format!("/desk/users/{id}");
    assert_eq!(
        admin
            .post(&path, &[("csrf", &csrf), ("action", "disable")])
            .status,
        303
    );
    assert_eq!(
        zoe.get("/desk/").status,
        303,
        "a disabled account's session ends at once"
    );
    assert_eq!(Client::new(&server).login("zoe", &password).status, 401);
    assert_eq!(
        admin.post(&path, &[("csrf", &csrf), ("action", "enable")]).status,
        303
    );
    let reset = admin.post(&path, &[("csrf", &csrf), ("action", "reset")]);
    assert_eq!(reset.status, 200);
    let start = reset.body.find("id=\"new-password\">").expect("new password") + "id=\"new-password\">".len();
    let fresh: String = reset.body[start..].chars().take_while(|c| *c != '<').collect();
    assert_eq!(
        Client::new(&server).login("zoe", &password).status,
        401,
        "the old password is gone"
    );
    assert_eq!(Client::new(&server).login("zoe", &fresh).status, 303);
}

#[test]
fn api_tokens_act_as_their_owner_until_revoked() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    assert_eq!(client.login("ana", "ana-password-1").status, 303);
    let csrf = client.csrf();
    let created = client.post(
        "/desk/account/tokens",
        &[("csrf", &csrf), ("name", "nightly export")],
    );
    assert_eq!(created.status, 200);
    let start = created
        .body
        .find("id=\"new-token\">")
        .expect("the token is shown")
        + "id=\"new-token\">".len();
    let token: String = created.body[start..].chars().take_while(|c| *c != '<').collect();
    assert!(token.starts_with("tdk_") && token.len() > 40, "{token}");
    assert!(
        !client.get("/desk/account/tokens").body.contains(&token),
        "shown only once"
    );

    let mut script = Client::new(&server);
    let bearer = format!("Bearer {token}");
    let me = script.request("GET", "/desk/api/me", None, &[("Authorization", &bearer)]);
    assert_eq!(me.status, 200, "{me:?}");
    assert!(me.body.contains("\"username\":\"ana\""), "{}", me.body);
    let wrong = script.request(
        "GET",
        "/desk/api/me",
        None,
        &[("Authorization", "Bearer tdk_not-a-token")],
    );
    assert_eq!(wrong.status, 401);

    let page = client.get("/desk/account/tokens");
    let start =
        page.body.find("/desk/account/tokens/").expect("a revoke form") + "/desk/account/tokens/".len();
    let id: String = page.body[start..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    let revoked = client.post(&format!("/desk/account/tokens/{id}/revoke"), &[("csrf", &csrf)]);
    assert_eq!(revoked.status, 303);
    let after = script.request("GET", "/desk/api/me", None, &[("Authorization", &bearer)]);
    assert_eq!(after.status, 401);
}

#[test]
fn user_add_refuses_short_passwords_and_taken_names_and_prints_generated_ones_once() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let short = ws.run_with_stdin(
        &["user", "add", "bob", "--role", "analyst", "--password-stdin"],
        b"short\n",
    );
    assert_eq!(short.code, 2);
    assert!(
        short.stderr.contains("at least 10 characters"),
        "{}",
        short.stderr
    );
    let generated = ws.run(&["user", "add", "bob", "--role", "editor", "--format", "json"]);
    assert_eq!(generated.code, 0, "{}", generated.stderr);
    let created: serde_json::Value = serde_json::from_str(&generated.stdout).expect("json");
    assert_eq!(created["role"], "editor");
    assert_eq!(created["tlp_ceiling"], "RED");
    assert_eq!(created["password"].as_str().map(str::len), Some(20));
    let again = ws.run(&["user", "add", "BOB", "--role", "reader"]);
    assert_eq!(again.code, 2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let spaced = ws.run(&["user", "add", "two words", "--role", "reader"]);
    assert_eq!(spaced.code, 2);
    assert!(spaced.stderr.contains("1 to 64 characters"), "{}", spaced.stderr);
    let bad_role = ws.run(&["user", "add", "carol", "--role", "boss"]);
    assert_eq!(bad_role.code, 2);
    let list = ws.run(&["user", "list"]);
    assert!(
        list.stdout.contains("bob") && list.stdout.contains("editor"),
        "{}",
        list.stdout
    );
    // The stored hash is argon2id, never the password.
    let db = rusqlite::Connection::open(ws.data_dir().join("threatdesk.db")).expect("db");
    let hash: String = db
        .query_row(
            "SELECT password_hash FROM users WHERE username = 'bob'",
            [],
            |r| r.get(0),
        )
        .expect("row");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains(created["password"].as_str().unwrap_or("-")));
}

/// Publishes bulletins of every marking and step from the command line; returns the ids.
pub(crate) fn publish_mix(ws: &Workspace) -> Vec<(String, i64)> {
    let notes = ws.write("notes.md", "Patch **now**; watch for follow-up phishing.");
    let mut made = Vec::new();
    for (title, tlp, kind, publish) in [
        ("Clear news about phishing", "clear", "news", true),
        ("Clear research on Sandworm", "clear", "research", true),
        ("Green news for the community", "green", "news", true),
        ("Amber news for members", "amber", "news", true),
        (
            "Strict amber news for one organisation",
            "amber+strict",
            "news",
            true,
        ),
        ("Red news for named recipients", "red", "news", true),
        ("Clear draft not yet out", "clear", "news", false),
    ] {
        let notes = notes.to_str().expect("path");
        let more = ["--notes-file", notes, "--kind", kind, "--tag", "phishing"];
        let id = crate::create_bulletin(ws, title, tlp, &more, publish);
        made.push((title.to_owned(), id));
    }
    made
}

#[test]
fn the_public_site_and_feeds_show_published_clear_bulletins_only() {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    publish_mix(&ws);
    let server = Server::start(&ws);
    let mut visitor = Client::new(&server);
    let leaks = [
        "Green news",
        "Amber news",
        "Strict amber",
        "Red news",
        "Clear draft",
    ];
    let home = visitor.get("/");
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Clear news about phishing"));
    assert!(
        home.body.contains("Latest threat research"),
        "the research banner"
    );
    assert!(home.body.contains("Clear research on Sandworm"));
    assert!(home.body.contains("rel=\"canonical\""));
    for leak in leaks {
        assert!(!home.body.contains(leak), "{leak} on the home page");
    }
    let page = visitor.get("/bulletins/clear-news-about-phishing");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Analyst Notes") && page.body.contains("<strong>now</strong>"));
    assert!(page.body.contains("og:title"));
    for slug in [
        "green-news-for-the-community",
        "amber-news-for-members",
        "strict-amber-news-for-one-organisation",
        "red-news-for-named-recipients",
        "clear-draft-not-yet-out",
    ] {
        assert_eq!(visitor.get(&format!("/bulletins/{slug}")).status, 404, "{slug}");
    }
    let tag = visitor.get("/tags/phishing");
    assert_eq!(tag.status, 200);
    for leak in leaks {
        assert!(!tag.body.contains(leak), "{leak} on the tag page");
    }

    for path in [
        "/feeds/bulletins.atom",
        "/feeds/bulletins.json",
        "/feeds/tags/phishing.atom",
        "/feeds/tags/phishing.json",
    ] {
        let response = visitor.get(path);
        assert_eq!(response.status, 200, "{path}");
        let parsed =
            feed_rs::parser::parse(response.body.as_bytes()).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut titles: Vec<String> = parsed
            .entries
            .iter()
            .filter_map(|e| e.title.as_ref().map(|t| t.content.clone()))
            .collect();
        titles.sort();
        assert_eq!(
            titles,
            ["Clear news about phishing", "Clear research on Sandworm"],
            "{path}"
        );
        for leak in leaks {
            assert!(!response.body.contains(leak), "{leak} in {path}");
        }
        let etag = response.header("etag").expect("an ETag").to_owned();
        let again = visitor.request("GET", path, None, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
    }
    let json: serde_json::Value =
        serde_json::from_str(&visitor.get("/feeds/bulletins.json").body).expect("JSON Feed");
    assert_eq!(json["version"], "https://jsonfeed.org/version/1.1");

    // Python's feedparser, the common reader of feeds: no errors (bozo 0), the right entries.
    let python =
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/py-tools/bin/python");
    if python.exists() {
        for path in ["/feeds/bulletins.atom", "/feeds/tags/phishing.atom"] {
            let file = ws.write("feed.atom", visitor.get(path).body);
            let out = std::process::Command::new(&python)
                .args([
                    "-c",
                    "import feedparser, json, sys; d = feedparser.parse(sys.argv[1]); \
                     print(json.dumps({'bozo': int(d.bozo), 'titles': sorted(e.title for e in d.entries), \
                     'version': d.version}))",
                    file.to_str().expect("path"),
                ])
                .output()
                .expect("run feedparser");
            let verdict: serde_json::Value = serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
            assert_eq!(verdict["bozo"], 0, "{path}: {verdict}");
            assert_eq!(verdict["version"], "atom10");
            assert_eq!(
                verdict["titles"],
                serde_json::json!(["Clear news about phishing", "Clear research on Sandworm"])
            );
        }
    } else {
        assert!(
            std::env::var_os("REQUIRE_PY_TOOLS").is_none(),
            "REQUIRE_PY_TOOLS is set but {} is missing (scripts/get-py-tools.sh)",
            python.display()
        );
        eprintln!("skipped: no feedparser in target/py-tools (scripts/get-py-tools.sh)");
    }
    assert_eq!(visitor.get("/feeds/nothing.xml").status, 404);
}
