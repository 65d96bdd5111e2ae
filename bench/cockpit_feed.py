"""The cockpit in a pseudo-terminal: CPU and event-loop lag under a fast feed, idle CPU, first paint.

    python bench/cockpit_feed.py [--seconds 60] [--rate 5000] [--idle] [--real] [--size 120x40] [--quick]

Scenarios (``--scenarios feed,idle,real``; ``--idle`` = idle only):

* ``feed``: ``bench/_cockpit_child.py`` -- the real ``tui.app.CockpitApp`` over the bench's
  fake host (``_cockpit_host.FeedHost``) -- in a pexpect pseudo-terminal (120x40,
  ``TERM=xterm-256color``). After a warm-up, a producer thread hands ``--rate`` messages/s to
  the loop through ``core.handoff.LoopHandoff.put_latest`` -- the product's hand-off, with the
  setting ``core/venues/bybit_streams.py`` uses for the top of book and the ticker: the newest
  value waits under a lock, at most one ``call_soon_threadsafe`` is pending, and a busy feed
  reaches the loop about every 20 ms (``MARKET_DATA_MIN_INTERVAL_S``) -- for ``--seconds``.
  Measured over the feed window: the app process's CPU from
  ``/proc/<pid>/stat`` (utime+stime over wall; also without the producer thread, read from
  ``/proc/<pid>/task/<tid>/stat``), the loop lag (an ``asyncio.sleep(0.02)`` probe inside the
  app: how late it wakes; p50/p99/max), terminal output bytes/s, thread wake-ups and deliveries
  to the loop per second, and whether the
  final screen shows the feed's last net delta (``net +0.xxxxxx`` in the Net delta pane).
  ``messages_received = messages_delivered + messages_conflated`` must equal ``messages_sent``
  (nothing lost on the way).
  Targets: CPU <= 15 % of one core, lag p99 <= 50 ms, final state equal.
* ``feed10`` (issue 18): the same feed, its ``--rate`` in total spread over ten symbols (one
  stream each): the snapshot carries every symbol's overview row, the cockpit shows the
  overview on top. Targets as ``feed``.
* ``idle``: the same app with a quiet market (1 message/s) for ``--idle-seconds``.
  Target: <= 3 % of one core.
* ``real``: the real program (``rebalancer_main.py`` with examples/paper-realistic.yaml: paper
  venue, synthetic market at speed 1, journal in a temp dir) -- start to first paint and to
  the first decision on screen, and its CPU for ``--real-seconds`` (for information: a live engine, not idle).

Start to first paint = spawn to the first screen that shows the panes ("Net delta" and the
footer's "KILL"). Target: <= 1.5 s (the fake-host child and the real program are both reported;
the check uses the real program when it ran). ``first_paint_cpu_s`` is the CPU the process had
used by then: unlike the wall time it hardly moves when the machine is shared.
``--per-message`` adds a feed run with the old hand-off, one ``call_soon_threadsafe`` per
message (for comparison). ``--py-spy`` samples the app
during the feed and idle windows (py-spy must be installed; it is not a project dependency) and
adds the top functions by self and inclusive samples.

The parent drains the terminal continuously into a pyte screen (so the child never blocks on
output); its own CPU is reported separately (``parent_cpu_pct``).
"""

from __future__ import annotations

import argparse
import json
import os

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import BENCH_DIR, REPO, add_common_args, check, cpu_seconds, emit, result, rnd  # noqa: E402

TARGET_FEED_CPU = 15.0
TARGET_IDLE_CPU = 3.0
TARGET_LAG_P99_MS = 50.0
TARGET_FIRST_PAINT_S = 1.5
CHILD = BENCH_DIR / "_cockpit_child.py"


