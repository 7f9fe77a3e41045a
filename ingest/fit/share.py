"""Share of FIT activity files on the fast path, with every fallback's reason.

``python -m ingest.fit.share FOLDER...`` prints, per folder: FIT activity files, the share
the fast path decoded, and each file the reference decoded with the fast path's reason
(the benchmark's figure, issue #15).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from ingest.reader import read_path


@dataclass
class Share:
    folder: str
    files: int = 0
    fallbacks: dict[str, str] = field(default_factory=dict)  # source file -> reason

    @property
    def fast_share(self) -> float:
        return (self.files - len(self.fallbacks)) / self.files if self.files else 1.0

    def line(self) -> str:
        reasons = "; ".join(f"{name}: {why}" for name, why in sorted(self.fallbacks.items())) or "none"
        return (
            f"{self.folder}: {self.files} FIT activity files, {100 * self.fast_share:.1f} % on the "
            f"fast path, {len(self.fallbacks)} fallback(s): {reasons}"
        )


def fast_path_share(folder: Path | str) -> Share:
    """Read every file under ``folder`` as ingest does and count which FIT path decoded it."""
    share = Share(str(folder))
    for result in read_path(Path(folder)):
        fit = [a for a in result.activities if a.meta.format == "fit"]
        if not fit:
            continue
        share.files += 1
        decoder = fit[0].meta.decoder or "unknown"
        if decoder != "fast":
            share.fallbacks[result.source_file] = decoder.removeprefix("reference: ")
    return share


def main(argv: list[str]) -> int:
    for folder in argv:
        print(fast_path_share(folder).line())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
