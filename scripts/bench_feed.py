#!/usr/bin/env python3
"""Feed reading, threatdesk beside feedparser (PyPI), in one run: entries per second and
MB/s over RSS 2.0, Atom 1.0 and JSON Feed 1.1 documents made from the AnnoCTR train
reports (each report one entry, its full text as HTML paragraphs), best of the rounds.
Both read every entry's title, link, date and content into text. Run through
scripts/bench-feed.sh."""
import html
import json
import pathlib
import subprocess
import sys
import tempfile
import time

reports = sorted(pathlib.Path(sys.argv[1]).glob("*.txt"))
timing = sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 5


def entry(i, path):
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    title = lines[0][:120] if lines else path.stem
    body = "".join(f"<p>{html.escape(l)}</p>" for l in lines)
    return {"id": f"urn:report:{i}", "url": f"https://bench.example/reports/{path.stem}", "title": title, "html": body}


entries = [entry(i, p) for i, p in enumerate(reports)]
date_rss = "Tue, 24 Nov 2026 10:00:00 GMT"
date_iso = "2026-11-24T10:00:00Z"
rss = (
    '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>AnnoCTR train</title>'
    "<link>https://bench.example/</link><description>bench</description>"
    + "".join(
        f"<item><title>{html.escape(e['title'])}</title><link>{e['url']}</link><guid>{e['id']}</guid>"
        f"<pubDate>{date_rss}</pubDate><description>{html.escape(e['html'])}</description></item>"
        for e in entries
    )
    + "</channel></rss>"
)
atom = (
    '<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>AnnoCTR train</title>'
    f"<id>urn:bench</id><updated>{date_iso}</updated>"
    + "".join(
        f"<entry><title>{html.escape(e['title'])}</title><id>{e['id']}</id><link href=\"{e['url']}\"/>"
        f"<updated>{date_iso}</updated><content type=\"html\">{html.escape(e['html'])}</content></entry>"
        for e in entries
    )
    + "</feed>"
)
jsonfeed = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "AnnoCTR train",
        "items": [
            {"id": e["id"], "url": e["url"], "title": e["title"], "content_html": e["html"], "date_published": date_iso}
            for e in entries
        ],
    }
)

import feedparser  # noqa: E402


def feedparser_round(documents):
    n = 0
    for doc in documents:
        parsed = feedparser.parse(doc)
        for e in parsed.entries:
            content = (e.get("content") or [{}])[0].get("value") or e.get("summary", "")
            if content and e.get("link") is not None:
                n += 1
    return n


print(f"{len(entries)} reports; rounds: {rounds} (best counts)")
print(f"{'format':<10} {'MB':>6} {'threatdesk entries/s':>21} {'MB/s':>7} {'feedparser entries/s':>21} {'MB/s':>7} {'ratio':>7}")
with tempfile.TemporaryDirectory() as tmp:
    total = {"td_s": 0.0, "fp_s": 0.0, "bytes": 0, "entries": 0}
    for name, doc in [("RSS 2.0", rss), ("Atom 1.0", atom), ("JSON Feed", jsonfeed)]:
        data = doc.encode("utf-8")
        path = pathlib.Path(tmp) / "feed"
        path.write_bytes(data)
        out = json.loads(subprocess.run([timing, "--rounds", str(rounds), str(path)], check=True, capture_output=True).stdout)
        if name == "JSON Feed":
            # feedparser does not read JSON Feed: the row compares against its RSS time.
            fp_seconds, fp_entries = total["rss_fp"], len(entries)
        else:
            best = float("inf")
            for _ in range(rounds):
                started = time.perf_counter()
                fp_entries = feedparser_round([data])
                best = min(best, time.perf_counter() - started)
            fp_seconds = best
            if name == "RSS 2.0":
                total["rss_fp"] = best
        mb = len(data) / 1e6
        td_rate = out["entries"] / out["seconds"]
        fp_rate = fp_entries / fp_seconds
        note = " (feedparser: no JSON Feed; its RSS time)" if name == "JSON Feed" else ""
        print(
            f"{name:<10} {mb:>6.2f} {td_rate:>21.0f} {mb / out['seconds']:>7.1f} {fp_rate:>21.0f} {mb / fp_seconds:>7.2f} "
            f"{td_rate / fp_rate:>6.0f}x{note}"
        )
        if out["entries"] != len(entries) or fp_entries != len(entries):
            print(f"  entries read: threatdesk {out['entries']}, feedparser {fp_entries} of {len(entries)}")
