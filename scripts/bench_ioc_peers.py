#!/usr/bin/env python3
"""Peer comparison: IOC-extraction throughput of threatdesk against
ioc-finder, iocsearcher and iocextract, on one corpus, in one run.

Run it through scripts/bench-ioc-peers.sh, which sets up the virtualenv with
the three Python peers. Standard library only (besides the peers themselves).

Method
  * Corpus: every *.txt under --corpus (default ../shared/eval/ner/annoctr/text/train
    relative to the repository root). Throughput is corpus bytes (UTF-8, as on
    disk) / seconds, with MB = 10^6 bytes.
  * Python peers: all texts are read into memory first; the library is imported
    and called once on the first text (warm-up: lazy regex compilation, data
    files) outside the timing; then every text is extracted, --rounds times,
    and the best round counts.
  * threatdesk library: the extractor crate's `timing` example
    (target/release/examples/timing, built by
    `cargo build --release -p threatdesk-extract --example timing`) measures
    the library in-process exactly as the Python peers are measured above
    (texts in memory, one warm-up call, best of --rounds): the like-for-like
    comparison. Skipped with a note if that binary is missing.
  * threatdesk: the whole process `threatdesk extract --format jsonl FILE...` on
    every corpus file, stdout captured, best of --rounds. The same command on
    one empty temporary file estimates process start-up; throughput is reported
    end-to-end (start-up included) and with the start-up subtracted.
    A missing binary is skipped; a binary that exits non-zero is reported and the
    script exits 1 after printing the peers' results.
  * Findings are counted as each tool reports them, so they are not comparable
    one to one: threatdesk = JSONL lines; ioc-finder = entries in its result
    lists (deduplicated per text and type; default IOC types, or all 32 for the
    opt-in ioc-finder-all row); iocsearcher = size of the set returned
    by search_data (deduplicated per text); iocextract = items yielded (not
    deduplicated, refang=True).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO_ROOT / ".." / "shared" / "eval" / "ner" / "annoctr" / "text" / "train"
DEFAULT_BIN = REPO_ROOT / "target" / "release" / "threatdesk"
DEFAULT_LIB_BIN = REPO_ROOT / "target" / "release" / "examples" / "timing"

# Figures measured earlier on this machine kind (2 cores), same corpus; for context only.
REFERENCE_MBPS = {
    "ioc-finder": 0.28,
    "iocsearcher": 0.20,
    "iocextract": 0.02,
}

PEERS = ("ioc-finder", "iocsearcher", "iocextract")
# Opt-in extra rows (--tools): ioc-finder asked for all its supported IOC types
# instead of its default nine (urls, domains, emails, IPv4/6, MD5/SHA-1/SHA-256, CVEs).
EXTRA_PEERS = ("ioc-finder-all",)
DIST = {"ioc-finder-all": "ioc-finder"}


# --------------------------------------------------------------------------- peers


def _count_nested(value) -> int:
    """Number of leaf entries in ioc-finder's result (lists, or dicts of lists)."""
    if isinstance(value, dict):
        return sum(_count_nested(v) for v in value.values())
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value)
    return 1


def make_extractor(tool: str):
    """Import the peer and return a function text -> number of findings."""
    if tool == "ioc-finder":
        from ioc_finder import find_iocs

        def run(text: str) -> int:
            return sum(_count_nested(v) for v in find_iocs(text).values())

        return run
    if tool == "ioc-finder-all":
        from ioc_finder import find_iocs
        from ioc_finder.ioc_finder import SUPPORTED_IOC_TYPES

        def run(text: str) -> int:
            found = find_iocs(text, included_ioc_types=SUPPORTED_IOC_TYPES)
            return sum(_count_nested(v) for v in found.values())

        return run
    if tool == "iocsearcher":
        from iocsearcher.searcher import Searcher

        searcher = Searcher()  # reads its patterns, TLD and scheme files once

        def run(text: str) -> int:
            return len(searcher.search_data(text))

        return run
    if tool == "iocextract":
        import iocextract

        def run(text: str) -> int:
            return len(list(iocextract.extract_iocs(text, refang=True)))

        return run
    raise ValueError(f"unknown tool {tool!r}")


def package_version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return "?"


def bench_peer(tool: str, texts: list[str], rounds: int) -> dict:
    t0 = time.perf_counter()
    extract = make_extractor(tool)
    extract(texts[0])  # warm-up, untimed
    setup_s = time.perf_counter() - t0

    times = []
    findings = 0
    for _ in range(rounds):
        start = time.perf_counter()
        n = 0
        for text in texts:
            n += extract(text)
        times.append(time.perf_counter() - start)
        findings = n
    return {
        "tool": tool,
        "version": package_version(DIST.get(tool, tool)),
        "seconds": min(times),
        "round_seconds": times,
        "setup_seconds": setup_s,
        "findings": findings,
    }


# ---------------------------------------------------------------------- threatdesk


