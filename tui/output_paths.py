"""Where the headless commands write (``replay --json/--journal``, ``report --html``, ``sweep
--out``), checked before any work runs: a bad path then costs nothing, and an output can never
overwrite an input (the market data, the config, the journal being read) or another output.

Each check raises ``OutputPathError``: one line naming the option, the path and what was
expected; the commands print it and exit with code 2.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path


class OutputPathError(ValueError):
    """An output path the command refuses before it starts."""


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """The same file: same inode (a hard link or a symlink counts), else the same resolved path."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return Path(a).resolve() == Path(b).resolve()


def check_outputs(outputs: Iterable[tuple[str, str | os.PathLike | None]],
                  inputs: Iterable[tuple[str, str | os.PathLike]], *, new_journal: str | None = None) -> None:
    """Each (option, path) of ``outputs`` (None: not given) must be a file that can be written:
    not a folder, in a folder that exists, not one of ``inputs`` ((what, path)), and not
    another output's. ``new_journal``: the option whose file must also be new or empty (a
    journal is opened and added to: rows of an earlier run would mix with this one's)."""
    given = [(opt, os.fspath(p)) for opt, p in outputs if p is not None]  # as typed, for the messages
    inputs = list(inputs)
    for i, (opt, raw) in enumerate(given):
        path = Path(raw)
        for what, src in inputs:
            if same_file(path, src):
                raise OutputPathError(f"{opt} {raw}: is {what}; writing there would overwrite it: "
                                      f"choose another path")
        for other, earlier in given[:i]:
            if same_file(path, earlier):
                raise OutputPathError(f"{opt} {raw}: is also {other}'s file: each output needs its own path")
        if path.is_dir():
            raise OutputPathError(f"{opt} {raw}: is a folder; expected a file path")
        _check_parent(opt, raw)
        if path.exists() and not os.access(path, os.W_OK):
            raise OutputPathError(f"{opt} {raw}: the file is not writable")
        if opt == new_journal and path.exists() and path.stat().st_size > 0:
            raise OutputPathError(f"{opt} {raw}: already exists and is not empty ({path.stat().st_size} bytes); "
                                  f"a journal holds one run (a second would mix with the first in its report): "
                                  f"choose a new path or delete it")


def check_out_folder(opt: str, folder: str | os.PathLike, files: Iterable[str],
                     inputs: Iterable[tuple[str, str | os.PathLike]]) -> None:
    """``folder`` (made if missing) takes ``files``: it must be a folder or not exist yet, its
    parent must exist, and none of the files it will hold may be one of ``inputs``."""
    raw = os.fspath(folder)
    path = Path(raw)
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{opt} {raw}: is a file; expected a folder for the results (new or existing)")
    _check_parent(opt, raw)
    for name in files:
        for what, src in inputs:
            if same_file(path / name, src):
                raise OutputPathError(f"{opt} {raw}: its {name} would overwrite {what} ({src}): "
                                      f"choose another folder")


def _check_parent(opt: str, raw: str) -> None:
    path = Path(raw)
    parent = path.absolute().parent
    if not parent.is_dir():
        raise OutputPathError(f"{opt} {raw}: folder {parent} does not exist (create it first)")
    if not path.exists() and not os.access(parent, os.W_OK | os.X_OK):
        raise OutputPathError(f"{opt} {raw}: cannot create a file in {parent} (not writable)")
