//! The machine channels of `threatdesk serve`: TAXII 2.1 and the MISP feed, walked by the
//! OASIS and MISP clients, and what each caller may (never) receive through them.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::Workspace;
use crate::serve::{Client, Server, add_user};

/// A report with an actor, malware, a CVE, a technique and indicators, cited by one
/// published bulletin per TLP level and by an unpublished CLEAR draft.
fn published_levels() -> Workspace {
    let ws = Workspace::create();
    assert_eq!(ws.run(&["init", "--no-default-sources"]).code, 0);
    let report = ws.write("report.txt", crate::bulletin::REPORT);
    assert_eq!(ws.run(&["ingest", report.to_str().expect("path")]).code, 0);
    // An AMBER partner report, cited (by mistake) by the first CLEAR bulletin.
    let partner = ws.write("partner.txt", PARTNER_REPORT);
    let run = ws.run(&["ingest", "--tlp", "AMBER", partner.to_str().expect("path")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    for (title, tlp, publish) in [
        ("Clear bulletin on APT28", "clear", true),
        ("Second clear bulletin on Outlook", "clear", true),
        ("Green bulletin for the community", "green", true),
        ("Amber bulletin for members", "amber", true),
        ("Strict amber bulletin for one organisation", "amber+strict", true),
        ("Red bulletin for named recipients", "red", true),
        ("Clear draft not yet out", "clear", false),
    ] {
        let items: &[&str] = if title.starts_with("Clear bulletin") {
            &["--item", "1", "--item", "2"]
        } else {
            &["--item", "1"]
        };
        crate::create_bulletin(&ws, title, tlp, items, publish);
    }
    add_user(&ws, "rea", "reader", &["--tlp-ceiling", "GREEN"]);
    add_user(&ws, "ana", "analyst", &["--tlp-ceiling", "AMBER"]);
    add_user(&ws, "ed", "editor", &[]);
    add_user(&ws, "adm", "admin", &[]);
    ws
}

/// An AMBER report: nothing of it may leave under a CLEAR bulletin that cites it.
const PARTNER_REPORT: &str = "Partner-only note on the insider\n\nSandworm operators received VPN \
     credentials from the insider through 91.215.85.12 and vpn-insider-drop.top before the outage.";

/// What of the AMBER partner report must never appear anywhere: its actor, address, domain.
const PARTNER_MARKS: [&str; 3] = ["91.215.85.12", "vpn-insider-drop.top", "Sandworm"];

/// Report names a caller cleared for each level sees (and must not see).
const BY_LEVEL: [(&str, &str); 7] = [
    ("CLEAR", "Clear bulletin on APT28"),
    ("CLEAR", "Second clear bulletin on Outlook"),
    ("GREEN", "Green bulletin for the community"),
    ("AMBER", "Amber bulletin for members"),
    ("AMBER+STRICT", "Strict amber bulletin for one organisation"),
    ("RED", "Red bulletin for named recipients"),
    ("DRAFT", "Clear draft not yet out"),
];

fn cleared(ceiling: &str) -> (Vec<&'static str>, Vec<&'static str>) {
    let order = ["CLEAR", "GREEN", "AMBER", "AMBER+STRICT", "RED"];
    let rank = |level: &str| order.iter().position(|l| *l == level);
    let limit = rank(ceiling);
    let (seen, hidden): (Vec<_>, Vec<_>) = BY_LEVEL
        .iter()
        .partition(|(level, _)| rank(level).is_some() && rank(level) <= limit);
    (
        seen.into_iter().map(|(_, t)| t).collect(),
        hidden.into_iter().map(|(_, t)| t).collect(),
    )
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

pub(crate) const TAXII: &str = "application/taxii+json;version=2.1";

fn taxii_get(client: &mut Client, path: &str, auth: Option<&str>) -> (u16, Value, crate::serve::Response) {
    let mut headers = vec![("Accept", TAXII)];
    if let Some(auth) = auth {
        headers.push(("Authorization", auth));
    }
    let response = client.request("GET", path, None, &headers);
    let body = serde_json::from_str(&response.body).unwrap_or(Value::Null);
    (response.status, body, response)
}

/// Every object of a collection, read in one large page.
fn all_objects(client: &mut Client, collection: &str, auth: Option<&str>) -> Vec<Value> {
    let (status, body, _) = taxii_get(
        client,
        &format!("/taxii2/api/collections/{collection}/objects/?limit=1000"),
        auth,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["more"], false);
    body["objects"].as_array().cloned().unwrap_or_default()
}

#[test]
fn taxii_serves_each_caller_what_it_is_cleared_for_and_pages_without_loss_or_repeats() {
    let ws = published_levels();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    let reader = basic("rea", "rea-password-1");
    let analyst = basic("ana", "ana-password-1");

    // Discovery and the API root, with the TAXII media type.
    let (status, discovery, response) = taxii_get(&mut client, "/taxii2/", Some(&reader));
    assert_eq!(status, 200);
    assert_eq!(response.header("content-type"), Some(TAXII));
    let root = discovery["api_roots"][0]
        .as_str()
        .expect("an API root")
        .to_owned();
    assert!(root.ends_with("/taxii2/api/"), "{root}");
    let (status, api, _) = taxii_get(&mut client, "/taxii2/api/", Some(&reader));
    assert_eq!(status, 200);
    assert_eq!(api["versions"][0], TAXII);

    // Collections by clearance: anonymous callers get CLEAR only; the reader up to GREEN.
    let titles = |client: &mut Client, auth: Option<&str>| -> BTreeMap<String, String> {
        let (status, body, _) = taxii_get(client, "/taxii2/api/collections/", auth);
        assert_eq!(status, 200, "{body}");
        body["collections"]
            .as_array()
            .expect("collections")
            .iter()
            .map(|c| {
                assert_eq!(c["can_write"], false);
                (
                    c["title"].as_str().unwrap_or_default().to_owned(),
                    c["id"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    };
    let anonymous_collections = titles(&mut client, None);
    assert_eq!(
        anonymous_collections.keys().collect::<Vec<_>>(),
        ["Published bulletins", "TLP:CLEAR bulletins"]
    );
    let reader_collections = titles(&mut client, Some(&reader));
    assert_eq!(
        reader_collections.keys().collect::<Vec<_>>(),
        [
            "Published bulletins",
            "TLP:CLEAR bulletins",
            "TLP:GREEN bulletins"
        ]
    );
    let editor_collections = titles(&mut client, Some(&basic("ed", "ed-password-1")));
    assert_eq!(editor_collections.len(), 6, "{editor_collections:?}");
    let red = &editor_collections["TLP:RED bulletins"];
    let (status, error, _) = taxii_get(
        &mut client,
        &format!("/taxii2/api/collections/{red}/"),
        Some(&reader),
    );
    assert_eq!(
        status, 404,
        "a collection above the caller's clearance does not exist for it"
    );
    assert_eq!(error["http_status"], "404");

    // What each caller reads: reports up to its clearance, never a draft or anything above.
    let all = &reader_collections["Published bulletins"];
    for (auth, ceiling) in [
        (None, "CLEAR"),
        (Some(reader.as_str()), "GREEN"),
        (Some(analyst.as_str()), "AMBER"),
    ] {
        let objects = all_objects(&mut client, all, auth);
        let reports: BTreeSet<&str> = objects
            .iter()
            .filter(|o| o["type"] == "report")
            .filter_map(|o| o["name"].as_str())
            .collect();
        let (seen, hidden) = cleared(ceiling);
        assert_eq!(reports, seen.iter().copied().collect(), "{ceiling}");
        let text = serde_json::to_string(&objects).expect("JSON");
        for mark in PARTNER_MARKS {
            assert!(
                !text.contains(mark),
                "the AMBER source's {mark} left under a CLEAR bulletin"
            );
        }
        for title in hidden {
            assert!(!text.contains(title), "{title} leaked to a {ceiling} caller");
        }
        for marking in ["TLP:RED", "TLP:AMBER"] {
            if ceiling == "CLEAR" || ceiling == "GREEN" {
                assert!(!text.contains(marking), "{marking} reached a {ceiling} caller");
            }
        }
        let ids: BTreeSet<&str> = objects.iter().filter_map(|o| o["id"].as_str()).collect();
        assert_eq!(ids.len(), objects.len(), "each object once: {ceiling}");
    }

    // The OASIS client walks discovery → collections → objects and manifest, three per page.
    let Some(python) = crate::py_tools("taxii2client") else {
        return;
    };
    let script = r#"
import json, sys
from taxii2client.v21 import Server, as_pages
url, user, password = sys.argv[1:4]
server = Server(url, user=user or None, password=password or None)
out = {}
for root in server.api_roots:
    for collection in root.collections:
        objects = [o["id"] + "@" + o.get("modified", o.get("created", ""))
                   for page in as_pages(collection.get_objects, per_request=3)
                   for o in page.get("objects", [])]
        manifest = [m["id"] + "@" + m["version"]
                    for page in as_pages(collection.get_manifest, per_request=4)
                    for m in page.get("objects", [])]
        out[collection.title] = {"objects": objects, "manifest": manifest}
print(json.dumps(out))
"#;
    let walk = |user: &str, password: &str| -> Value {
        let out = std::process::Command::new(&python)
            .args([
                "-c",
                script,
                &format!("http://{}/taxii2/", server.address),
                user,
                password,
            ])
            .output()
            .expect("run taxii2-client");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let walked = walk("rea", "rea-password-1");
    let collections = walked.as_object().expect("collections");
    assert_eq!(collections.len(), 3);
    for (title, pages) in collections {
        let objects: Vec<&str> = pages["objects"]
            .as_array()
            .expect("objects")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        let distinct: BTreeSet<&str> = objects.iter().copied().collect();
        assert_eq!(distinct.len(), objects.len(), "{title}: an object came twice");
        let id = &reader_collections[title.as_str()];
        let expected: BTreeSet<String> = all_objects(&mut client, id, Some(&reader))
            .iter()
            .map(|o| {
                format!(
                    "{}@{}",
                    o["id"].as_str().unwrap_or_default(),
                    o["modified"]
                        .as_str()
                        .or(o["created"].as_str())
                        .unwrap_or_default()
                )
            })
            .collect();
        assert!(expected.len() > 3, "{title}: paging is exercised");
        assert_eq!(
            distinct,
            expected.iter().map(String::as_str).collect(),
            "{title}: every object exactly once"
        );
        let manifest: BTreeSet<&str> = pages["manifest"]
            .as_array()
            .expect("manifest")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            manifest, distinct,
            "{title}: the manifest lists the same versions"
        );
    }
}

#[test]
fn taxii_refuses_malformed_queries_wrong_credentials_and_other_media_types() {
    let ws = published_levels();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    let reader = basic("rea", "rea-password-1");
    let all = "3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a60";
    let objects = format!("/taxii2/api/collections/{all}/objects/");
    for query in [
        "limit=0",
        "limit=-3",
        "limit=many",
        "added_after=last-tuesday",
        "next=bm90IGEgY3Vyc29y",
        "match[version]=newest",
        "match[type]=Not%20A%20Type",
        "match[spec_version]=9.9",
        "match[colour]=red",
    ] {
        let (status, body, response) = taxii_get(&mut client, &format!("{objects}?{query}"), Some(&reader));
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(body["http_status"], "400", "{query}");
        assert!(
            body["title"].is_string() && body["description"].is_string(),
            "{query}"
        );
        assert_eq!(response.header("content-type"), Some(TAXII), "{query}");
    }

    // Wrong credentials are refused, never treated as anonymous.
    let (status, body, response) = taxii_get(&mut client, "/taxii2/", Some(&basic("rea", "wrong-password")));
    assert_eq!(status, 401);
    assert_eq!(body["http_status"], "401");
    assert!(
        response
            .header("www-authenticate")
            .is_some_and(|v| v.starts_with("Basic"))
    );
    let (status, _, _) = taxii_get(&mut client, "/taxii2/", Some("Bearer tdk_not_a_token"));
    assert_eq!(status, 401);
    // A personal API token acts as its owner: the analyst's AMBER clearance.
    let mut ana = Client::new(&server);
    assert_eq!(ana.login("ana", "ana-password-1").status, 303);
    let csrf = ana.csrf();
    let created = ana.post("/desk/account/tokens", &[("csrf", &csrf), ("name", "taxii")]);
    let start = created.body.find("id=\"new-token\">").expect("the token") + "id=\"new-token\">".len();
    let token: String = created.body[start..].chars().take_while(|c| *c != '<').collect();
    let bearer = format!("Bearer {token}");
    let (status, listed, _) = taxii_get(&mut client, "/taxii2/api/collections/", Some(&bearer));
    assert_eq!(status, 200);
    assert_eq!(
        listed["collections"].as_array().map(Vec::len),
        Some(4),
        "all, CLEAR, GREEN, AMBER"
    );

    // Only TAXII 2.1 JSON is spoken.
    let response = client.request("GET", "/taxii2/", None, &[("Accept", "text/html")]);
    assert_eq!(response.status, 406);
    // Read-only collections.
    let response = client.request("POST", &objects, Some("{}"), &[("Authorization", &reader)]);
    assert_eq!(response.status, 403);

    // Filters and headers: one type, one object, its versions, the date-added range.
    let (status, body, response) = taxii_get(
        &mut client,
        &format!("{objects}?match[type]=intrusion-set,malware&limit=1"),
        Some(&reader),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["more"], true);
    assert!(body["next"].is_string());
    let first = body["objects"][0].clone();
    assert!(matches!(
        first["type"].as_str(),
        Some("intrusion-set" | "malware")
    ));
    let added_first = response
        .header("x-taxii-date-added-first")
        .expect("header")
        .to_owned();
    assert_eq!(
        response.header("x-taxii-date-added-last"),
        Some(added_first.as_str())
    );
    let id = first["id"].as_str().expect("id");
    let (status, single, _) = taxii_get(&mut client, &format!("{objects}{id}/"), Some(&reader));
    assert_eq!(status, 200);
    assert_eq!(single["objects"][0]["id"], id);
    let (status, versions, _) = taxii_get(&mut client, &format!("{objects}{id}/versions/"), Some(&reader));
    assert_eq!(status, 200);
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(1));
    let (status, _, _) = taxii_get(
        &mut client,
        &format!("{objects}report--00000000-0000-4000-8000-000000000000/"),
        Some(&reader),
    );
    assert_eq!(status, 404);
    // Nothing is added after the last addition.
    let last = added_after_all(&mut client, &objects, &reader);
    let (status, later, _) = taxii_get(
        &mut client,
        &format!("{objects}?added_after={last}"),
        Some(&reader),
    );
    assert_eq!(status, 200);
    assert!(later.get("objects").is_none(), "{later}");

    // A remembered Basic credential stops working the moment the password is reset.
    assert_eq!(taxii_get(&mut client, "/taxii2/", Some(&reader)).0, 200);
    let users = ws.json(&["user", "list", "--format", "json"]);
    let rea_id = users
        .as_array()
        .and_then(|u| u.iter().find(|u| u["username"] == "rea"))
        .and_then(|u| u["id"].as_i64())
        .expect("rea's id");
    let mut admin = Client::new(&server);
    assert_eq!(admin.login("adm", "adm-password-1").status, 303);
    let csrf = admin.csrf();
    let reset = admin.post(
        &format!("/desk/users/{rea_id}"),
        &[("csrf", &csrf), ("action", "reset")],
    );
    assert_eq!(reset.status, 200, "{}", reset.body);
    assert_eq!(
        taxii_get(&mut client, "/taxii2/", Some(&reader)).0,
        401,
        "the old password is gone"
    );
}

/// The newest `date_added` of a collection, from its last page's header.
fn added_after_all(client: &mut Client, objects: &str, auth: &str) -> String {
    let (_, _, response) = taxii_get(client, &format!("{objects}?limit=1000"), Some(auth));
    response
        .header("x-taxii-date-added-last")
        .expect("header")
        .replace('+', "%2B")
}

fn md5_hex(value: &str) -> String {
    let out = std::process::Command::new("md5sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().expect("stdin").write_all(value.as_bytes())?;
            child.wait_with_output()
        })
        .expect("md5sum");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn the_misp_feed_and_workspace_exports_hold_each_caller_to_its_clearance() {
    let ws = published_levels();
    let server = Server::start(&ws);
    let mut client = Client::new(&server);
    let reader = basic("rea", "rea-password-1");
    let editor = basic("ed", "ed-password-1");
    let manifest = |client: &mut Client, auth: Option<&str>| -> serde_json::Map<String, Value> {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let response = client.request("GET", "/misp-feed/manifest.json", None, &headers);
        assert_eq!(response.status, 200, "{}", response.body);
        serde_json::from_str::<Value>(&response.body)
            .expect("JSON")
            .as_object()
            .cloned()
            .expect("an object")
    };
    let infos = |m: &serde_json::Map<String, Value>| -> BTreeSet<String> {
        m.values()
            .filter_map(|e| e["info"].as_str().map(str::to_owned))
            .collect()
    };
    for (auth, ceiling) in [
        (None, "CLEAR"),
        (Some(reader.as_str()), "GREEN"),
        (Some(editor.as_str()), "RED"),
    ] {
        let (seen, _) = cleared(ceiling);
        let listed = manifest(&mut client, auth);
        assert_eq!(
            infos(&listed),
            seen.iter().map(|t| (*t).to_owned()).collect(),
            "{ceiling}"
        );
    }
    let everything = manifest(&mut client, Some(&editor));
    let red_uuid = everything
        .iter()
        .find(|(_, e)| e["info"] == "Red bulletin for named recipients")
        .map(|(uuid, _)| uuid.clone())
        .expect("the red event");
    for auth in [None, Some(reader.as_str())] {
        let headers: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
        let response = client.request("GET", &format!("/misp-feed/{red_uuid}.json"), None, &headers);
        assert_eq!(
            response.status, 404,
            "a RED event does not exist below RED clearance"
        );
    }
    let wrong = client.request(
        "GET",
        "/misp-feed/manifest.json",
        None,
        &[("Authorization", &basic("rea", "not-the-password"))],
    );
    assert_eq!(wrong.status, 401);

    // Every event of the reader's manifest, and hashes.csv naming exactly their attributes.
    let mine = manifest(&mut client, Some(&reader));
    let mut expected_hashes = BTreeSet::new();
    let mut files = Vec::new();
    for uuid in mine.keys() {
        let response = client.request(
            "GET",
            &format!("/misp-feed/{uuid}.json"),
            None,
            &[("Authorization", &reader)],
        );
        assert_eq!(response.status, 200);
        let event: Value = serde_json::from_str(&response.body).expect("JSON");
        assert_eq!(event["Event"]["uuid"], uuid.as_str());
        for attribute in event["Event"]["Attribute"].as_array().into_iter().flatten() {
            let value = attribute["value"].as_str().expect("value");
            expected_hashes.insert(format!("{},{uuid}", md5_hex(value)));
        }
        for mark in PARTNER_MARKS {
            assert!(
                !response.body.contains(mark),
                "the AMBER source's {mark} in a feed event"
            );
        }
        files.push(ws.write(&format!("feed/{uuid}.json"), &response.body));
    }
    assert!(expected_hashes.len() > mine.len(), "events carry attributes");
    let csv = client.request(
        "GET",
        "/misp-feed/hashes.csv",
        None,
        &[("Authorization", &reader)],
    );
    let listed: BTreeSet<String> = csv.body.lines().map(str::to_owned).collect();
    assert_eq!(listed, expected_hashes);

    // Exports from the workspace: a reader exports what it may read and is published.
    let mut rea = Client::new(&server);
    assert_eq!(rea.login("rea", "rea-password-1").status, 303);
    let mut ed = Client::new(&server);
    assert_eq!(ed.login("ed", "ed-password-1").status, 303);
    let csrf = ed.csrf();
    let shared = ed.post("/desk/bulletins/7/share", &[("csrf", &csrf), ("shared", "true")]);
    assert_eq!(shared.status, 303, "{}", shared.body);
    assert_eq!(
        rea.get("/desk/bulletins/7").status,
        200,
        "the shared draft is readable"
    );
    for (id, expected) in [(1, 200), (3, 200), (4, 404), (5, 404), (6, 404), (7, 404)] {
        for format in ["stix", "misp"] {
            let response = rea.get(&format!("/desk/bulletins/{id}/export/{format}"));
            assert_eq!(response.status, expected, "bulletin {id} as {format}");
            if expected == 200 {
                assert!(
                    response
                        .header("content-disposition")
                        .is_some_and(|v| v.contains(".json")),
                    "a download"
                );
                assert!(serde_json::from_str::<Value>(&response.body).is_ok());
            } else {
                for (_, title) in BY_LEVEL.iter().skip(3) {
                    assert!(
                        !response.body.contains(title),
                        "{title} leaked in an export refusal"
                    );
                }
            }
        }
    }
    assert_eq!(
        ed.get("/desk/bulletins/6/export/stix").status,
        200,
        "an editor exports RED"
    );

    let Some(python) = crate::py_tools("pymisp") else {
        return;
    };
    let mut args = vec![
        "-c".to_owned(),
        "import sys; from pymisp import MISPEvent\n\
         for path in sys.argv[1:]:\n    e = MISPEvent(); e.load_file(path); print(e.uuid, len(e.attributes))"
            .to_owned(),
    ];
    args.extend(files.iter().map(|f| f.display().to_string()));
    let out = std::process::Command::new(&python)
        .args(&args)
        .output()
        .expect("run pymisp");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let loaded = String::from_utf8_lossy(&out.stdout);
    assert_eq!(loaded.lines().count(), mine.len(), "{loaded}");
    for uuid in mine.keys() {
        assert!(loaded.contains(uuid.as_str()), "{uuid} not loaded: {loaded}");
    }
}
