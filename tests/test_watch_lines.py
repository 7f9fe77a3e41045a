"""What `gaitwatch watch` prints for one pass (warehouse.files.IngestReport.console_lines):
a few files by name, then a summary, so a whole export dropped into a watched folder is
not thousands of lines; every rejected file with its reason; everything with -v."""

from __future__ import annotations

from warehouse.files import FileOutcome, IngestReport


def _report() -> IngestReport:
    loaded = [FileOutcome(f"ann/run{i}.fit", "ann", "loaded", activities=1) for i in range(7)]
    loaded.append(FileOutcome("ann/multisport.fit", "ann", "loaded", activities=2))
    bad = FileOutcome("ann/broken.fit", "ann", "rejected", "truncated: the file ends inside a record")
    still = FileOutcome("ann/half.fit", "ann", "changed", "still being written; left for the next run")
    return IngestReport(outcomes=[*loaded, bad, still], unsettled=["ann/new.gpx"],
                        invalid=[("Bad Name!/x.fit", "folder name is not a valid athlete id")])


def test_a_big_pass_names_five_files_then_sums_up_and_lists_every_rejection() -> None:
    assert _report().console_lines() == [
        "loaded: ann/run0.fit (1 activity)",
        "loaded: ann/run1.fit (1 activity)",
        "loaded: ann/run2.fit (1 activity)",
        "loaded: ann/run3.fit (1 activity)",
        "loaded: ann/run4.fit (1 activity)",
        "... and 3 more files: 8 loaded, 2 rejected, 1 changed, 1 still copying",
        "rejected: ann/broken.fit: truncated: the file ends inside a record",
        "rejected: Bad Name!/x.fit: folder name is not a valid athlete id",
        "waiting for 2 file(s) still being copied",
    ]


def test_verbose_names_every_file() -> None:
    lines = _report().console_lines(None)
    assert [ln for ln in lines if ln.startswith("loaded: ")] == [
        *(f"loaded: ann/run{i}.fit (1 activity)" for i in range(7)),
        "loaded: ann/multisport.fit (2 activities)"]
    assert not any(ln.startswith("...") for ln in lines)


def test_a_small_pass_is_one_line_per_file() -> None:
    report = IngestReport(outcomes=[FileOutcome("ann/a.fit", "ann", "loaded", activities=1),
                                    FileOutcome("ann/b.gpx", "ann", "duplicate", "same activity as ann/a.fit")])
    assert report.console_lines() == ["loaded: ann/a.fit (1 activity)",
                                      "duplicate: ann/b.gpx: same activity as ann/a.fit"]
