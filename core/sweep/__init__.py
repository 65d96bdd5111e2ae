"""``rebalancer sweep``: replay many configs over the same data and draw the cost/tracking frontier.

    spec.py      --param specs -> grid or random points (config overrides), each checked as a config
    runner.py    run the points: a forked local pool sharing the loaded market, or a Dask cluster
    results.py   results.jsonl appended as each config finishes (resumable), the CSV table
    lazy.py      the lazy-hedge bound: the least trading that holds a band, on the same grid path
    frontier.py  the Pareto frontier on cost (bps, USDT) against tracking (mean |gap|, % over band)
    plan.py      one sweep end to end: plan the points, skip the done ones, run, summarise

The terminal chart and the HTML page are drawn by ``tui.sweep_chart`` / ``tui.sweep_html``.
"""

from core.sweep.plan import SweepPlan, plan_sweep, run_sweep, summarise
from core.sweep.spec import SweepSpecError
from core.sweep.runner import SweepRunError

__all__ = ["SweepPlan", "SweepRunError", "SweepSpecError", "plan_sweep", "run_sweep", "summarise"]
