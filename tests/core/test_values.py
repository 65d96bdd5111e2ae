"""``value_type`` behaves exactly like ``@dataclass(frozen=True, slots=True)``, only faster to build."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from dataclasses import FrozenInstanceError, field

import pytest

from core.values import value_type


@dataclasses.dataclass(frozen=True, slots=True)
class RefValue:
    a: int
    b: str = "x"
    c: float = 1.5
    items: tuple = ()
    tags: list = field(default_factory=list)
    hidden: int = field(default=7, init=False)
    k: int = field(default=3, kw_only=True)


@value_type
class FastValue:  # the same class as RefValue, made the other way
    a: int
    b: str = "x"
    c: float = 1.5
    items: tuple = ()
    tags: list = field(default_factory=list)
    hidden: int = field(default=7, init=False)
    k: int = field(default=3, kw_only=True)


CALLS = [
    ((1,), {}),
    ((1, "y"), {}),
    ((1, "y", 2.5, (1, 2), ["t"]), {}),
    ((), {"a": 4, "c": 0.0}),
    ((5,), {"k": 9, "tags": ["u"]}),
]


@pytest.mark.parametrize("args,kwargs", CALLS)
def test_same_fields_equality_hash_and_repr_as_the_dataclass(args, kwargs):
    ref, fast = RefValue, FastValue
    r, f = ref(*args, **kwargs), fast(*args, **kwargs)
    assert dataclasses.astuple(r) == dataclasses.astuple(f)
    assert repr(r).replace("RefValue", "V") == repr(f).replace("FastValue", "V")
    assert f == fast(*args, **kwargs)
    assert f.hidden == 7


def test_default_factory_builds_a_fresh_value_each_time():
    fast = FastValue
    one, two = fast(1), fast(1)
    assert one.tags == [] and one.tags is not two.tags


@pytest.mark.parametrize("args,kwargs,word", [
    ((), {}, "missing"),
    ((1,), {"nope": 2}, "unexpected"),
    ((1, "y", 2.5, (), [], 9), {}, "positional"),
    ((1,), {"a": 2}, "multiple"),
    ((1,), {"hidden": 1}, "unexpected"),
])
def test_bad_calls_fail_like_the_dataclass(args, kwargs, word):
    ref, fast = RefValue, FastValue
    with pytest.raises(TypeError, match=word):
        ref(*args, **kwargs)
    with pytest.raises(TypeError, match=word):
        fast(*args, **kwargs)


def test_frozen_after_construction_and_replace_and_pickle_work():
    fast = FastValue
    v = fast(1, "y", k=4)
    with pytest.raises(FrozenInstanceError):
        v.a = 2  # type: ignore[misc]
    w = dataclasses.replace(v, a=2)
    assert (w.a, w.b, w.k) == (2, "y", 4)
    assert pickle.loads(pickle.dumps(w)) == w
    assert copy.deepcopy(w) == w
    assert not hasattr(w, "__dict__")


def test_project_value_types_use_it():
    from core.events import Trade
    from core.model import Decision, Order

    for cls in (Trade, Order, Decision):
        assert any(n.startswith("_set_") for n in cls.__init__.__code__.co_names), cls


def test_post_init_runs_and_replace_recomputes_derived_fields():
    @value_type
    class Derived:
        n: int
        double: int = field(default=0, init=False, compare=False)

        def __post_init__(self) -> None:
            object.__setattr__(self, "double", self.n * 2)

    d = Derived(4)
    assert d.double == 8
    assert dataclasses.replace(d, n=5).double == 10
