#!/usr/bin/env bash
# Regenerates the built-in knowledge base (crates/kb/data/builtin.json) from the public
# sources in ../shared/data/kb (MISP galaxies, ATT&CK lookups, country adjectivals) and the
# curated tables in crates/kb/data. The output is committed; the product never reads
# ../shared at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
source_dir="${1:-../shared/data/kb}"
cargo run --quiet --release -p threatdesk-kb --example gen_builtin -- "$source_dir" crates/kb/data/builtin.json
# The recogniser of that knowledge base, compiled ahead of time so that start-up is fast.
cargo run --quiet --release -p threatdesk-extract --example gen_recognizer_table -- crates/extract/data/builtin-recognizer.tsv
