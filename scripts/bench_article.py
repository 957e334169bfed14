#!/usr/bin/env python3
"""Main-text extraction on the Scrapinghub article-extraction benchmark, threatdesk beside
trafilatura (PyPI), in one run: precision, recall and F1 over 4-word shingles of the
extracted text (lower-cased word tokens, counted with multiplicity), averaged per page, and
MB/s over the pages' HTML, best of the rounds. Run through scripts/bench-article.sh."""
import collections
import gzip
import json
import pathlib
import re
import subprocess
import sys
import tempfile
import time

bench = pathlib.Path(sys.argv[1])
timing = sys.argv[2]
rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 3
truth = json.loads((bench / "ground-truth.json").read_text())


def shingles(text, n=4):
    words = re.findall(r"\w+", (text or "").lower())
    return collections.Counter(tuple(words[i : i + n]) for i in range(max(len(words) - n + 1, 0)))


def prf(gold, predicted):
    g, p = shingles(gold), shingles(predicted)
    if not g and not p:
        return 1.0, 1.0, 1.0
    hits = sum((g & p).values())
    precision = hits / sum(p.values()) if p else 0.0
    recall = hits / sum(g.values()) if g else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score(texts):
    rows = [prf(truth[i]["articleBody"], texts.get(i, "")) for i in truth]
    return [sum(r[k] for r in rows) / len(rows) for k in range(3)]


pages = {i: gzip.decompress((bench / "html" / f"{i}.html.gz").read_bytes()) for i in truth}
results = {}
with tempfile.TemporaryDirectory() as tmp:
    paths = {}
    for i, html in pages.items():
        path = pathlib.Path(tmp) / f"{i}.html"
        path.write_bytes(html)
        paths[str(path)] = i
    out = json.loads(subprocess.run([timing, "--rounds", str(rounds), *paths], check=True, capture_output=True).stdout)
    texts = {paths[p]: t for p, t in out["texts"].items()}
    results["threatdesk"] = (*score(texts), out["bytes"] / 1e6 / out["seconds"])

import trafilatura  # noqa: E402  (after the threatdesk run, so its import time is not counted)

decoded = {i: html.decode("utf-8", "replace") for i, html in pages.items()}
total = sum(len(h.encode()) for h in decoded.values())
best, texts = float("inf"), {}
for _ in range(rounds):
    started = time.perf_counter()
    for i, html in decoded.items():
        texts[i] = trafilatura.extract(html) or ""
    best = min(best, time.perf_counter() - started)
results[f"trafilatura {trafilatura.__version__}"] = (*score(texts), total / 1e6 / best)

print(f"{len(truth)} pages, {total / 1e6:.1f} MB of HTML, best of {rounds} rounds")
print(f"{'tool':24} {'P':>6} {'R':>6} {'F1':>6} {'MB/s':>7}")
for name, (p, r, f, speed) in results.items():
    print(f"{name:24} {p:6.3f} {r:6.3f} {f:6.3f} {speed:7.1f}")
ours, theirs = results["threatdesk"], list(results.values())[1]
print(f"threatdesk ÷ trafilatura: F1 {ours[2] / theirs[2]:.3f}×, speed {ours[3] / theirs[3]:.2f}×")
