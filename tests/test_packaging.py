"""The package as pip builds it: no warning from the build (a fresh machine's `make run`
printed about 135 lines of setuptools warnings before its first own line), and a wheel
holding every SQL file and template the code reads (the views' SQL folder was missing
from it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_build_is_quiet_and_the_wheel_holds_the_sql_and_templates(tmp_path: Path) -> None:
    # a copy: setuptools writes build/ and *.egg-info beside the project it builds
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, src / name)
    for package in ("flows", "ingest", "transforms", "warehouse", "reports", "synth"):
        shutil.copytree(REPO / package, src / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(src), "-w", str(tmp_path)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "Warning" not in out.stdout + out.stderr, (out.stdout + out.stderr)[:3000]
    (wheel,) = tmp_path.glob("gaitwatch-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    wanted = [p.relative_to(REPO).as_posix()
              for folder in ("warehouse/sql", "reports/templates", "transforms")
              for p in (REPO / folder).rglob("*")
              if p.is_file() and p.suffix in (".sql", ".j2", ".toml")]
    assert len(wanted) > 20
    assert sorted(set(wanted) - names) == []
