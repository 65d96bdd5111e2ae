"""The ``rebalancer`` command: the cockpit by default, plus decide / check-config / replay / report / sweep.

Config problems exit with code 2 and one clear line naming the file, the key and what was
expected. The cockpit (and Textual) is imported only when the cockpit runs, so the headless
commands start fast and work over a bare SSH session.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.config import ConfigError, effective_config_dict, load_config

SUBCOMMANDS = ("decide", "check-config", "replay", "report", "sweep", "alert-test", "cockpit")
EXIT_CONFIG = 2


def _add_config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, help="path to config.yaml (default: ./config.yaml)")


def _symbol_arg(text: str) -> str:
    """``--symbol``'s value: an empty one was taken as "not given" (the config's symbol ran), and a
    padded one was blamed on the config file; both are refused here, naming the option."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a symbol such as BTCUSDT, got an empty value")
    if any(c.isspace() for c in text):
        raise argparse.ArgumentTypeError(f"a symbol has no spaces, got {text!r}")
    return text


def _resolve_config_path(arg: str | None) -> str:
    if arg:
        return arg
    return "config.yaml"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rebalancer",
        description="Spot-only net-delta rebalancer for Bybit, with a terminal cockpit.",
    )
    sub = parser.add_subparsers(dest="command")

    c = sub.add_parser("cockpit", help="run the cockpit (the default command)")
    _add_cockpit_args(c)

    d = sub.add_parser("decide", help="what-if: the decision the configured policy makes for a snapshot")
    _add_config_arg(d)
    d.add_argument("--spot-base", type=float, required=True, help="spot wallet in base coin (e.g. BTC)")
    d.add_argument("--futures-base", type=float, required=True, help="signed futures size (long +, short -)")
    d.add_argument("--price", type=float, required=True)
    d.add_argument("--ema-fast", type=float)
    d.add_argument("--ema-slow", type=float)
    d.add_argument("--slope-pct", type=float, help="fast-EMA slope over the lookback, in percent")
    d.add_argument("--buy-vwap", type=float, help="VWAP of recent buy fills")
    d.add_argument("--sell-vwap", type=float, help="VWAP of recent sell fills")
    d.add_argument("--equity", type=float, help="account equity in quote (thresholds in pct_of_equity need it)")
    d.add_argument("--policy", choices=("anchor", "simple", "baseline"), help="override the config's policy")
    d.add_argument("--json", action="store_true", help="print JSON")

    k = sub.add_parser("check-config", help="validate a config and print the effective settings (secrets masked)")
    _add_config_arg(k)
    k.add_argument("--json", action="store_true")
    k.add_argument("--explain", action="store_true",
                   help="list every setting with its default, its allowed range and what it does")
    k.add_argument("--price", type=float, metavar="P",
                   help="show the thresholds in every unit at this price (default: paper's start or data price)")
    k.add_argument("--equity", type=float, metavar="E",
                   help="account equity (quote) for the %% of equity figures (default: the paper account's)")

    r = sub.add_parser("replay", help="run the real engine over recorded market data at full speed")
    _add_config_arg(r)
    r.add_argument("--market", action="append", required=True, help="CSV(.gz) file; repeat to merge files")
    r.add_argument("--policy", choices=("anchor", "simple", "baseline"))
    r.add_argument("--symbol", type=_symbol_arg, help="the symbol the data is of (overrides the config; its trading rules are used)")
    r.add_argument("--mode", choices=("auto", "watch"), default="auto")
    r.add_argument("--json", dest="json_out", metavar="OUT", help="write the report as JSON to OUT ('-' for stdout)")
    r.add_argument("--strict", action="store_true", help="stop at the first bad data row")
    r.add_argument("--journal", metavar="PATH", help="also write a journal (SQLite) of the run")
    r.add_argument("--band", type=float, metavar="BASE",
                   help="the |gap| (base units) time over it is measured against; default: the policy's hard "
                        "threshold at the first price (use one band to compare policies)")
    r.add_argument("--no-unhedged", dest="unhedged", action="store_false",
                   help="leave out the 'unhedged' block (the same run with no rebalancing; doubles the time)")

    rp = sub.add_parser("report", help="summarise a journal, or several: one line per symbol and a total")
    rp.add_argument("--journal", metavar="PATH", action="append",
                    help="a journal file or a folder of them (one per symbol); repeat for more")
    rp.add_argument("--config", metavar="FILE", help="instead of --journal: the journal of each symbol of this config "
                                                    "(symbols:) under the data dir")
    rp.add_argument("--symbol", type=_symbol_arg, help="only the journals of this symbol")
    rp.add_argument("--json", action="store_true", help="print JSON (the replay JSON's keys where they overlap)")
    rp.add_argument("--html", metavar="FILE", help="also write one self-contained page (text and zoomable charts) "
                                                 "to FILE; it opens offline")
    charts = rp.add_mutually_exclusive_group()
    charts.add_argument("--charts", dest="charts", action="store_true", default=None,
                        help="draw the charts in the terminal (default: when stdout is a terminal)")
    charts.add_argument("--no-charts", dest="charts", action="store_false", help="text only")
    rp.add_argument("--band", type=float, metavar="BASE",
                    help="the |gap| (base units) time over it is measured against; default: the band a replay "
                         "recorded, else the first decision's hard threshold")
    at = sub.add_parser("alert-test", help="send one test message to every alerts.urls entry and say what each answered")
    _add_config_arg(at)

    from tui.sweep_cli import add_sweep_parser

    add_sweep_parser(sub)
    return parser