def threatdesk_version(binary: Path) -> str:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30)
        words = out.stdout.strip().split()
        return words[-1] if out.returncode == 0 and words else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def _time_command(cmd: list[str], cwd: str, rounds: int) -> tuple[list[float], subprocess.CompletedProcess]:
    times = []
    proc = None
    for _ in range(rounds):
        start = time.perf_counter()
        proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
        if proc.returncode != 0:
            break
    return times, proc


def bench_threatdesk(binary: Path, files: list[Path], rounds: int, startup_rounds: int) -> dict:
    # Run from an empty scratch directory so that nothing lands in the repository
    # (e.g. a default data folder), with absolute file paths.
    with tempfile.TemporaryDirectory(prefix="bench-ioc-peers-") as scratch:
        empty = Path(scratch) / "empty.txt"
        empty.write_bytes(b"")
        base = [str(binary), "extract", "--format", "jsonl"]

        # Warm the page cache / binary once, untimed.
        subprocess.run(base + [str(empty)], cwd=scratch, capture_output=True)

        times, proc = _time_command(base + [str(f) for f in files], scratch, rounds)
        if proc.returncode != 0:
            return {
                "tool": "threatdesk",
                "error": f"`{' '.join(base)} FILE...` -> exit status {proc.returncode}: "
                + proc.stderr.decode("utf-8", "replace").strip()[-800:],
            }
        findings = sum(1 for line in proc.stdout.splitlines() if line.strip())

        st_times, st_proc = _time_command(base + [str(empty)], scratch, startup_rounds)
        startup_s = min(st_times) if st_proc.returncode == 0 else None

    return {
        "tool": "threatdesk",
        "version": threatdesk_version(binary),
        "seconds": min(times),
        "round_seconds": times,
        "startup_seconds": startup_s,
        "findings": findings,
        "command": " ".join(base) + " FILE...",
    }


def bench_threatdesk_library(binary: Path, files: list[Path], rounds: int) -> dict:
    """The library in-process, through the extractor crate's timing example."""
    cmd = [str(binary), "--json", "--rounds", str(rounds)] + [str(f) for f in files]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"tool": "threatdesk-lib", "error": f"exit status {proc.returncode}: {proc.stderr.strip()[-800:]}"}
    try:
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        return {"tool": "threatdesk-lib", "seconds": result["seconds"], "findings": result["findings"]}
    except (IndexError, ValueError, KeyError, TypeError):
        return {"tool": "threatdesk-lib", "error": f"unexpected output: {proc.stdout.strip()[-200:]!r}"}


# -------------------------------------------------------------------------- output


