"""Helpers for the tests of the flows (moved here from flows/testing.py): build an inbox
from real files, write a gaitwatch.toml, run the ``gaitwatch`` command in a subprocess. No fakes: everything here
copies real files and runs the real command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]  # the repository (this file is tests/cli_support.py)
_SCRIPT = Path(sys.executable).with_name("gaitwatch")
# The installed console script when present (what users run), else the same app as a module.
GAITWATCH = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "flows.cli"]


def copy_files(files: Iterable[Path], folder: Path) -> list[Path]:
    """Copy ``files`` into ``folder`` (created); returns the new paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for f in files:
        dest = folder / f.name
        shutil.copyfile(f, dest)
        out.append(dest)
    return out


def age(paths: Iterable[Path], seconds: float = 3600.0) -> None:
    """Set mtimes ``seconds`` in the past: the files count as settled (fully copied)."""
    import time

    t = time.time() - seconds
    for p in paths:
        os.utime(p, (t, t))


def inbox_files(inbox: Path) -> list[str]:
    """Every regular file under ``inbox`` as a posix path relative to it, sorted."""
    return sorted(p.relative_to(inbox).as_posix() for p in inbox.rglob("*") if p.is_file())


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str | Path):
        return json.dumps(str(v))
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {v!r} as TOML")


def to_toml(doc: Mapping[str, Any]) -> str:
    """TOML for the shapes gaitwatch.toml uses: scalars, tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, Mapping[str, Any]]] = []
    arrays: list[tuple[str, list[Mapping[str, Any]]]] = []
    for k, v in doc.items():
        if isinstance(v, Mapping):
            tables.append((k, v))
        elif isinstance(v, list) and v and all(isinstance(x, Mapping) for x in v):
            arrays.append((k, v))
        else:
            lines.append(f"{k} = {_toml_value(v)}")
    for k, t in tables:
        lines += ["", f"[{k}]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in t.items()]
    for k, items in arrays:
        for item in items:
            lines += ["", f"[[{k}]]"] + [f"{kk} = {_toml_value(vv)}" for kk, vv in item.items()]
    return "\n".join(lines) + "\n"


def write_config(path: Path, doc: Mapping[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(to_toml(doc), encoding="utf-8")
    return path


def cli_env(api_url: str | None = None, **extra: str) -> dict[str, str]:
    """Environment for a ``gaitwatch`` subprocess: quiet Prefect, no telemetry, and the
    given Prefect API (a running server, so no temporary server is started)."""
    env = dict(os.environ)
    env.pop("PREFECT_LOGGING_LEVEL", None)  # the command's own default (errors only)
    env.update(
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        DO_NOT_TRACK="1",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO),
    )
    if api_url:
        env["PREFECT_API_URL"] = api_url
    env.update(extra)
    return env


def run_cli(
    args: list[str],
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    timeout: float = 180.0,
) -> subprocess.CompletedProcess[str]:
    """Run ``gaitwatch ARGS`` and capture its output."""
    return subprocess.run(
        [*GAITWATCH, *args],
        env=dict(env) if env is not None else cli_env(),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
