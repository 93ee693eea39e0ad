"""Fuzz tfjpeg's JPEG readers with hostile files; print the outcome table per target.

Every case is ``(kind, seed)`` → bytes (``benchmarks/fuzzlib.py``: mutations of valid seed files
and structural hostile files), run in long-lived capped worker processes per target (address
space capped a few GB above a normal call's peak, a wall-clock timeout with kill). Outcomes per
target: ok, refused (a tfjpeg error), refused-other (graph targets: a stock TF op's
InvalidArgumentError), accept-corrupt (a graph target decodes a file whose entropy-coded data
``read_jpeg`` finds corrupt; documented), and the bad ones: error (a non-tfjpeg exception),
crash, timeout, memory, disagree-accept (a graph target decodes a file ``read_jpeg`` refuses for
another reason), disagree-output (both decode, but tables, geometry or many coefficients differ).

Usage::

    python benchmarks/fuzz.py --cases 1000                       # all targets but cli-proc
    python benchmarks/fuzz.py --cases 200 --targets graph,read_jpeg --jobs 2
    python benchmarks/fuzz.py --replay huge-sof:1 --target graph --timeout 120 --save case.jpg
    python benchmarks/fuzz.py --list-kinds

Writes ``fuzz.json`` (every case) and ``fuzz.md`` (the table and examples) to ``--out``
(default ``./fuzz_results``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fuzzlib

DEFAULT_TARGETS = ("read_jpeg", "decode_pixels", "graph", "savedmodel", "cli")


def _parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=1000, help="cases per target (default 1000)")
    p.add_argument("--first-seed", type=int, default=0, help="first seed of every kind")
    p.add_argument("--kinds", default="", help="comma-separated kinds (default: all)")
    p.add_argument(
        "--targets",
        default=",".join(DEFAULT_TARGETS),
        help=f"comma-separated, of {', '.join(fuzzlib.TARGETS)}",
    )
    p.add_argument(
        "--target-cases",
        default="",
        help="per-target case counts overriding --cases, e.g. cli=300,cli-proc=20",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=fuzzlib.DEFAULT_TIMEOUT,
        help="seconds per case (cli-proc: max of this and 120)",
    )
    p.add_argument(
        "--headroom-gb",
        type=float,
        default=fuzzlib.DEFAULT_HEADROOM_GB,
        help="address space a worker may use above its warm-up peak",
    )
    p.add_argument("--jobs", type=int, default=1, help="targets run concurrently")
    p.add_argument("--examples", type=int, default=4, help="examples listed per bad class")
    p.add_argument(
        "--model-dir",
        default="",
        help="exported decoder for the savedmodel target (default: a tiny random one "
        "exported once into a temp folder)",
    )
    p.add_argument("--out", default="fuzz_results", help="output folder (default ./fuzz_results)")
    p.add_argument("--replay", default="", metavar="KIND:SEED", help="run one case and print it")
    p.add_argument("--target", default="graph", help="target of --replay")
    p.add_argument("--save", default="", help="with --replay: write the case's bytes here")
    p.add_argument(
        "--rescore",
        default="",
        metavar="DIR",
        help="re-judge DIR/fuzz.json with the current rules; rewrite its report",
    )
    p.add_argument("--list-kinds", action="store_true")
    return p.parse_args(argv)


def _model_dir(args) -> str:
    if args.model_dir:
        return args.model_dir
    folder = Path(tempfile.gettempdir()) / f"tfjpeg-fuzz-decoder-{os.getuid()}"
    print(f"exporting a tiny random ConsistentDecoder to {folder} ...", flush=True)
    return fuzzlib.export_tiny_decoder(folder)


def replay(args) -> int:
    kind, _, seed = args.replay.partition(":")
    data = fuzzlib.make_case(kind, int(seed))
    if args.save:
        Path(args.save).write_bytes(data)
    model_dir = _model_dir(args) if args.target == "savedmodel" else None
    timeout = args.timeout if args.target != "cli-proc" else max(args.timeout, 120)
    worker = fuzzlib.Worker(
        args.target, model_dir=model_dir, timeout=timeout, headroom_gb=args.headroom_gb
    )
    try:
        outcome, detail, seconds = worker.run(data)
    finally:
        worker.close()
    print(
        f"case {kind}:{seed} ({len(data)} bytes, head {data[:16].hex()}) on {args.target}: "
        f"{outcome} in {seconds:.2f} s (worker peak {worker.peak / 2**30:.2f} GiB, "
        f"cap {worker.cap / 2**30:.2f} GiB)\n{detail}"
    )
    return 0 if outcome not in fuzzlib.BAD_OUTCOMES else 1


def _table_md(table, targets) -> str:
    head = "| target | cases | " + " | ".join(fuzzlib.OUTCOMES) + " |"
    sep = "|---|---:|" + "---:|" * len(fuzzlib.OUTCOMES)
    rows = [head, sep]
    for t in targets:
        row = table.get(t, dict.fromkeys(fuzzlib.OUTCOMES, 0))
        cells = [
            f"**{row[o]}**" if o in fuzzlib.BAD_OUTCOMES and row[o] else str(row[o])
            for o in fuzzlib.OUTCOMES
        ]
        rows.append(f"| {t} | {sum(row.values())} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _examples_md(results, targets, n) -> str:
    lines = []
    for t in targets:
        for outcome in fuzzlib.BAD_OUTCOMES:
            bad = [r for r in results if r.target == t and r.outcome == outcome]
            if not bad:
                continue
            kinds = Counter(r.kind for r in bad)
            lines.append(
                f"\n**{t} / {outcome}** ({len(bad)}; by kind: "
                + ", ".join(f"{k} {c}" for k, c in kinds.most_common())
                + ")\n"
            )
            shown, seen_kinds = [], set()
            for r in bad:  # one per kind first, then the rest
                if r.kind not in seen_kinds:
                    shown.append(r)
                    seen_kinds.add(r.kind)
            shown += [r for r in bad if r not in shown]
            for r in shown[:n]:
                detail = r.detail.replace("|", "/").replace("\n", " ")[:260]
                lines.append(f"- `{r.kind}:{r.seed}` ({r.size} B, {r.seconds:.2f} s): {detail}")
    return "\n".join(lines)


def _short(detail: str) -> str:
    """``Type: message`` of a refusal, module paths and tfjpeg's graph prefix dropped, cut."""
    head, _, message = detail.partition(": ")
    message = message.replace("[Cannot read JPEG coefficients.] ", "").strip(" [")
    return f"{head.rsplit('.', 1)[-1]}: {message[:80]}"


