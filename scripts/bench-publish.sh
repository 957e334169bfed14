#!/usr/bin/env bash
# Publishing speed: a release `threatdesk serve` over the 86 AnnoCTR training reports (in
# ../shared) and N published bulletins (default 300), each citing three reports, with TLP
# CLEAR, GREEN and AMBER in turn. Times, over loopback, the public home page and Atom feed,
# a TAXII objects page (100 per page), a whole walk of the TAXII collection by `next`
# cursor, and the MISP feed manifest and hashes; also one `threatdesk newsletter send`
# round planning a digest for 50 subscribers (no SMTP server listening: the messages stay
# queued, as they must), and the server's memory as it goes. Prints p50 / p95 per request and sizes.
# Usage: scripts/bench-publish.sh [BULLETINS] [REQUESTS]
set -euo pipefail
cd "$(dirname "$0")/.."
bulletins="${1:-300}"
requests="${2:-20}"
work="$(mktemp -d)"
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT
server=""

cargo build --quiet --release -p threatdesk
bin=target/release/threatdesk
data="$work/data"
export THREATDESK_DATA_DIR="$data" THREATDESK_EMBEDDINGS__ENABLED=false
"$bin" init --quiet --no-default-sources >/dev/null
"$bin" ingest --quiet ../shared/eval/ner/annoctr/text/train >/dev/null || true
items="$("$bin" items list --format json --limit 1000 | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"
echo "bench-password-1" | "$bin" user add bench --role editor --password-stdin >/dev/null
for i in $(seq 50); do
  "$bin" newsletter add --quiet "reader$i@example.org" --cadence daily --tlp-ceiling GREEN --confirmed >/dev/null
done
start=$(date +%s.%N)
tlps=(clear green amber)
for i in $(seq "$bulletins"); do
  a=$(( (i % items) + 1 )); b=$(( ((i * 7) % items) + 1 )); c=$(( ((i * 13) % items) + 1 ))
  id="$("$bin" bulletin create --format json --title "Bulletin $i on the week's intrusions" --tlp "${tlps[$((i % 3))]}" \
        --tag "week-$((i % 10))" --item "$a" --item "$b" --item "$c" | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
  "$bin" bulletin publish --quiet "$id" >/dev/null
done
echo "published $bulletins bulletins citing $items reports in $(echo "$(date +%s.%N) - $start" | bc) s (two processes each)"


"$bin" serve --listen 127.0.0.1:0 --no-collect 2> "$work/serve.log" &
server=$!
for _ in $(seq 100); do grep -q "workspace at" "$work/serve.log" && break; sleep 0.1; done
base="$(grep -o 'http://[0-9.:]*' "$work/serve.log" | head -1)"
auth="Authorization: Basic $(printf 'bench:bench-password-1' | base64)"
all="3f1a4c2e-7b6d-4e8f-9a0b-1c2d3e4f5a60"

measure() {
  local name="$1" path="$2" header="${3:-X-None: 1}"
  local times size
  times="$(for _ in $(seq "$requests"); do curl -s -H "$header" -H 'Accept: application/taxii+json;version=2.1' -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n)"
  size="$(curl -s -H "$header" -H 'Accept: application/taxii+json;version=2.1' "$base$path" | wc -c)"
  python3 - "$name" "$size" $times <<'PY'
import sys
name, size, times = sys.argv[1], int(sys.argv[2]), sorted(float(t) * 1000 for t in sys.argv[3:])
p = lambda q: times[min(len(times) - 1, int(q * len(times)))]
print(f"{name:<34} p50 {p(0.5):7.1f} ms   p95 {p(0.95):7.1f} ms   {size / 1024:7.1f} KiB")
PY
}
rss() { echo "server resident memory $1: $(ps -o rss= -p "$server" | awk '{printf "%.0f MB", $1/1024}')"; }
rss "at start"
measure "public home" "/"
measure "Atom feed" "/feeds/bulletins.atom"
measure "TAXII collections" "/taxii2/api/collections/" "$auth"
measure "TAXII objects, first 100" "/taxii2/api/collections/$all/objects/?limit=100" "$auth"
measure "TAXII manifest, first 100" "/taxii2/api/collections/$all/manifest/?limit=100" "$auth"
rss "after the TAXII pages"
measure "MISP feed manifest" "/misp-feed/manifest.json" "$auth"
measure "MISP feed hashes.csv" "/misp-feed/hashes.csv" "$auth"

python3 - "$base" "$all" "$auth" <<'PY'
import json, sys, time, urllib.request
base, collection, auth = sys.argv[1], sys.argv[2], sys.argv[3]
name, value = auth.split(": ", 1)
start, pages, seen, cursor = time.time(), 0, [], None
while True:
    url = f"{base}/taxii2/api/collections/{collection}/objects/?limit=100" + (f"&next={cursor}" if cursor else "")
    req = urllib.request.Request(url, headers={name: value, "Accept": "application/taxii+json;version=2.1"})
    body = json.load(urllib.request.urlopen(req))
    pages += 1
    seen += [o["id"] + o.get("modified", "") for o in body.get("objects", [])]
    if not body.get("more"):
        break
    cursor = body["next"]
took = time.time() - start
print(f"TAXII walk: {len(seen)} objects ({len(set(seen))} distinct) in {pages} pages, {took:.2f} s, {took / pages * 1000:.1f} ms per page")
PY
rss "at the end"
kill "$server"; wait "$server" 2>/dev/null || true
start=$(date +%s.%N)
THREATDESK_NEWSLETTER__SMTP_URL="smtp://127.0.0.1:9" "$bin" newsletter send --all-digests --format json || true
echo "newsletter round (plan 50 digests; SMTP unreachable, so the round stops trying after the first): $(echo "$(date +%s.%N) - $start" | bc) s"
