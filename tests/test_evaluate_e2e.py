"""`gaitwatch evaluate` end to end (issue 14 item 5): the generated ``spike`` athlete
(sample_data, planted load spike in 2026-W44) with a journal of planted pain episodes,
through the real pipeline (the nightly Prefect flow, a real DuckDB file), then the real
command. Every expected number is counted by hand from the planted data below.

The back-test's definitions (docs/metrics.md, "Back-test"): pain/injury entries within 7
days form one episode; an episode is preceded when a week with the warning ended 1-28
days before it started; the chance rate is the share of the history's Mondays (from 28
days after the first week on) that such a week ended 1-28 days before."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb
import pytest
from cli_support import age, cli_env, run_cli, write_config
from conftest import SAMPLE_DATA

ATHLETE = "spike"
SPIKE_WEEK = "2026-W44"  # Mon 26 Oct - Sun 1 Nov 2026, Sydney time (sample_data/README.md)
JOURNAL = (
    "date,kind,minutes,body_part,side,severity,text\n"
    "2026-09-02,injury,,right ankle,right,5,rolled it on a trail\n"  # episode 1 (W36)
    "2026-10-14,strength,40,,,,legs\n"  # a session, not an episode
    "2026-10-20,illness,,,,,a cold\n"  # not an episode
    "2026-11-04,pain,,left shin,left,3,sore after the big week\n"  # episode 2 starts
    "2026-11-06,pain,,left shin,left,2,\n"  # 2 days later: still episode 2
    "2026-11-29,pain,,right knee,right,4,\n"  # 23 days after 6 Nov: episode 3
)


def _config(root: Path) -> Path:
    return write_config(root / "gaitwatch.toml", {
        "inbox": "inbox", "database": "out/gw.duckdb", "published_database": "out/pub.duckdb",
        "reports": "out/reports", "default_athlete": ATHLETE,
        "inbox_options": {"settle_seconds": 0},
        "athletes": [{"id": ATHLETE, "name": "Sam Spike", "timezone": "Australia/Sydney",
                      "height_m": 1.85, "max_hr_bpm": 192}],
    })


@pytest.fixture(scope="module")
def first_run(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from flows.flows import nightly

    src = SAMPLE_DATA / "inbox" / ATHLETE
    if not src.is_dir():
        pytest.skip("sample_data/inbox not generated (make sample-data)")
    root = tmp_path_factory.mktemp("evaluate-e2e")
    inbox = root / "inbox" / ATHLETE
    shutil.copytree(src, inbox)
    (inbox / "journal.csv").write_text(JOURNAL, encoding="utf-8")
    age(p for p in inbox.rglob("*") if p.is_file())
    config = _config(root)
    nightly(config=config)
    return root


def _query(root: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(root / "out" / "gw.duckdb"), read_only=True) as con:
        return con.execute(sql).fetchall()


def _evaluate(root: Path) -> str:
    res = run_cli(["evaluate", "--athlete", ATHLETE, "-c", str(root / "gaitwatch.toml")],
                  env=cli_env(), cwd=root)
    assert res.returncode == 0, res.stderr
    return res.stdout


def _scored(root: Path) -> int:
    return int(_query(root, "SELECT count(*) FROM v_weekly_risk WHERE athlete_id = 'spike' "
                            "AND risk_level <> 'insufficient_data'")[0][0])  # type: ignore[call-overload]


def test_preconditions_from_the_planted_data(first_run: Path) -> None:
    """What the hand counts below rely on: 14 weekly rows (W34-W47), and the load-spike
    rule warns in the planted week only (the flags' own tests hold it to that)."""
    weeks = [w for (w,) in _query(first_run, "SELECT iso_week FROM v_weekly_risk "
                                             "WHERE athlete_id = 'spike' ORDER BY week_start")]
    assert weeks[0] == "2026-W34" and weeks[-1] == "2026-W47" and len(weeks) == 14
    spikes = _query(first_run, "SELECT iso_week FROM v_weekly_risk WHERE athlete_id = 'spike' "
                               "AND flag_details LIKE '%\"load_spike\", \"severity\": \"moderate\"%' "
                               "OR flag_details LIKE '%\"load_spike\", \"severity\": \"high\"%'")
    assert spikes == [(SPIKE_WEEK,)]


def test_evaluate_prints_the_back_test_counted_by_hand(first_run: Path) -> None:
    out = _evaluate(first_run)
    scored = _scored(first_run)
    # load_spike warned once (W44, ending Sun 1 Nov). Episodes: 2 Sep (no), 4 Nov (3 days
    # after 1 Nov: preceded), 29 Nov (28 days after: preceded, the window's last day).
    # Median lead (3 + 28) / 2 = 15.5 -> "16". Chance: Mondays from 14 Sep (17 Aug + 28 d)
    # to 16 Nov = 10; 2, 9 and 16 Nov are 1, 8 and 15 days after 1 Nov: 3 of 10 = 30 %.
    assert (
        f"spike load_spike             warned in 1/{scored} scored weeks ({1 / scored:.0%}); "
        "episodes preceded 2/3 (67%), median lead 16 d; chance 30%"
    ) in out
    # episode 2: the latest moderate-or-high week before 4 Nov is at latest W44 (the
    # load spike is moderate): 3 days
    assert ("spike episode 2: 2026-11-04 to 2026-11-06, 2 entries, left shin: "
            "warning 3 d before") in out
    assert "spike episode 1: 2026-09-02 to 2026-09-02, 1 entries, right ankle" in out
    assert "spike episode 3: 2026-11-29 to 2026-11-29, 1 entries, right knee" in out
    assert "episode 4" not in out
    assert "small numbers, a screening aid" in out
    # the stored view says the same
    assert _query(first_run, "SELECT warning_weeks, episodes, preceded, median_lead_days, "
                             "chance_rate FROM v_evaluation WHERE athlete_id = 'spike' "
                             "AND signal = 'load_spike'") == [(1, 3, 2, 15.5, 0.3)]


def test_index_page_shows_the_back_test(first_run: Path) -> None:
    md = (first_run / "out" / "reports" / "index.md").read_text(encoding="utf-8")
    scored = _scored(first_run)
    assert (f"| Load spike | 1 of {scored} | {100 / scored:.0f} % | 2 of 3 | 16 | 30 % |") in md
    assert "a screening aid, not proof" in md
    assert ("- Episode 2: 2026-11-04 to 2026-11-06, left shin, severity up to 3/10: "
            "a moderate or high week ended 3 days before") in md


def test_a_journal_only_change_is_re_evaluated_by_the_next_run(first_run: Path) -> None:
    """`gaitwatch log pain` on 30 Oct, then the nightly flow again: the entry (2026-W44,
    5 days before 4 Nov) joins episode 2, which now starts before the spike week ended:
    no longer preceded by it. load_spike: 1 of 3 (29 Nov, lead 28)."""
    from flows.flows import nightly

    config = first_run / "gaitwatch.toml"
    res = run_cli(["log", "pain", "--athlete", ATHLETE, "--date", "2026-10-30",
                   "--body-part", "left shin", "--side", "left", "--severity", "2",
                   "-c", str(config)], env=cli_env(), cwd=first_run)
    assert res.returncode == 0, res.stderr
    age([first_run / "inbox" / ATHLETE / "journal.csv"])
    nightly(config=config)
    out = _evaluate(first_run)
    assert "episodes preceded 1/3 (33%), median lead 28 d; chance 30%" in out
    assert "spike episode 2: 2026-10-30 to 2026-11-06, 3 entries, left shin" in out
    md = (first_run / "out" / "reports" / "index.md").read_text(encoding="utf-8")
    assert "| 1 of 3 | 28 | 30 % |" in md
