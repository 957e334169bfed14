#!/usr/bin/env bash
# Public serving benchmark: `wrk -t2 -c32` against `threatdesk serve` on loopback, page by
# page (home, a bulletin, a tag page, the feeds, the MISP feed, TAXII objects), while an
# ingest runs beside it when INGEST_DIR names a folder of pages.
#
#   scripts/bench-serve.sh [DATA] [BULLETINS]
#
# DATA defaults to the data folder scripts/bench-scale.sh leaves (target/bench-scale/data);
# the script first publishes TLP:CLEAR bulletins there until BULLETINS (default 1000) are
# published, each citing a stored item. Prints requests per second and latency p50/p99.
# BIN=path/to/threatdesk measures another build; SECONDS_PER_PAGE (default 8) the run length.
set -euo pipefail
cd "$(dirname "$0")/.."

data=${1:-target/bench-scale/data}
want=${2:-1000}
bin=${BIN:-target/release/threatdesk}
secs=${SECONDS_PER_PAGE:-8}
port=${PORT:-18089}
command -v wrk >/dev/null || { echo "bench-serve: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
[ -x "$bin" ] || cargo build --release --locked -p threatdesk --bin threatdesk >&2

td() { "$bin" --data-dir "$data" "$@"; }
# Every bulletin this script makes is published; the store's count says how many there are.
published=$(td --format json status | python3 -c 'import json, sys; print(json.load(sys.stdin)["store"]["bulletins"])')
if [ "$published" -lt "$want" ]; then
    echo "publishing $((want - published)) bulletins" >&2
    for i in $(seq $((published + 1)) "$want"); do
        id=$(td --format json bulletin create --title "Bench bulletin $i on wipers and loaders" --tlp clear \
            --tag "tag$((i % 20))" --tag bench --item "$i" --kind news | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')
        td -q bulletin publish "$id" >/dev/null
    done
fi

td -q serve --listen "127.0.0.1:$port" --no-collect 2>"$data/../serve.log" &
server=$!
ingest=""
trap 'kill $server ${ingest:+$ingest} 2>/dev/null; wait 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1 && break
    sleep 0.2
done
if [ -n "${INGEST_DIR:-}" ]; then
    td -q ingest "$INGEST_DIR" >/dev/null 2>&1 &
    ingest=$!
    echo "ingesting $INGEST_DIR beside the server" >&2
fi

collection=$(curl -fsS -H 'Accept: application/taxii+json;version=2.1' "http://127.0.0.1:$port/taxii2/api/collections/" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["collections"][0]["id"])')
pages=(
    /healthz
    /
    /bulletins/bench-bulletin-1-on-wipers-and-loaders
    /tags/tag1
    /feeds/bulletins.atom
    /feeds/bulletins.json
    /feeds/tags/tag1.atom
    /misp-feed/manifest.json
    "/taxii2/api/collections/$collection/objects/?limit=50"
)
# cold_ms: the first request after a start (or a change): the page rendered and compressed.
printf '%-58s %8s %10s %9s %9s\n' page cold_ms req/s p50_ms p99_ms
for page in "${pages[@]}"; do
    accept='*/*'
    case "$page" in /taxii2/*) accept='application/taxii+json;version=2.1' ;; esac
    cold=$(curl -fsS -o /dev/null -w '%{time_total}' -H "Accept: $accept" -H 'Accept-Encoding: gzip, br' \
        "http://127.0.0.1:$port$page" | awk '{ printf "%.1f", $1 * 1000 }')
    out=$(wrk -t2 -c32 -d"${secs}s" --latency -H "Accept: $accept" -H 'Accept-Encoding: gzip, br' \
        "http://127.0.0.1:$port$page")
    rps=$(awk '/^Requests\/sec/ { print $2 }' <<<"$out")
    p50=$(awk '$1 == "50%" { print $2 }' <<<"$out")
    p99=$(awk '$1 == "99%" { print $2 }' <<<"$out")
    errors=$(awk '/Non-2xx|Socket errors/ { print }' <<<"$out")
    printf '%-58s %8s %10.0f %9s %9s %s\n' "$page" "$cold" "$rps" "$p50" "$p99" "$errors"
done