class Term:
    """A pexpect child read into a pyte screen; counts bytes and samples the child's CPU."""

    def __init__(self, argv: list[str], cols: int, rows: int, env: dict, cwd: str | None = None) -> None:
        import pexpect
        import pyte

        self.pexpect = pexpect
        self.t_spawn = time.monotonic()
        self.child = pexpect.spawn(argv[0], argv[1:], env=env, cwd=cwd, dimensions=(rows, cols), encoding="utf-8",
                                   codec_errors="replace", timeout=30)
        self.screen = pyte.Screen(cols, rows)
        self.stream = pyte.Stream(self.screen)
        self.bytes = 0
        self.log: list[tuple[float, int]] = []  # (monotonic, bytes so far)

    @property
    def pid(self) -> int:
        return self.child.pid

    def text(self) -> str:
        return "\n".join(self.screen.display)

    def pump(self, timeout: float = 0.05) -> bool:
        try:
            data = self.child.read_nonblocking(1 << 16, timeout=timeout)
        except self.pexpect.TIMEOUT:
            return True
        except self.pexpect.EOF:
            return False
        self.bytes += len(data.encode("utf-8", "replace"))
        self.log.append((time.monotonic(), self.bytes))
        self.stream.feed(data)
        return True

    def wait_for(self, pred, seconds: float) -> float | None:
        """Pump until ``pred(screen text)``; returns the monotonic time it became true (or None)."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            if not self.pump(0.02):
                return time.monotonic() if pred(self.text()) else None
            if pred(self.text()):
                return time.monotonic()
        return None

    def bytes_between(self, t0: float, t1: float) -> int:
        before = [b for t, b in self.log if t <= t0]
        upto = [b for t, b in self.log if t <= t1]
        return (upto[-1] if upto else 0) - (before[-1] if before else 0)

    def quit(self, keys: str = "\x1b[C\r") -> bool:
        """q, then the quit dialog's choice (default: right to "Keep & quit", enter); True on a clean exit."""
        ok = False
        try:
            self.child.send("q")
            if self.wait_for(lambda t: "Quit the rebalancer?" in t, 10):
                self.child.send(keys)
                end = time.monotonic() + 20
                while time.monotonic() < end and self.pump(0.1):
                    pass
                ok = not self.child.isalive()
        finally:
            if self.child.isalive():
                self.child.terminate(force=True)
        self.child.close()
        return ok and self.child.exitstatus == 0


def panes_shown(text: str) -> bool:
    return "Net delta" in text and "KILL" in text


def _env(cols: int, rows: int, extra: dict | None = None) -> dict:
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
    env.pop("NO_COLOR", None)
    env.pop("TEXTUAL", None)
    if extra:
        env.update(extra)
    return env


_BASE_PICKLE: bytes | None = None


def _base_pickle() -> bytes:
    """The child's starting snapshot, built once here (so the child's start-up is the UI's alone)."""
    global _BASE_PICKLE
    if _BASE_PICKLE is None:
        import pickle

        from _cockpit_host import base_state

        _BASE_PICKLE = pickle.dumps(base_state())
    return _BASE_PICKLE


def _py_spy() -> str | None:
    exe = Path(sys.executable).with_name("py-spy")
    return str(exe) if exe.exists() else shutil.which("py-spy")


_GENERIC_FRAMES = ("runners.py", "base_events.py", "events.py:", "threading.py", "_cockpit_child.py", "_callback.py",
                   "App.run ", "timer.py")


def summarise_collapsed(text: str, limit: int = 15) -> dict:
    """Top functions by self and by inclusive samples from py-spy's collapsed ("raw") output."""
    self_n: dict[str, int] = {}
    incl_n: dict[str, int] = {}
    total = 0
    for line in text.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] + " (" + f.split(" (")[-1].split("/")[-1] if " (" in f else f
                  for f in stack.split(";")]
        self_n[frames[-1]] = self_n.get(frames[-1], 0) + n
        for f in set(frames):
            incl_n[f] = incl_n.get(f, 0) + n

    for k in [k for k in incl_n if any(g in k for g in _GENERIC_FRAMES)]:
        del incl_n[k]

    def top(d: dict) -> list[dict]:
        return [{"function": k, "pct": round(100.0 * v / total, 1)}
                for k, v in sorted(d.items(), key=lambda kv: kv[1], reverse=True)[:limit]]

    return {"samples": total, "top_self": top(self_n), "top_inclusive": top(incl_n)}


