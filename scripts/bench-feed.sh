#!/usr/bin/env bash
# Feed reading: threatdesk beside Python's feedparser (installed from PyPI into
# target/peer-venv), on the same feeds, in one run. The feeds are made from the AnnoCTR
# train reports in ../shared (RSS 2.0, Atom 1.0 and JSON Feed 1.1, each report one entry
# with its full text as HTML paragraphs). Usage: scripts/bench-feed.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet feedparser==6.0.*
cargo build --quiet --release -p threatdesk-collect --example feed_timing
"$venv/bin/python" scripts/bench_feed.py ../shared/eval/ner/annoctr/text/train target/release/examples/feed_timing "${1:-5}"