def _add_cockpit_args(p: argparse.ArgumentParser) -> None:
    _add_config_arg(p)
    p.add_argument("--symbol", type=_symbol_arg, help="trading symbol, e.g. BTCUSDT (overrides the config)")
    p.add_argument("--venue", choices=("paper", "testnet", "demo", "mainnet"), help="overrides the config")
    p.add_argument("--mode", choices=("auto", "semi", "watch"), help="start mode (overrides the config)")
    p.add_argument("--policy", choices=("anchor", "simple", "baseline"), help="overrides the config")
    p.add_argument("--headless", action="store_true",
                   help="run the engine without the UI (detached daemon); the log's lines also go to stdout")
    p.add_argument("--log-format", choices=("text", "json"), default="text",
                   help="the log's lines as text (default) or one JSON object per line (for machines)")
    p.add_argument("--i-understand-mainnet", action="store_true", help="required to trade on mainnet")


def main(argv: list[str] | None = None) -> int:
    if argv is None:  # the real program: a stop before the session's own handlers exist is still clean
        _stop_cleanly_until_started()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in SUBCOMMANDS + ("-h", "--help"):
        argv = ["cockpit", *argv]
    args = build_parser().parse_args(argv)
    try:
        if args.command == "decide":
            return _cmd_decide(args)
        if args.command == "check-config":
            return _cmd_check_config(args)
        if args.command == "replay":
            return _cmd_replay(args)
        if args.command == "report":
            return _cmd_report(args)
        if args.command == "alert-test":
            return _cmd_alert_test(args)
        if args.command == "sweep":
            from tui.sweep_cli import cmd_sweep

            return cmd_sweep(args)
        return _cmd_cockpit(args)
    except ConfigError as e:
        print(f"config error: {e}", file=sys.stderr)
        return EXIT_CONFIG


def _stop_cleanly_until_started() -> None:
    """SIGTERM / SIGHUP while starting (nothing trades yet): exit at once, no traceback. The
    cockpit and headless loops install their own handlers once the session runs."""
    import signal

    def stop(signum, _frame):
        print(f"stopped by {signal.Signals(signum).name} while starting (nothing was traded)", file=sys.stderr)
        raise SystemExit(0)

    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, stop)


def _load(args: argparse.Namespace, **kw):
    cfg = load_config(_resolve_config_path(getattr(args, "config", None)), **kw)
    return cfg


def _cmd_decide(args: argparse.Namespace) -> int:
    from core.whatif import decision_json, format_decision, what_if

    cfg = _load(args, need_secrets=False)
    try:
        d = what_if(cfg, spot_base=args.spot_base, futures_base=args.futures_base, price=args.price,
                    ema_fast=args.ema_fast, ema_slow=args.ema_slow, slope_pct=args.slope_pct,
                    buy_vwap=args.buy_vwap, sell_vwap=args.sell_vwap, policy=args.policy, equity=args.equity)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if args.json:
        print(json.dumps(decision_json(d), indent=2))
    else:
        print(cfg.policy_note if not args.policy else f"policy: {args.policy} (from --policy)")
        print(format_decision(d))
    return 0


