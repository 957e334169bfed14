//! The workspace in a real headless Chromium, driven over WebDriver (Debian's `chromium`
//! and `chromium-driver`; `.ci/run` installs them and sets `REQUIRE_BROWSER_TESTS`, so
//! that CI fails rather than skips when they are missing). Screenshots of the main pages
//! are saved under `target/screenshots/` as test artefacts.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::serve::{Server, newsroom};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session in it.
struct Browser {
    driver: Child,
    port: u16,
    session: String,
    base: String,
    _profile: tempfile::TempDir,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = call(self.port, "DELETE", &format!("/session/{}", self.session), None);
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One WebDriver call: JSON in, the answer's `value` out (or the error's message).
fn call(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    // chromedriver keeps connections open whatever the request says: read the head, then
    // exactly Content-Length bytes.
    let mut raw = Vec::new();
    let mut byte = [0u8; 1];
    while !raw.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the connection closed early".into());
        }
        raw.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&raw).into_owned();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or("no Content-Length")?;
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).map_err(|e| e.to_string())?;
    let json_text = String::from_utf8_lossy(&body).into_owned();
    let answer: Value = serde_json::from_str(&json_text).map_err(|e| format!("{e}: {json_text}"))?;
    let ok = head.split_whitespace().nth(1) == Some("200");
    if ok {
        Ok(answer["value"].clone())
    } else {
        Err(answer["value"]["error"].as_str().unwrap_or("error").to_owned()
            + ": "
            + answer["value"]["message"].as_str().unwrap_or_default())
    }
}

