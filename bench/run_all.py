"""Run every benchmark, print a table of figures vs targets, write one JSON file.

    python bench/run_all.py --out bench-results.json          # the full run (~4-5 min on 2 cores)
    python bench/run_all.py --quick --out bench-quick.json    # a small run (~1.5 min)
    python bench/run_all.py --only core_throughput,memory_24h

Each benchmark runs in its own process, one after the other (so they neither share memory
nor compete for the CPU), as ``python bench/<name>.py [--quick] --json <tmp>``. The JSON file
holds the machine (CPU model, cores, Python, load average, git commit, date), every
benchmark's full result and a flat list of checks. Benchmarks are not tests: they never fail
the command on a missed target (the exit code is non-zero only if a benchmark crashed).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, REPO, machine_info  # noqa: E402

BENCHMARKS = ("core_throughput", "replay_vs_parse", "replay_floor", "live_latency", "decision_path", "cockpit_feed", "memory_24h",
              "sweep")


def run_one(name: str, quick: bool, extra: list[str], timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp) / f"{name}.json"
        cmd = [sys.executable, str(BENCH_DIR / f"{name}.py"), "--json", str(out), *(["--quick"] if quick else []), *extra]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return {"benchmark": name, "error": f"timed out after {timeout:.0f} s",
                    "stderr_tail": (e.stderr or "")[-2000:] if isinstance(e.stderr, str) else ""}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out.exists():
            return {"benchmark": name, "error": f"exit code {proc.returncode}", "stderr_tail": proc.stderr[-2000:],
                    "bench_wall_s": round(wall, 1)}
        res = json.loads(out.read_text(encoding="utf-8"))
        res["bench_wall_s"] = round(wall, 1)
        return res


def fmt_value(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if abs(v) >= 10_000:
            return f"{v:,.0f}"
        return f"{v:.3g}" if isinstance(v, float) else str(v)
    return "—" if v is None else str(v)


def table(results: list[dict]) -> str:
    rows = [("benchmark", "check", "value", "target", "")]
    for r in results:
        if "error" in r:
            rows.append((r["benchmark"], "ERROR", r["error"], "", "ERROR"))
            continue
        for c in r.get("checks", ()):
            target = f"{c['op']} {fmt_value(c['target'])} {c.get('unit', '')}".strip()
            rows.append((r["benchmark"], c["name"], fmt_value(c["value"]), target, "pass" if c["pass"] else "MISS"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(5)]
    lines = []
    for k, row in enumerate(rows):
        lines.append("  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default="bench-results.json", help="JSON file to write (default bench-results.json)")
    p.add_argument("--quick", action="store_true", help="small sizes: a quick look, not the figures of record")
    p.add_argument("--only", default="", help="comma list of benchmarks to run")
    p.add_argument("--timeout", type=float, default=1800.0, help="per benchmark, seconds")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark(s): {', '.join(sorted(unknown))} (known: {', '.join(BENCHMARKS)})")

    machine = machine_info()
    print(f"machine: {machine['cpu_model']}, {machine['cores']} cores, Python {machine['python']}, "
          f"load {machine['loadavg_at_start']}, commit {machine['git_commit']}"
          f"{' (+%d changed core/tui files)' % machine['git_dirty_core_tui_files'] if machine['git_dirty_core_tui_files'] else ''}",
          flush=True)
    results = []
    t0 = time.perf_counter()
    for name in names:
        print(f"running {name}{' --quick' if args.quick else ''} ...", flush=True)
        res = run_one(name, args.quick, [], args.timeout)
        results.append(res)
        status = res.get("error") or ", ".join(
            f"{c['name']}: {fmt_value(c['value'])} {'pass' if c['pass'] else 'MISS'}" for c in res.get("checks", ()))
        print(f"  {name} ({res.get('bench_wall_s', '?')} s): {status}", flush=True)
    total = time.perf_counter() - t0
    try:
        machine["loadavg_at_end"] = [round(x, 2) for x in __import__("os").getloadavg()]
    except OSError:
        pass
    checks = [{"benchmark": r["benchmark"], **c} for r in results for c in r.get("checks", ())]
    doc = {
        "command": " ".join(["python", "bench/run_all.py", *(sys.argv[1:] if argv is None else argv)]),
        "quick": args.quick,
        "machine": machine,
        "total_wall_s": round(total, 1),
        "summary": {"checks": len(checks), "passed": sum(c["pass"] for c in checks),
                    "missed": [f"{c['benchmark']}: {c['name']}" for c in checks if not c["pass"]],
                    "errors": [r["benchmark"] for r in results if "error" in r]},
        "checks": checks,
        "results": {r["benchmark"]: r for r in results},
    }
    Path(args.out).write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print()
    print(table(results))
    print(f"\n{doc['summary']['passed']}/{len(checks)} targets met; {total:.0f} s; written to {args.out}")
    return 1 if doc["summary"]["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