def _cmd_check_config(args: argparse.Namespace) -> int:
    if args.explain:
        from core.config.explain import explain

        print(explain())
        return 0
    from core.journal import default_data_dir
    from core.preflight import preflight

    from core.threshold_units import threshold_table

    for flag, value in (("--price", args.price), ("--equity", args.equity)):
        if value is not None and not (0.0 < value < float("inf")):
            print(f"error: {flag} must be a positive number, got {value}", file=sys.stderr)
            return EXIT_CONFIG
    cfg = _load(args)
    notes = preflight(cfg, default_data_dir())  # the checks a start runs, the same code
    eff = effective_config_dict(cfg)
    several = cfg.per_symbol() if len(cfg.per_symbol()) > 1 else ()
    if several and args.price is not None:
        print("error: --price is one symbol's price: add --symbol to pick the entry", file=sys.stderr)
        return EXIT_CONFIG
    # several symbols: each one's thresholds at its own (paper start) price, so a shared number
    # is seen in every symbol's coin
    tables = [(one.symbol, threshold_table(one, equity=args.equity)) for one in several] or \
        [(cfg.symbol, threshold_table(cfg, price=args.price, equity=args.equity))]
    for w in cfg.warnings:  # on stderr, as a start says them: not lost under --json, not mixed into its output
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        every = ({sym: t.to_dict() for sym, t in tables} if several else tables[0][1].to_dict())
        print(json.dumps({**eff, "notes": notes, "thresholds_in_every_unit": every}, indent=2, default=str))
    else:
        import yaml

        print(f"# {cfg.path}: OK — {cfg.policy_note}")
        for n in notes:
            print(f"# {n}")
        for sym, table in tables:
            for i, line in enumerate(table.lines(sym)):
                print(f"# {sym} {line}" if several and i == 0 else f"# {line}")
        print(yaml.safe_dump(eff, sort_keys=False, allow_unicode=True), end="")
    return 0