def fmt(value, spec: str, missing: str = "-") -> str:
    return missing if value is None else format(value, spec)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of *.txt files (searched recursively)")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per tool; the best counts (default 3)")
    ap.add_argument("--bin", type=Path, default=DEFAULT_BIN, help="threatdesk binary (default target/release/threatdesk)")
    ap.add_argument("--lib-bin", type=Path, default=DEFAULT_LIB_BIN,
                    help="the extractor's timing example (default target/release/examples/timing)")
    ap.add_argument(
        "--tools",
        default="threatdesk," + ",".join(PEERS),
        help="comma-separated subset of: threatdesk," + ",".join(PEERS + EXTRA_PEERS)
        + " (default: the first four; ioc-finder-all is opt-in)",
    )
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON here")
    args = ap.parse_args()

    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    unknown = [t for t in tools if t != "threatdesk" and t not in PEERS + EXTRA_PEERS]
    if unknown:
        ap.error(f"unknown tool(s): {', '.join(unknown)}")

    corpus = args.corpus.resolve()
    files = sorted(p for p in corpus.rglob("*.txt") if p.is_file())
    if not files:
        print(f"error: no *.txt files under {corpus}", file=sys.stderr)
        return 2
    raw = [f.read_bytes() for f in files]
    texts = [b.decode("utf-8", errors="replace") for b in raw]
    total_bytes = sum(len(b) for b in raw)
    mb = total_bytes / 1e6

    print(f"corpus: {corpus}")
    print(f"        {len(files)} files, {total_bytes} bytes ({mb:.3f} MB, MB = 10^6 bytes)")
    print(f"rounds: {args.rounds} (best round counts)   python {platform.python_version()}   {os.cpu_count()} CPUs")
    print(flush=True)

    results: list[dict] = []
    notes: list[str] = []
    status = 0

    def measure_threatdesk(label: str, binary: Path, build: str, measure, summary) -> dict | None:
        """One threatdesk measurement: skipped with a note if the binary is missing; a
        failure is reported, noted and makes the script exit 1."""
        nonlocal status
        binary = binary.resolve()
        if not binary.is_file():
            msg = f"{label} skipped: {binary} does not exist ({build})"
            print(msg, flush=True)
            notes.append(msg)
            return None
        print(f"{label}: timing {binary} ...", flush=True)
        result = measure(binary)
        if "error" in result:
            msg = f"{label} FAILED: {result['error']}"
            print(msg, file=sys.stderr, flush=True)
            notes.append(msg)
            status = 1
            return None
        print("  " + summary(result), flush=True)
        return result

    td = lib = None
    if "threatdesk" in tools:
        td = measure_threatdesk(
            "threatdesk", args.bin, "cargo build --release -p threatdesk",
            lambda binary: bench_threatdesk(binary, files, args.rounds, max(args.rounds, 5)),
            lambda r: f"best {r['seconds']:.3f} s, start-up {fmt(r['startup_seconds'], '.3f')} s, "
                      f"{r['findings']} findings",
        )
        lib = measure_threatdesk(
            "threatdesk library", args.lib_bin,
            "cargo build --release -p threatdesk-extract --example timing",
            lambda binary: bench_threatdesk_library(binary, files, args.rounds),
            lambda r: f"best {r['seconds']:.4f} s, {r['findings']} findings",
        )

    for tool in PEERS + EXTRA_PEERS:
        if tool not in tools:
            continue
        print(f"{tool}: timing {args.rounds} round(s) ...", flush=True)
        try:
            r = bench_peer(tool, texts, args.rounds)
        except Exception as exc:  # an import or API failure in one peer must not hide the others
            msg = f"{tool} FAILED: {type(exc).__name__}: {exc}"
            print(msg, file=sys.stderr, flush=True)
            notes.append(msg)
            status = 1
            continue
        rounds_txt = ", ".join(f"{s:.2f}" for s in r["round_seconds"])
        print(f"  rounds {rounds_txt} s (setup+warm-up {r['setup_seconds']:.2f} s), {r['findings']} findings", flush=True)
        results.append(r)

    # Throughputs and ratios.
    td_mbps = td_mbps_net = lib_mbps = None
    rows = []
    if lib is not None:
        lib_mbps = mb / lib["seconds"]
        lib["mb_per_s"] = lib_mbps
        rows.append(("threatdesk (library, in-process)", "", lib["seconds"], lib_mbps, lib["findings"], None, None,
                     1.0, None))
    if td is not None:
        td_mbps = mb / td["seconds"]
        net = td["seconds"] - td["startup_seconds"] if td["startup_seconds"] is not None else None
        td_mbps_net = mb / net if net and net > 0 else None
        td["mb_per_s"] = td_mbps
        td["net_seconds"] = net
        td["mb_per_s_minus_startup"] = td_mbps_net
        rows.append(("threatdesk (end-to-end)", td["version"], td["seconds"], td_mbps, td["findings"], 1.0, None,
                     None, None))
        rows.append(("threatdesk (minus start-up)", td["version"], net, td_mbps_net, td["findings"], None,
                     1.0 if td_mbps_net else None, None, None))
    for r in results:
        r["mb_per_s"] = mb / r["seconds"]
        r["ratio"] = td_mbps / r["mb_per_s"] if td_mbps else None
        r["ratio_minus_startup"] = td_mbps_net / r["mb_per_s"] if td_mbps_net else None
        r["ratio_library"] = lib_mbps / r["mb_per_s"] if lib_mbps else None
        r["reference_mb_per_s"] = REFERENCE_MBPS.get(r["tool"])  # none for ioc-finder-all
        rows.append((r["tool"], r["version"], r["seconds"], r["mb_per_s"], r["findings"], r["ratio"],
                     r["ratio_minus_startup"], r["ratio_library"], r["reference_mb_per_s"]))

    print()
    head = ("tool", "version", "seconds", "MB/s", "findings", "ratio", "ratio*", "ratio lib", "reference MB/s")
    table = [head] + [
        (name, ver, fmt(sec, ".4f"), fmt(mbps, ".3f"), str(n), fmt(ratio, ".1f"), fmt(ratio2, ".1f"),
         fmt(ratio3, ".0f"), fmt(ref, ".2f"))
        for name, ver, sec, mbps, n, ratio, ratio2, ratio3, ref in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for i, row in enumerate(table):
        cells = [row[0].ljust(widths[0]), row[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(row[2:], widths[2:])]
        print("  ".join(cells).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    print()
    print("seconds: best of --rounds; MB/s: corpus MB / seconds.")
    print("ratio  = threatdesk end-to-end MB/s (process start-up included) / tool MB/s")
    print("ratio* = threatdesk MB/s with start-up subtracted (time on one empty file) / tool MB/s")
    print("ratio lib = threatdesk library MB/s, in-process like the Python peers / tool MB/s")
    print("reference MB/s: earlier figures on this machine kind, for context (not measured in this run).")
    print("findings are each tool's own count and are not comparable one to one (see the script's docstring).")
    if td is None and "threatdesk" in tools:
        print("threatdesk was not measured: ratios are left blank.")
    for n in notes:
        print(f"note: {n}")

    if args.json:
        doc = {
            "corpus": str(corpus),
            "files": len(files),
            "bytes": total_bytes,
            "mb": mb,
            "rounds": args.rounds,
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "threatdesk": td,
            "threatdesk_library": lib,
            "peers": results,
            "reference_mb_per_s": REFERENCE_MBPS,
            "notes": notes,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(doc, indent=2) + "\n")
        print(f"wrote {args.json}")
    return status


if __name__ == "__main__":
    sys.exit(main())