impl Browser {
    /// Starts chromedriver and a headless Chromium, or `None` when they are not installed
    /// (and not required).
    fn start(base: &str) -> Option<Browser> {
        if !Path::new(CHROMEDRIVER).exists() || !Path::new(CHROMIUM).exists() {
            assert!(
                std::env::var_os("REQUIRE_BROWSER_TESTS").is_none(),
                "REQUIRE_BROWSER_TESTS is set but {CHROMEDRIVER} or {CHROMIUM} is missing \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipped: no {CHROMEDRIVER} (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let started = Instant::now();
        while call(port, "GET", "/status", None).map(|v| v["ready"] == true) != Ok(true) {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().expect("profile folder");
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--disable-dev-shm-usage", "--window-size=1280,900",
                         format!("--user-data-dir={}", profile.path().display())]
            }
        }}});
        let session = call(port, "POST", "/session", Some(&capabilities)).expect("a browser session");
        let session = session["sessionId"].as_str().expect("session id").to_owned();
        Some(Browser {
            driver,
            port,
            session,
            base: base.to_owned(),
            _profile: profile,
        })
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        call(
            self.port,
            method,
            &format!("/session/{}{path}", self.session),
            body.as_ref(),
        )
    }

    fn open(&self, path: &str) {
        self.cmd(
            "POST",
            "/url",
            Some(json!({"url": format!("{}{path}", self.base)})),
        )
        .expect("navigate");
        self.wait_for("return document.readyState === 'complete'", "the page to load");
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None)
            .expect("url")
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        let value = self.cmd("GET", "/source", None).expect("source");
        match value.as_str() {
            Some(html) => html.to_owned(),
            None => panic!("the page source is not text: {value} (at {})", self.url()),
        }
    }

    fn find(&self, css: &str) -> String {
        let found = self
            .cmd(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .unwrap_or_else(|e| panic!("no element {css} on {}: {e}", self.url()));
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    fn click(&self, css: &str) {
        let element = self.find(css);
        self.cmd("POST", &format!("/element/{element}/click"), Some(json!({})))
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.cmd("POST", &format!("/element/{element}/clear"), Some(json!({})))
            .expect("clear");
        self.cmd(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({"text": text})),
        )
        .unwrap_or_else(|e| panic!("type into {css}: {e}"));
    }

    fn select(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    fn script(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .unwrap_or_else(|e| panic!("script {script}: {e}"))
    }

    /// Text of an open `alert()`, if a page managed to open one.
    fn alert(&self) -> Option<String> {
        self.cmd("GET", "/alert/text", None)
            .ok()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
    }

    /// Waits (up to 15 s) until `script` returns true; says what the page held if not.
    fn wait_for(&self, script: &str, what: &str) {
        let started = Instant::now();
        while self.script(script) != Value::Bool(true) {
            if started.elapsed() > Duration::from_secs(15) {
                let page = self.script("return document.body ? document.body.innerText : ''");
                panic!("timed out waiting for {what} at {}: {page}", self.url());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn screenshot(&self, name: &str) {
        let png = self.cmd("GET", "/screenshot", None).expect("screenshot");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("base64 PNG");
        let folder = screenshots();
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        std::fs::write(folder.join(format!("{name}.png")), bytes).expect("write screenshot");
    }

    fn login(&self, username: &str, password: &str) {
        self.cmd("DELETE", "/cookie", None).expect("forget cookies");
        self.open("/desk/login");
        self.type_into("input[name=username]", username);
        self.type_into("input[name=password]", password);
        self.click("form button[type=submit]");
        self.wait_for(
            "return location.pathname !== '/desk/login'",
            "the login to succeed",
        );
    }
}

fn screenshots() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

#[test]
fn an_analyst_writes_a_bulletin_an_editor_publishes_it_and_a_reader_never_sees_red() {
    let ws = newsroom();
    let server = Server::start(&ws);
    let base = format!("http://{}", server.address);
    let Some(browser) = Browser::start(&base) else {
        return;
    };

    // Anonymous: the workspace sends the browser to the login form.
    browser.open("/desk/");
    assert!(browser.url().contains("/desk/login?next="), "{}", browser.url());
    browser.screenshot("login");

    // The analyst triages: the inbox lists the story; j/k move, o opens.
    browser.login("ana", "ana-password-1");
    assert_eq!(browser.url(), format!("{base}/desk/"), "{}", browser.source());
    browser.open("/desk/?days=0");
    browser.wait_for(
        "return document.body.innerText.includes('Fancy Bear targets ministries')",
        "the story in the inbox",
    );
    let inbox = browser.source();
    assert!(!inbox.contains("insider"), "RED content in the analyst's inbox");
    browser.screenshot("inbox");
    browser.wait_for(
        "return document.querySelector('.story-row.current') !== null",
        "the keyboard cursor",
    );
    browser.script(
        "document.body.dispatchEvent(new KeyboardEvent('keydown', {key: 'o', bubbles: true})); return true;",
    );
    browser.wait_for(
        "return location.pathname.startsWith('/desk/stories/')",
        "o to open the story",
    );
    let story_url = browser.url();
    assert!(
        browser.source().contains("198.51.100.7"),
        "indicators rolled up on the story page"
    );
    browser.screenshot("story");

    // The item page: highlighted findings, and none of the page's script payloads ran.
    browser.click("table.members a[href^='/desk/items/']");
    browser.wait_for(
        "return location.pathname.startsWith('/desk/items/')",
        "the item page",
    );
    assert!(browser.source().contains("<mark class=\"entity\""));
    assert_eq!(browser.alert(), None, "a script payload opened an alert");
    assert_eq!(
        browser.script(
            "return document.querySelectorAll('script:not([src]), [onerror], [onclick], a[href^=\"javascript:\"]').length"
        ),
        json!(0)
    );
    browser.screenshot("item");

    // A bulletin from the story, with Analyst Notes and the live preview.
    browser.open(&story_url.replacen(&base, "", 1));
    browser.click("a[href^='/desk/bulletins/new?story=']");
    browser.wait_for("return location.pathname === '/desk/bulletins/new'", "the editor");
    browser.type_into("input[name=title]", "Fancy Bear phishes foreign ministries");
    browser.select("select[name=tlp]", "AMBER");
    browser.select("select[name=severity]", "high");
    browser.type_into(
        "textarea[name=analyst_notes]",
        "**Watch** for follow-up lures; block the sender domains. <img src=\"x\" onerror=\"alert('notes')\">",
    );
    // The preview follows the typing; once it shows the image, it is of the whole text.
    browser.wait_for(
        "const p = document.getElementById('notes-preview'); \
         return p.innerHTML.includes('<strong>Watch</strong>') && p.querySelector('img') !== null",
        "the Markdown preview",
    );
    assert_eq!(
        browser.script("return document.querySelectorAll('#notes-preview [onerror]').length"),
        json!(0),
        "the preview kept an event handler"
    );
    assert_eq!(browser.alert(), None);
    browser.screenshot("editor");
    browser.click("form#bulletin-editor button[type=submit]");
    browser.wait_for(
        "return /^\\/desk\\/bulletins\\/\\d+$/.test(location.pathname)",
        "the saved bulletin",
    );
    let bulletin_path = browser.url().replacen(&base, "", 1);
    let page = browser.source();
    assert!(
        page.contains("Analyst Notes") && page.contains("<strong>Watch</strong>"),
        "{page}"
    );
    assert_eq!(browser.alert(), None);
    browser.click("#submit-review");
    browser.wait_for(
        "return document.body.innerText.includes('in_review')",
        "the review status",
    );
    assert!(
        browser.source().matches("id=\"publish\"").next().is_none(),
        "an analyst cannot publish"
    );

    // The editor publishes it and drafts a RED bulletin.
    browser.login("ed", "ed-password-1");
    browser.open(&bulletin_path);
    browser.click("#publish");
    browser.wait_for(
        "return document.body.innerText.includes('published')",
        "publication",
    );
    browser.screenshot("bulletin");
    browser.open("/desk/bulletins/new");
    browser.type_into("input[name=title]", "Insider at the ministry");
    browser.select("select[name=tlp]", "RED");
    browser.type_into("textarea[name=analyst_notes]", "Named recipients only.");
    browser.click("form#bulletin-editor button[type=submit]");
    browser.wait_for(
        "return /^\\/desk\\/bulletins\\/\\d+$/.test(location.pathname)",
        "the RED draft",
    );
    let red_path = browser.url().replacen(&base, "", 1);

    // The reader (cleared for AMBER) sees the published bulletin, never the RED draft.
    browser.login("rea", "rea-password-1");
    browser.open("/desk/bulletins");
    let list = browser.source();
    assert!(list.contains("Fancy Bear phishes foreign ministries"), "{list}");
    assert!(
        !list.contains("Insider at the ministry"),
        "a RED draft listed for a reader"
    );
    browser.open(&red_path);
    assert!(
        browser.source().contains("404"),
        "the RED draft is 'not found' for the reader"
    );
    browser.open(&bulletin_path);
    assert!(browser.source().contains("<strong>Watch</strong>"));
    browser.screenshot("reader-bulletin");

    // The public site: the AMBER bulletin is not there; "Get informed" works in a browser.
    browser.open("/");
    assert!(
        !browser.source().contains("Fancy Bear phishes foreign ministries"),
        "an AMBER bulletin on the public site"
    );
    browser.screenshot("public-home");
    browser.type_into("form.signup input[name=email]", "reader@example.org");
    browser.select("form.signup select[name=cadence]", "weekly");
    browser.click("form.signup button");
    browser.wait_for(
        "return document.body.innerText.includes('Check your inbox')",
        "the subscription answer",
    );
    assert_eq!(browser.alert(), None);
    browser.screenshot("get-informed");
}
