use crate::Workspace;

const PAGE: &str = "<html><head><title>Ministries targeted</title><meta name=\"author\" content=\"Jane Analyst\"></head>\
<body><nav><a href=\"/\">Home</a> <a href=\"/about\">About us</a></nav><article><h1>Ministries targeted</h1>\
<p>The operators sent spear-phishing e-mails with a malicious attachment to ministries and energy companies across the region.</p>\
<p>The operators sent spear-phishing e-mails with a malicious attachment to ministries and energy companies across the region.</p>\
</article><footer>All rights reserved.</footer></body></html>";

#[test]
fn article_prints_the_main_text_and_its_metadata() {
    let ws = Workspace::create();
    let page = ws.write("page.html", PAGE);
    let text = ws.run(&["article", page.to_str().expect("path")]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.starts_with("Ministries targeted\nJane Analyst"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("malicious attachment") && !text.stdout.contains("About us"));
    let json = ws.json(&[
        "article",
        page.to_str().expect("path"),
        "--url",
        "https://news.example/a",
    ]);
    assert_eq!(json["title"], "Ministries targeted");
    assert!(
        json["text"]
            .as_str()
            .is_some_and(|t| t.contains("energy companies"))
    );
    assert!(json["html"].as_str().is_some_and(|h| h.contains("<p>")));

    let empty = ws.write(
        "empty.html",
        "<html><body><nav><a href=\"/\">Home</a></nav></body></html>",
    );
    let run = ws.run(&["article", empty.to_str().expect("path")]);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("empty.html: no article"), "{}", run.stderr);
}
