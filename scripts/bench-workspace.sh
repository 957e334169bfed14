#!/usr/bin/env bash
# Workspace page speed: a release `threatdesk serve` over a data folder of real reports
# (the 86 AnnoCTR reports and the 102 Scrapinghub pages in ../shared) plus N synthetic
# items made of their sentences (default 2,000), timed page by page with curl over
# loopback, logged in as an analyst. Prints p50 / p95 / max per page, page sizes, and the
# server's resident memory. Usage: scripts/bench-workspace.sh [SYNTHETIC_ITEMS] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
synthetic="${1:-2000}"
requests="${2:-50}"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
server=""

cargo build --quiet --release -p threatdesk
bin=target/release/threatdesk
data="$work/data"

mkdir -p "$work/corpus/html" "$work/corpus/synthetic"
cp -r ../shared/eval/ner/annoctr/text "$work/corpus/annoctr"
for f in ../shared/eval/html/scrapinghub/html/*.gz; do
  gunzip -c "$f" > "$work/corpus/html/$(basename "$f" .gz)"
done
python3 - "$work/corpus/annoctr" "$work/corpus/synthetic" "$synthetic" <<'EOF'
import pathlib, random, re, sys
source, target, count = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), int(sys.argv[3])
sentences = []
for path in sorted(source.rglob("*.txt")):
    sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", path.read_text(errors="replace")) if 40 < len(s) < 400]
rng = random.Random(7)
for i in range(count):
    picked = rng.sample(sentences, 8)
    (target / f"item-{i:05}.txt").write_text(picked[0] + "\n\n" + " ".join(picked[1:]) + "\n")
EOF

"$bin" init --quiet --data-dir "$data" --no-default-sources >/dev/null
start=$(date +%s.%N)
THREATDESK_EMBEDDINGS__ENABLED=false "$bin" ingest --quiet --data-dir "$data" "$work/corpus" >/dev/null || true
echo "ingested $(find "$work/corpus" -type f | wc -l) files in $(echo "$(date +%s.%N) - $start" | bc) s (lexical clustering)"
echo "bench-password-1" | "$bin" user add --data-dir "$data" bench --role analyst --password-stdin >/dev/null

"$bin" serve --data-dir "$data" --listen 127.0.0.1:0 --no-collect 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do grep -q "workspace at" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)"

jar="$work/cookies"
csrf="$(curl -s -c "$jar" "$base/desk/login" | grep -o 'name="csrf" value="[^"]*"' | cut -d'"' -f4)"
curl -s -b "$jar" -c "$jar" -o /dev/null -d "username=bench&password=bench-password-1&csrf=$csrf&next=/desk/" "$base/desk/login"
story="$(curl -s -b "$jar" "$base/desk/?days=0" | grep -o '/desk/stories/[0-9]*' | head -1)"
item="$(curl -s -b "$jar" "$base$story" | grep -o '/desk/items/[0-9]*' | head -1)"
stories="$(sqlite3 "$data/threatdesk.db" 'select count(*) from stories' 2>/dev/null || echo '?')"
echo "stories: $stories; timing $requests requests per page"

measure() {
  local name="$1" path="$2"
  local times size
  times="$(for _ in $(seq "$requests"); do curl -sL -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n)"
  size="$(curl -sL -b "$jar" "$base$path" | wc -c)"
  python3 - "$name" "$size" $times <<'EOF'
import sys
name, size, times = sys.argv[1], int(sys.argv[2]), sorted(float(t) * 1000 for t in sys.argv[3:])
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"{name:<28} p50 {p(0.5):7.1f} ms   p95 {p(0.95):7.1f} ms   max {times[-1]:7.1f} ms   {size / 1024:6.1f} KiB")
EOF
}
measure "inbox (7 days)" "/desk/"
measure "inbox (all time)" "/desk/?days=0"
measure "inbox search" "/desk/?days=0&q=ransomware"
measure "inbox, entity filter" "/desk/?days=0&entity=APT28"
measure "story page" "$story"
measure "item page" "$item"
measure "bulletins" "/desk/bulletins"
measure "entity page (APT28)" "/desk/entities?q=APT28"
measure "login page (no session)" "/desk/login"
echo "server resident memory: $(ps -o rss= -p "$server" | awk '{printf "%.0f MB", $1/1024}')"
