#!/usr/bin/env bash
# Main-text extraction on ../shared/eval/html/scrapinghub: threatdesk beside trafilatura
# (installed from PyPI into target/peer-venv), in one run. Usage: scripts/bench-article.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/peer-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/pip" install --quiet trafilatura lxml_html_clean
cargo build --quiet --release -p threatdesk-text --example article_timing
"$venv/bin/python" scripts/bench_article.py ../shared/eval/html/scrapinghub target/release/examples/article_timing "${1:-3}"
