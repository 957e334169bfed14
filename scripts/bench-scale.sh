#!/usr/bin/env bash
# Scale benchmark: ingests a seeded, report-shaped corpus in steps through the real path
# (`threatdesk ingest`: reading, extraction, storage, full-text index, clustering) and prints,
# per step, the step's rate, the database size, the peak RSS of the ingest process, and
# search latency over a fixed query set, and the p95 of the workspace's inbox, story and item
# pages (logged in, over loopback).
#
#   scripts/bench-scale.sh            quick mode: 100,000 items (steps 10k, 50k, 100k)
#   scripts/bench-scale.sh full       1,000,000 items (steps 10k, 100k, 250k, 500k, 750k, 900k, 1M)
#   BIN=path/to/threatdesk scripts/bench-scale.sh   measure another build (e.g. an older one)
#
# The corpus (crates/testkit/src/corpus.rs, `gen-corpus`) recombines the prose of ../shared
# (AnnoCTR reports, article bodies) and its actor and malware names into events reported by
# four outlets: own accounts, syndicated copies, updates of earlier articles, indicators (some
# defanged), publication dates spread over the year that ends today. Work folder: $WORK
# (default target/bench-scale), removed first.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-quick}
case "$mode" in
    quick) total=100000; steps="10000 50000 100000" ;;
    full) total=1000000; steps="10000 100000 250000 500000 750000 900000 1000000" ;;
    *) echo "usage: scripts/bench-scale.sh [quick|full]" >&2; exit 2 ;;
esac
work=${WORK:-target/bench-scale}
export SHARED=${SHARED:-../shared}

cargo build --release --locked -p threatdesk -p threatdesk-testkit --bin threatdesk --bin gen-corpus >&2
bin=${BIN:-target/release/threatdesk}

rm -rf "$work"
mkdir -p "$work"
echo "generating $total documents in steps: $steps" >&2
# shellcheck disable=SC2086
target/release/gen-corpus "$work/corpus" "$total" $steps
data="$work/data"

queries=(
    "ransomware"                       # common word
    "jackpotting"                      # rare word
    '"domain controller"'              # phrase
    "lazarus OR kimsuky"               # OR
    "loader -emotet"                   # NOT
)

search_latency() {
    local times=()
    for round in 1 2 3; do
        for q in "${queries[@]}"; do
            local start end
            start=$(date +%s%N)
            # shellcheck disable=SC2086
            "$bin" --data-dir "$data" -q search --in items --limit 20 -- $q >/dev/null
            end=$(date +%s%N)
            times+=($(( (end - start) / 1000000 )))
        done
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{ a[NR] = $1 } END { printf "search_ms_p50=%d search_ms_p95=%d", a[int(NR * 0.5 + 0.5)], a[int(NR * 0.95 + 0.5)] }'
}

# Workspace pages, logged in as an analyst: inbox (all time), a story, an item; 20 requests
# each over loopback after one to warm up, p95 in milliseconds.
page_latency() {
    local port=18090 jar="$work/cookies" base="http://127.0.0.1:18090"
    "$bin" --data-dir "$data" -q serve --listen "127.0.0.1:$port" --no-collect 2>"$work/serve.log" &
    local server=$!
    for _ in $(seq 100); do curl -fsS "$base/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
    local csrf story item
    csrf=$(curl -s -c "$jar" "$base/desk/login" | grep -o 'name="csrf" value="[^"]*"' | cut -d'"' -f4)
    curl -s -b "$jar" -c "$jar" -o /dev/null -d "username=bench&password=bench-password-1&csrf=$csrf&next=/desk/" "$base/desk/login"
    story=$(curl -s -b "$jar" "$base/desk/?days=0" | grep -o '/desk/stories/[0-9]*' | head -1)
    item=$(curl -s -b "$jar" "$base$story" | grep -o '/desk/items/[0-9]*' | head -1)
    local out=""
    for page in "inbox=/desk/?days=0" "story=$story" "item=$item"; do
        local path=${page#*=}
        curl -s -b "$jar" -o /dev/null "$base$path"
        out+=$(for _ in $(seq 20); do curl -s -b "$jar" -o /dev/null -w '%{time_total}\n' "$base$path"; done | sort -n |
            awk -v name="${page%%=*}" '{ a[NR] = $1 } END { printf " %s_ms_p95=%.1f", name, a[int(NR * 0.95 + 0.5)] * 1000 }')
    done
    kill "$server" 2>/dev/null; wait "$server" 2>/dev/null || true
    printf '%s' "$out"
}

printf '%-8s %8s %8s %9s %8s %8s  %s\n' step items secs items/s db_mb rss_mb search >&2
stored=0
for dir in "$work"/corpus/step-*/; do
    step=$(basename "$dir")
    new=$(find "$dir" -name '*.html' | wc -l)
    updates=$(wc -l < "$work/corpus/$step.list")
    start=$(date +%s%N)
    if [ ! -e "$data/threatdesk.db" ]; then
        "$bin" --data-dir "$data" -q init --no-default-sources >/dev/null
        echo "bench-password-1" | "$bin" --data-dir "$data" -q user add bench --role analyst --password-stdin >/dev/null
    fi
    /usr/bin/time -f "%M" -o "$work/rss" "$bin" --data-dir "$data" -q ingest "$dir" >/dev/null 2>"$work/ingest.log" || {
        status=$?; [ "$status" = 1 ] || { cat "$work/ingest.log" >&2; exit "$status"; }
    }
    rss_kb=$(cat "$work/rss")
    if [ "$updates" -gt 0 ]; then
        xargs -a "$work/corpus/$step.list" "$bin" --data-dir "$data" -q ingest >/dev/null 2>>"$work/ingest.log"
    fi
    end=$(date +%s%N)
    stored=$((stored + new))
    ms=$(( (end - start) / 1000000 ))
    db_mb=$(( $(stat -c %s "$data/threatdesk.db") / 1048576 ))
    printf '%-8s %8d %8.1f %9.0f %8d %8d  %s\n' "$step" "$stored" "$(echo "$ms / 1000" | bc -l)" \
        "$(echo "($new + $updates) * 1000 / $ms" | bc -l)" "$db_mb" $((rss_kb / 1024)) "$(search_latency)$(page_latency)"
done