def _refusal_md(results, targets) -> str:
    lines = []
    for t in targets:
        msgs = Counter(
            _short(r.detail)
            for r in results
            if r.target == t and r.outcome in ("refused", "refused-other")
        )
        if msgs:
            lines.append(f"\n{t}: " + "; ".join(f"{c} x {m}" for m, c in msgs.most_common(6)))
    return "\n".join(lines)


def campaign(args) -> int:
    targets = [t for t in args.targets.split(",") if t]
    for t in targets:
        if t not in fuzzlib.TARGETS:
            raise SystemExit(f"unknown target {t!r}; choose from {', '.join(fuzzlib.TARGETS)}")
    counts = {t: args.cases for t in targets}
    for item in filter(None, args.target_cases.split(",")):
        name, _, n = item.partition("=")
        counts[name] = int(n)
    kinds = [k for k in args.kinds.split(",") if k]
    model_dir = _model_dir(args) if "savedmodel" in targets else None
    plan_all = fuzzlib.case_plan(max(counts.values()), args.first_seed)
    if kinds:
        plan_all = [
            c
            for c in fuzzlib.case_plan(max(counts.values()) * len(fuzzlib.KINDS), args.first_seed)
            if c[0] in kinds
        ]
        plan_all = plan_all[: max(counts.values())]
    results: list[fuzzlib.Result] = []
    workers = {}
    lock = threading.Lock()
    start = time.time()
    if "cli-proc" in targets and "TFJPEG_FUZZ_CLI_CAP" not in os.environ:
        os.environ["TFJPEG_FUZZ_CLI_CAP"] = str(int((2.0 + args.headroom_gb) * 2**30 + 2**30))

    def progress(i, r, worker):
        workers[r.target] = worker
        if r.outcome in fuzzlib.BAD_OUTCOMES or (i + 1) % 100 == 0:
            with lock:
                print(
                    f"[{time.time() - start:6.0f}s] {r.target} #{i + 1} {r.kind}:{r.seed} "
                    f"{r.outcome} {r.detail[:110]!r}",
                    flush=True,
                )

    def run_target(t):
        timeout = args.timeout if t != "cli-proc" else max(args.timeout, fuzzlib.CLI_PROC_TIMEOUT)
        res = fuzzlib.run_cases(
            t,
            plan_all[: counts[t]],
            model_dir=model_dir,
            timeout=timeout,
            headroom_gb=args.headroom_gb,
            progress=progress,
        )
        with lock:
            results.extend(res)

    pending = list(targets)
    threads: list[threading.Thread] = []
    while pending or threads:
        threads = [th for th in threads if th.is_alive()]
        while pending and len(threads) < max(1, args.jobs):
            th = threading.Thread(target=run_target, args=(pending.pop(0),), daemon=True)
            th.start()
            threads.append(th)
        time.sleep(0.2)
    elapsed = time.time() - start
    caps = {
        t: {"peak_gib": round(w.peak / 2**30, 2), "cap_gib": round(w.cap / 2**30, 2),
            "restarts": w.restarts}
        for t, w in workers.items()
    }  # fmt: skip
    meta = {
        "command": "python benchmarks/fuzz.py " + " ".join(sys.argv[1:]),
        "elapsed_s": round(elapsed, 1),
        "targets": targets,
        "counts": counts,
        "timeout_s": args.timeout,
        "headroom_gb": args.headroom_gb,
        "cpus": os.cpu_count(),
        "workers": caps,
    }
    return report(results, meta, Path(args.out), args.examples)


