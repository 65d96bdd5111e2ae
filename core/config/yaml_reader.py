"""Read a config file's YAML without its traps.

PyYAML's ``safe_load`` is YAML 1.1: it silently keeps the last of two duplicate keys (``mode:
watch`` then ``mode: auto`` runs AUTO), reads ``6e-3`` as text, ``007`` as 7, ``12:30`` as 750
and ``no`` as false, expands aliases without limit (a 400-byte file can grow to gigabytes) and
recurses without limit on deep nesting. Here:

- a file over ``MAX_BYTES`` is refused before parsing;
- a duplicate key is an error naming both lines;
- scalars resolve as YAML 1.2's core schema: ``true``/``false`` are the only booleans, numbers in
  exponent form are numbers, and ``007``, ``12:30``, ``yes``, ``no``, ``on``, ``off`` stay the
  text they look like (a setting that wants a number or a boolean then says so);
- nesting deeper than ``MAX_DEPTH`` and more than ``MAX_NODES`` nodes after alias expansion are
  refused.
"""

from __future__ import annotations

import re

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from core.errors import RebalancerError

MAX_BYTES = 1_000_000
MAX_DEPTH = 32
MAX_NODES = 20_000


class YamlProblem(RebalancerError):
    """Why a file cannot be read as a config (the caller adds the file name)."""


_INT = re.compile(r"^[-+]?(0|[1-9][0-9_]*)$|^0x[0-9a-fA-F_]+$|^0o[0-7_]+$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|(0|[1-9][0-9_]*)(\.[0-9_]*)?)([eE][-+]?[0-9]+)?$"
                    r"|^[-+]?\.(inf|Inf|INF)$|^\.(nan|NaN|NAN)$")
_BOOL = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_NULL = {"", "~", "null", "Null", "NULL"}


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core scalars, bounded nesting and no silent duplicates."""

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    # -- composing: nesting and size bounds (aliases count each time they are used)
    def compose_node(self, parent, index):
        self._depth += 1
        if self._depth > MAX_DEPTH:
            mark = self.peek_event().start_mark
            raise YamlProblem(f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}")
        try:
            if self.check_event(yaml.AliasEvent):
                self._count(self._weight(self.anchors.get(self.peek_event().anchor)))
            else:
                self._count(1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def _count(self, n: int) -> None:
        self._nodes += n
        if self._nodes > MAX_NODES:
            raise YamlProblem(f"too large: more than {MAX_NODES} values (aliases included)")

    def _weight(self, node, _seen=None) -> int:
        if node is None:
            return 1
        cached = getattr(node, "_weight", None)
        if cached is not None:
            return cached
        if isinstance(node, ScalarNode):
            w = 1
        elif isinstance(node, SequenceNode):
            w = 1 + sum(self._weight(n) for n in node.value)
        else:
            w = 1 + sum(self._weight(k) + self._weight(v) for k, v in node.value)
        node._weight = w
        return w

    # -- constructing: duplicates are an error
    def construct_mapping(self, node, deep=False):
        if isinstance(node, MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                line = key_node.start_mark.line + 1
                try:
                    first = seen.get(key)
                except TypeError:
                    raise ConstructorError(None, None, "a key must be plain text", key_node.start_mark) from None
                if first is not None:
                    raise YamlProblem(f"duplicate key {str(key)[:60]!r} (lines {first} and {line}): keep one")
                seen[key] = line
        return super().construct_mapping(node, deep=deep)


def _scalar(loader: _Loader, node: ScalarNode):
    text = node.value
    if node.style is not None:  # quoted: always text
        return text
    if text in _NULL:
        return None
    if text in _BOOL:
        return _BOOL[text]
    if _INT.match(text):
        digits = text.replace("_", "")
        if len(digits) > 40:
            raise YamlProblem(f"the number at line {node.start_mark.line + 1} has {len(digits)} digits: too long")
        return int(digits, 0) if digits.startswith(("0x", "0o")) else int(digits)
    if _FLOAT.match(text):
        if len(text) > 60:
            raise YamlProblem(f"the number at line {node.start_mark.line + 1} is too long")
        return float(text.replace("_", "").lower().replace(".inf", "inf").replace(".nan", "nan"))
    return text


# every plain scalar goes through _scalar (YAML 1.1's implicit resolvers are not used)
_Loader.yaml_implicit_resolvers = {}
_Loader.add_constructor("tag:yaml.org,2002:str", _scalar)


def read_yaml(text: str):
    """The parsed document, or ``YamlProblem`` / ``yaml.YAMLError`` saying why not."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise YamlProblem(f"larger than {MAX_BYTES // 1_000_000} MB: a config file is a few KB")
    loader = _Loader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()