def _cmd_replay(args: argparse.Namespace) -> int:
    import time

    from core.replay import format_report, run_replay
    from core.venues.market import MarketDataError, load_market

    from core.instruments import UnknownSymbol, for_config

    cfg = _load(args, need_secrets=False)
    # one symbol per replay: --symbol's (of a symbols: file, its entry), else the file's first
    cfg = cfg.only(args.symbol.upper()) if args.symbol else cfg.per_symbol()[0]
    if args.band is not None and not (0.0 < args.band < float("inf")):
        print(f"error: --band must be a positive number of base units (e.g. 0.02), got {args.band}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        for_config(cfg)
    except UnknownSymbol as e:  # blame where the symbol came from: --symbol, else the file
        print(f"error: --symbol {args.symbol}: {e}" if args.symbol else f"error: {cfg.path}: symbol: {e}",
              file=sys.stderr)
        return EXIT_CONFIG
    inputs = [("the config (--config)", cfg.path), *(("a market data file (--market)", m) for m in args.market)]
    outputs = [("--json", None if args.json_out == "-" else args.json_out), ("--journal", args.journal)]
    # before the market is read: a refusal costs nothing
    if not _outputs_ok(outputs, inputs, new_journal="--journal"):
        return EXIT_CONFIG
    try:
        market = load_market(args.market, strict=args.strict)
    except (MarketDataError, OSError) as e:
        print(f"market data error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    for bad in market.bad_samples[:5]:
        print(f"warning: bad row skipped: {bad.file}, line {bad.line_no}: {bad.reason}: {bad.text[:80]!r}",
              file=sys.stderr)
    if market.bad_rows:
        print(f"warning: {market.bad_rows} bad row(s) skipped in total (use --strict to stop at the first)", file=sys.stderr)
    recorder = journal = None
    if args.journal:
        from core.journal import Journal, JournalError
        from core.journal.recorder import JournalRecorder

        from core.session import journal_meta

        try:
            journal = Journal(args.journal, meta=journal_meta(cfg, "replay"))
        except JournalError as e:  # what the path checks cannot see (e.g. SQLite's own files beside it)
            print(f"error: --journal {e}", file=sys.stderr)
            return EXIT_CONFIG
        recorder = JournalRecorder(journal)
    try:
        result = run_replay(cfg, market, policy=args.policy, mode=args.mode, recorder=recorder, timer=time.perf_counter,
                            band=args.band, unhedged=args.unhedged and args.mode != "watch")
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    finally:
        if journal is not None:
            journal.close()
    report = result.report
    if args.json_out == "-":
        print(json.dumps(report, indent=2))
    else:
        print(format_report(report))
        if args.json_out:
            Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
            print(f"report written to {args.json_out}")
    return 0


def _outputs_ok(outputs, inputs, **kw) -> bool:
    """``tui.output_paths.check_outputs`` before any work: False (and the reason on stderr) when
    an output is refused, so the command exits 2 with nothing written."""
    from tui.output_paths import OutputPathError, check_outputs

    try:
        check_outputs(outputs, inputs, **kw)
    except OutputPathError as e:
        print(f"error: {e}", file=sys.stderr)
        return False
    return True


def _cmd_report(args: argparse.Namespace) -> int:
    import shutil

    from core.journal import JournalError
    from core.report import format_report

    if args.band is not None and not (0.0 < args.band < float("inf")):
        print(f"error: --band must be a positive number of base units (e.g. 0.02), got {args.band}", file=sys.stderr)
        return EXIT_CONFIG
    from core.report_symbols import format_many, journal_files, summarize_many

    given = _report_journals(args)
    if given is None:
        return EXIT_CONFIG
    try:
        files = journal_files(given)
        inputs = [*(("a journal read (--journal)", f) for f in files),
                  *((("the config (--config)", args.config),) if args.config else ())]
        if not _outputs_ok([("--html", args.html)], inputs):
            return EXIT_CONFIG
        many = summarize_many(files, symbol=args.symbol, band=args.band)
        if len(many["journals"]) > 1:  # several: one line per symbol and the total
            print(json.dumps(many, indent=2) if args.json else format_many(many), end="\n" if args.json else "")
            if args.charts or args.html:
                print("note: charts and --html draw one journal: pick one with --symbol or --journal FILE",
                      file=sys.stderr)
            return 0
        summary = many["journals"][0]
        journal = Path(summary["journal"])
    except JournalError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    text = format_report(summary)
    print(json.dumps(summary, indent=2) if args.json else text)
    charts = sys.stdout.isatty() and not args.json if args.charts is None else args.charts
    if not (charts or args.html):
        return 0
    from core.journal.reader import open_reader
    from core.report_series import read_series

    with open_reader(journal) as j:
        series = read_series(j)
    if charts:
        from rich.console import Console

        from tui.report_charts import render_charts

        width = min(shutil.get_terminal_size((100, 24)).columns, 160)
        Console(width=width, highlight=False).print(render_charts(series, width), end="")
    if args.html:
        from tui.report_html import write_html

        try:
            out = write_html(args.html, series, text, f"Rebalancer report: {journal.name}")
        except OSError as e:
            print(f"error: cannot write {args.html}: {e}", file=sys.stderr)
            return EXIT_CONFIG
        print(f"report page written to {out} (self-contained: opens offline)", file=sys.stderr if args.json else sys.stdout)
    return 0


def _report_journals(args: argparse.Namespace) -> list[str] | None:
    """The journals ``report`` reads: ``--journal``'s, or each symbol's of ``--config``."""
    if args.journal and args.config:  # said "needs --journal or --config" though both were given
        print("error: report takes --journal PATH or --config FILE, not both (--config reads each symbol's "
              "journal under the data dir)", file=sys.stderr)
        return None
    if not (args.journal or args.config):
        print("error: report needs --journal PATH (repeatable) or --config FILE", file=sys.stderr)
        return None
    if args.journal:
        return list(args.journal)
    from core.journal import default_data_dir
    from core.session import journal_path

    cfg = load_config(args.config, need_secrets=False)
    found = [p for c in cfg.per_symbol() if (p := journal_path(c, default_data_dir())) is not None and p.exists()]
    if not found:
        print(f"error: no journal yet for {', '.join(c.symbol for c in cfg.per_symbol())} of {args.config}",
              file=sys.stderr)
        return None
    return [str(p) for p in found]


def _cmd_alert_test(args: argparse.Namespace) -> int:
    """One test message to each URL; prints each service's answer. Exit 0 only if all took it."""
    import logging

    from core.alerts.sender import with_timeouts
    from core.alerts.setup import alert_urls

    cfg = _load(args, need_secrets=False)
    urls = alert_urls(cfg)
    if not urls:
        print(f"no alerts.urls in {cfg.path}: nothing to test (see README, 'Alerts')")
        return EXIT_CONFIG
    import apprise

    class Heard(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    failed = 0
    for shown_url, url, secrets in urls:
        heard = Heard()
        logger = logging.getLogger("apprise")
        logger.addHandler(heard)
        level = logger.level
        logger.setLevel(logging.INFO)
        try:
            a = apprise.Apprise()
            a.add(with_timeouts(url, cfg.alerts.timeout_s))
            ok = bool(a.notify(title=f"[{cfg.symbol}] rebalancer alert test",
                               body=f"A test from {cfg.path}: alerts reach you here."))
        finally:
            logger.removeHandler(heard)
            logger.setLevel(level)
        said = "; ".join(line for line in heard.lines if line)
        for secret in secrets:  # what a service answers may quote the URL: never its secrets
            said = said.replace(secret, "***")
        said = said[-300:]
        print(f"{shown_url}: {'ok' if ok else 'FAILED'}{f' ({said})' if said and not ok else ''}")
        failed += not ok
    return 0 if failed == 0 else 1


def _cmd_cockpit(args: argparse.Namespace) -> int:
    try:
        from tui.run import run_cockpit
    except ImportError as e:  # pragma: no cover - until the cockpit lands
        print(f"the cockpit is not available in this build ({e}); try: rebalancer decide --help", file=sys.stderr)
        return 1
    return run_cockpit(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