def report(results, meta, out: Path, examples: int = 4) -> int:
    """Rescore, print and write ``fuzz.md``, ``fuzz.json`` (every case) and
    ``fuzz_summary.json`` (the table and the bad cases only); 1 if any bad outcome."""
    targets = meta["targets"]
    results = [fuzzlib.rescore(r) for r in results]
    results.sort(key=lambda r: (targets.index(r.target), r.kind, r.seed))
    table = fuzzlib.tally(results)
    caps = meta["workers"]
    counts = meta["counts"]
    md = [
        "# tfjpeg fuzz campaign",
        "",
        f"Command: `{meta['command']}`; cases per target: "
        f"{', '.join(f'{t} {counts[t]}' for t in targets)}; timeout {meta['timeout_s']:g} s "
        f"(cli-proc {fuzzlib.CLI_PROC_TIMEOUT:g} s); {meta['elapsed_s']:.0f} s wall on "
        f"{meta['cpus']} shared CPUs. Worker address-space caps (peak after warm-up + "
        f"{meta['headroom_gb']:g} GiB headroom): "
        + ", ".join(
            f"{t} {c['peak_gib']}+{meta['headroom_gb']:g} GiB ({c['restarts']} restarts)"
            for t, c in caps.items()
        )
        + f". Coefficient tolerance of the graph comparison: "
        f"{fuzzlib.COEFFICIENT_TOLERANCE:.0%}.",
        "",
        _table_md(table, targets),
        "",
        "Bad classes: " + ", ".join(fuzzlib.BAD_OUTCOMES) + ". Replay one case with "
        "`python benchmarks/fuzz.py --replay KIND:SEED --target TARGET`.",
        "",
        "## Examples of bad outcomes",
        _examples_md(results, targets, examples),
        "",
        "## Most common refusals",
        _refusal_md(results, targets),
        "",
    ]
    text = "\n".join(md)
    print(text)
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz.md").write_text(text + "\n", encoding="utf-8")
    payload = dict(meta, table=table, results=[r.__dict__ for r in results])
    (out / "fuzz.json").write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
    # A small summary (the table and the bad cases) that can be kept with the results.
    bad_cases = [
        {k: (v[:300] if k == "detail" else v) for k, v in r.__dict__.items()}
        for r in results
        if r.outcome in fuzzlib.BAD_OUTCOMES
    ]
    summary = dict(meta, table=table, bad_cases=bad_cases)
    (out / "fuzz_summary.json").write_text(json.dumps(summary, indent=1) + "\n", encoding="utf-8")
    print(f"\nwrote {out / 'fuzz.md'}, {out / 'fuzz.json'} and {out / 'fuzz_summary.json'}")
    bad = sum(row[o] for row in table.values() for o in fuzzlib.BAD_OUTCOMES)
    return 1 if bad else 0


def rescore(args) -> int:
    """Re-judge a finished campaign's ``fuzz.json`` (in ``--rescore``) and rewrite its report."""
    folder = Path(args.rescore)
    payload = json.loads((folder / "fuzz.json").read_text(encoding="utf-8"))
    results = [fuzzlib.Result(**r) for r in payload.pop("results")]
    payload.pop("table", None)
    payload.setdefault("headroom_gb", fuzzlib.DEFAULT_HEADROOM_GB)
    payload.setdefault("cpus", os.cpu_count())
    return report(results, payload, Path(args.out if args.out != "fuzz_results" else folder),
                  args.examples)  # fmt: skip


def main(argv=None) -> int:
    args = _parse_args(argv)
    if args.list_kinds:
        print("\n".join(fuzzlib.KINDS))
        return 0
    if args.replay:
        return replay(args)
    if args.rescore:
        return rescore(args)
    return campaign(args)


if __name__ == "__main__":
    sys.exit(main())
