"""One root exception, venue errors as a family, Bybit codes spelled in one module.

The checks read the code itself: every exception class defined under core/ descends from
``RebalancerError``, and no module but ``core/venues/bybit_codes.py`` writes a Bybit return
code or reject reason as a literal (prose in docstrings and messages may name them).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import core
from core.errors import RebalancerError
from core.events import VenueProblem
from core.venues import bybit_codes
from core.venues.base import AuthError, OrderRejected, OrderStateUnknown, TradingDisabled, VenueError
from core.venues.bybit_rest import ApiError, TransportError

CODES_MODULE = Path(bybit_codes.__file__).resolve()


def core_exception_classes() -> dict[str, type]:
    """Every public exception class defined in a module under core/, by dotted name."""
    found: dict[str, type] = {}
    for info in pkgutil.walk_packages(core.__path__, "core."):
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == info.name
                    and not name.startswith("_")):
                found[f"{info.name}.{name}"] = obj
    return found


def test_every_core_exception_descends_from_the_root():
    classes = core_exception_classes()
    assert len(classes) >= 10, "found the exception classes"
    outside = {name for name, cls in classes.items() if not issubclass(cls, RebalancerError)}
    assert not outside, "outside the root: " + ", ".join(sorted(outside))


def test_bad_value_errors_are_still_value_errors():
    from core.venues.bybit_parse import BadMessage
    from core.venues.market import MarketDataError

    assert issubclass(MarketDataError, ValueError) and issubclass(BadMessage, ValueError)


@pytest.mark.parametrize("cls", [OrderRejected, OrderStateUnknown, TradingDisabled, AuthError, ApiError,
                                 TransportError])
def test_venue_errors_are_one_family(cls):
    err = cls("refused", code=bybit_codes.PARAM_ERROR, retryable=True)
    assert isinstance(err, VenueError) and isinstance(err, RebalancerError)
    assert (err.code, err.retryable, str(err)) == (bybit_codes.PARAM_ERROR, True, "refused")


def test_the_venue_problem_event_is_not_an_exception():
    assert not issubclass(VenueProblem, BaseException)
    assert VenueProblem.__name__ != VenueError.__name__


def _codes() -> tuple[set[int], set[str]]:
    numbers = {v for k, v in vars(bybit_codes).items() if k.isupper() and type(v) is int and v >= 10_000}
    reasons = {v for k, v in vars(bybit_codes).items() if k.isupper() and isinstance(v, str)}
    return numbers, reasons


def literal_codes(source: str) -> list[str]:
    """Bybit codes written as literals in ``source``: ints that are codes, strings that are
    reject reasons (docstrings and f-string text are prose, not literals used in code)."""
    numbers, reasons = _codes()
    tree = ast.parse(source)
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and id(node) not in docstrings:
            v = node.value
            if (type(v) is int and v in numbers) or (isinstance(v, str) and v in reasons):
                hits.append(f"{node.lineno}: {v!r}")
    return hits


def test_bybit_codes_are_spelled_only_in_the_codes_module(repo_root):
    problems = []
    for path in sorted((repo_root / "core").rglob("*.py")):
        if path.resolve() == CODES_MODULE:
            continue
        problems += [f"{path.relative_to(repo_root)}:{hit}" for hit in literal_codes(path.read_text(encoding="utf-8"))]
    assert problems == []


def test_the_literal_check_can_fail():
    assert literal_codes("if code == 170213:\n    pass\n") == ["1: 170213"]
    assert literal_codes("REASON = 'EC_PostOnlyWillTakeLiquidity'\n") == ["1: 'EC_PostOnlyWillTakeLiquidity'"]
    assert literal_codes('"""Rejected with EC_PostOnlyWillTakeLiquidity (10005)."""\nx = 10_000\n') == []