def run_fake(rate: float, seconds: float, cols: int, rows: int, warmup: float = 2.0, per_message: bool = False,
             py_spy: bool = False, symbols: int = 1) -> dict:
    """One run of the child over the fake host; returns its figures."""
    from tui import fmt

    tmp = Path(tempfile.mkdtemp(prefix="bench-cockpit-"))
    stats_path = tmp / "stats.json"
    (tmp / "base.pickle").write_bytes(_base_pickle())
    argv = [sys.executable, str(CHILD), "--rate", str(rate), "--seconds", str(seconds), "--warmup", str(warmup),
            "--stats", str(stats_path), "--log", str(tmp / "cockpit.log"), "--base-state", str(tmp / "base.pickle")]
    if per_message:
        argv.append("--per-message")
    if symbols > 1:
        argv += ["--symbols", str(symbols)]
    p0 = cpu_seconds()
    w0 = time.monotonic()
    term = Term(argv, cols, rows, _env(cols, rows), cwd=str(REPO))
    try:
        t_paint = term.wait_for(panes_shown, 30)
        first_paint = (t_paint - term.t_spawn) if t_paint else None
        paint_cpu = cpu_seconds(term.pid) if t_paint else None
        first_screen = term.text()
        spy = None
        spy_out = tmp / "py-spy.txt"
        if py_spy and _py_spy():
            # sample the child during the feed (starts at ~warm-up after mount)
            end = time.monotonic() + warmup + 0.5
            while time.monotonic() < end and term.pump(0.05):
                pass
            spy = subprocess.Popen([_py_spy(), "record", "--pid", str(term.pid), "--duration",
                                    str(max(1, int(seconds - 1))), "--format", "raw", "--gil",
                                    "--output", str(spy_out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # drain the terminal until the child has written its stats (feed over + settle)
        deadline = time.monotonic() + warmup + seconds + 60
        while not stats_path.exists() and time.monotonic() < deadline:
            if not term.pump(0.05):
                break
        profile = None
        if spy is not None:
            try:
                spy.wait(timeout=30)
                profile = summarise_collapsed(spy_out.read_text()) if spy_out.exists() else None
            except subprocess.TimeoutExpired:
                spy.kill()
        end = time.monotonic() + 0.6
        while time.monotonic() < end and term.pump(0.05):
            pass
        stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
        screen = term.text()
        final = stats.get("final") or {}
        expected = ("net " + fmt.num(final["net_base"], 6, sign=True)) if final else None
        # the last value is on the final screen, and was not there before the feed
        final_ok = bool(expected and expected in screen and expected not in first_screen)
        t_s, t_e = stats.get("t_feed_start"), stats.get("t_feed_end")
        out_bytes = term.bytes_between(t_s, t_e) if t_s and t_e else None
        clean_exit = term.quit()
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
    parent_cpu = cpu_seconds() - p0
    parent_wall = time.monotonic() - w0
    shutil.rmtree(tmp, ignore_errors=True)
    wall = stats.get("feed_wall_s")
    return {
        "rate_target": rate,
        "seconds": seconds,
        "first_paint_s": rnd(first_paint, 3),
        "first_paint_cpu_s": rnd(paint_cpu, 3),
        "handoff": "per_message" if per_message else "loop_handoff",
        "messages_sent": stats.get("sent"),
        # every message the host got: delivered to the loop, or replaced there by a newer value
        "messages_received": ((stats.get("received") or 0) + (stats.get("conflated") or 0)
                              if stats.get("received") is not None else None),
        "messages_delivered": stats.get("received"),
        "messages_conflated": stats.get("conflated"),
        "messages_lost": ((stats["sent"] - stats["received"] - (stats.get("conflated") or 0))
                          if stats.get("sent") is not None and stats.get("received") is not None else None),
        "thread_wakeups_per_s": rnd(stats["thread_wakeups"] / wall, 1) if wall and stats.get("thread_wakeups") is not None else None,
        "deliveries_per_s": rnd(stats["deliveries"] / wall, 1) if wall and stats.get("deliveries") is not None else None,
        "rate_achieved": rnd(stats.get("rate_achieved"), 1),
        "cpu_pct": rnd(stats.get("cpu_pct"), 2),
        "cpu_pct_excl_producer": rnd(stats.get("cpu_pct_excl_producer"), 2),
        "producer_cpu_pct": rnd(100.0 * stats["producer_cpu_s"] / wall, 2) if wall and stats.get("producer_cpu_s") else None,
        "lag_p50_ms": rnd(stats.get("lag_p50_ms"), 2),
        "lag_p99_ms": rnd(stats.get("lag_p99_ms"), 2),
        "lag_max_ms": rnd(stats.get("lag_max_ms"), 2),
        "lag_samples": stats.get("lag_samples"),
        "renders_in_feed": stats.get("renders_in_feed"),
        "renders_per_s": rnd(stats["renders_in_feed"] / wall, 2) if wall and stats.get("renders_in_feed") is not None else None,
        "snapshots": stats.get("snapshots"),
        "ui_errors": stats.get("ui_errors"),
        "terminal_kib_per_s": rnd(out_bytes / 1024 / wall, 1) if out_bytes is not None and wall else None,
        "final_expected": expected,
        "final_state_shown": final_ok,
        "clean_exit": clean_exit,
        "parent_cpu_pct": rnd(100.0 * parent_cpu / parent_wall, 1),
        **({"py_spy": profile} if profile else {}),
    }


def run_real(seconds: float, cols: int, rows: int) -> dict:
    """The real program on the paper venue: first paint, first price, CPU over ``seconds``."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-real-"))
    cfg = (REPO / "examples" / "paper-realistic.yaml").read_text()  # config.yaml's demo market trades more
    (tmp / "config.yaml").write_text(cfg)
    argv = [sys.executable, str(REPO / "rebalancer_main.py"), "--config", str(tmp / "config.yaml"),
            "--mode", "auto"]
    term = Term(argv, cols, rows, _env(cols, rows, {"REBALANCER_DATA_DIR": str(tmp / "data")}), cwd=str(tmp))
    figures: dict = {}
    try:
        t_paint = term.wait_for(panes_shown, 30)
        paint_cpu = cpu_seconds(term.pid) if t_paint else None
        t_dec = term.wait_for(lambda t: panes_shown(t) and "no decision yet" not in t and "why  —" not in t, 30)
        figures["first_paint_s"] = rnd(t_paint - term.t_spawn, 3) if t_paint else None
        figures["first_paint_cpu_s"] = rnd(paint_cpu, 3)
        figures["first_decision_s"] = rnd(t_dec - term.t_spawn, 3) if t_dec else None
        # CPU over a window that starts 2 s after the first data
        end = time.monotonic() + 2.0
        while time.monotonic() < end and term.pump(0.05):
            pass
        c0, w0 = cpu_seconds(term.pid), time.monotonic()
        end = w0 + seconds
        while time.monotonic() < end and term.pump(0.05):
            pass
        c1, w1 = cpu_seconds(term.pid), time.monotonic()
        figures["cpu_pct"] = rnd(100.0 * (c1 - c0) / (w1 - w0), 2)
        figures["terminal_kib_per_s"] = rnd(term.bytes_between(w0, w1) / 1024 / (w1 - w0), 1)
        figures["seconds"] = seconds
        figures["clean_exit"] = term.quit("\x1b[C\x1b[C\r")  # Cancel & quit
    finally:
        if term.child.isalive():
            term.child.terminate(force=True)
        shutil.rmtree(tmp, ignore_errors=True)
    return figures


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--seconds", type=float, default=None, help="feed duration (default 60; quick 5)")
    p.add_argument("--rate", type=float, default=5000.0, help="feed messages per second")
    p.add_argument("--idle-seconds", type=float, default=None, help="idle duration (default 20; quick 3)")
    p.add_argument("--real-seconds", type=float, default=None, help="real-program CPU window (default 15; quick 3)")
    p.add_argument("--idle", action="store_true", help="only the idle scenario")
    p.add_argument("--real", action="store_true", help="only the real-program scenario")
    p.add_argument("--scenarios", default="feed,feed10,idle,real")
    p.add_argument("--size", default="120x40", help="terminal COLSxROWS")
    p.add_argument("--py-spy", action="store_true",
                   help="profile the app during the feed / idle runs with py-spy (if installed) and summarise")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds between the app's start and the feed")
    p.add_argument("--per-message", action="store_true",
                   help="feed: also run with the old hand-off, one call_soon_threadsafe per message (comparison)")
    args = p.parse_args(argv)
    cols, rows = (int(x) for x in args.size.lower().split("x"))
    seconds = args.seconds or (5.0 if args.quick else 60.0)
    idle_s = args.idle_seconds or (3.0 if args.quick else 20.0)
    real_s = args.real_seconds or (3.0 if args.quick else 15.0)
    scen = ["idle"] if args.idle else ["real"] if args.real else [s.strip() for s in args.scenarios.split(",") if s.strip()]

    figures: dict = {}
    checks = []
    if "feed" in scen:
        f = figures["feed"] = run_fake(args.rate, seconds, cols, rows, warmup=args.warmup, py_spy=args.py_spy)
        checks += [
            check(f"cockpit CPU under {args.rate:,.0f} msgs/s", f["cpu_pct"], "<=", TARGET_FEED_CPU, "% of a core"),
            check("cockpit loop lag p99 under feed", f["lag_p99_ms"], "<=", TARGET_LAG_P99_MS, "ms"),
            check("final state shown = feed's last state", f["final_state_shown"], "==", True),
        ]
        if args.per_message:
            figures["feed_per_message"] = run_fake(args.rate, seconds, cols, rows, warmup=args.warmup,
                                                   per_message=True)
    if "feed10" in scen:
        f = figures["feed_10_symbols"] = run_fake(args.rate, seconds, cols, rows, warmup=args.warmup,
                                                  py_spy=args.py_spy, symbols=10)
        checks += [
            check(f"cockpit CPU, 10 symbols, {args.rate:,.0f} msgs/s in total", f["cpu_pct"], "<=", TARGET_FEED_CPU,
                  "% of a core"),
            check("cockpit loop lag p99, 10 symbols", f["lag_p99_ms"], "<=", TARGET_LAG_P99_MS, "ms"),
            check("final state shown, 10 symbols", f["final_state_shown"], "==", True),
        ]
    if "idle" in scen:
        f = figures["idle"] = run_fake(1.0, idle_s, cols, rows, warmup=args.warmup, py_spy=args.py_spy)
        checks.append(check("cockpit CPU idle (quiet market)", f["cpu_pct"], "<=", TARGET_IDLE_CPU, "% of a core"))
    if "real" in scen:
        figures["real_program"] = run_real(real_s, cols, rows)
    paints = {k: v.get("first_paint_s") for k, v in figures.items() if v.get("first_paint_s") is not None}
    if paints:
        key = "real_program" if "real_program" in paints else max(paints, key=lambda k: paints[k])
        checks.append(check(f"start to first paint ({key})", paints[key], "<=", TARGET_FIRST_PAINT_S, "s"))
    res = result("cockpit_feed", params={"rate": args.rate, "seconds": seconds, "idle_seconds": idle_s,
                                         "real_seconds": real_s, "size": f"{cols}x{rows}", "scenarios": scen},
                 figures=figures, checks=checks)
    emit(res, args.json_out)
    return res


if __name__ == "__main__":
    main()
