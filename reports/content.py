"""Fixed text of the reports: recommendation plans per flag, what each missing-data code
means for the reader, and the evidence (with references) behind each rule.

Plain text only (no markup): the templates decide how it looks, and escape it like any
other value. Flag codes are the ones ``transforms`` writes into ``weekly_risk.flags``; a
code not listed here still shows, with the reason and recommendation the rule gave.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Exercise:
    name: str
    prescription: str  # sets x reps (per leg where it applies)
    cue: str


@dataclass(frozen=True)
class Plan:
    """A concrete recommendation: what to do, how much, how often, and when to stop."""

    title: str
    summary: str
    frequency: str
    exercises: tuple[Exercise, ...] = ()
    steps: tuple[str, ...] = ()
    evidence: tuple[str, ...] = field(default=())  # keys of EVIDENCE


STRENGTH = (
    Exercise("Squats (goblet or back squat)", "3 sets x 8-10 reps",
             "Hips back and down to a comfortable depth, knees over toes."),
    Exercise("Reverse or walking lunges", "3 sets x 8 reps per leg",
             "Long step, back knee towards the floor, upright trunk."),
    Exercise("Step-ups onto a knee-high box", "3 sets x 10 reps per leg",
             "Drive through the heel of the leg on the box; do not push off the floor foot."),
    Exercise("Romanian deadlifts", "3 sets x 8 reps",
             "Soft knees, hinge at the hips until the hamstrings stretch, flat back."),
)

SINGLE_LEG = (
    Exercise("Step-ups onto a knee-high box", "3 sets x 10 reps per leg",
             "Same load and reps on both legs; start with the leg that feels weaker."),
    Exercise("Reverse lunges or split squats", "3 sets x 8 reps per leg",
             "Control the way down for 2-3 seconds."),
    Exercise("Single-leg Romanian deadlifts", "3 sets x 8 reps per leg",
             "Hold a support at first; hips stay level."),
    Exercise("Squats (goblet or back squat)", "3 sets x 8-10 reps",
             "Watch that weight stays even over both feet."),
)

_LOAD_NOTE = (
    "Use a load that leaves about 2 good reps in reserve at the end of each set; add load "
    "when every set feels that easy. Rest 1-2 minutes between sets."
)

PLANS: dict[str, Plan] = {
    "compact_gait": Plan(
        title="Strength and strides for a shortened stride",
        summary=(
            "For more than one week, your steps at the same running speed were shorter (and "
            "your stride more compact) than in your own previous weeks. Short steps are not "
            "harmful in themselves; a change like this can follow fatigue, soreness or "
            "guarding, or simply less fast running. Strides and lower-body strength help keep "
            "the speed and stride length you can reach."
        ),
        frequency="Strength twice a week on non-consecutive days for at least 6-8 weeks; strides once or twice a week.",
        exercises=STRENGTH,
        steps=(
            _LOAD_NOTE,
            "After an easy run: 6-8 strides of about 20 seconds, fast but relaxed, walking back to recover.",
            "If step length stays below your baseline for two more weeks, a coach can look at your running.",
            "See a clinician (doctor or physiotherapist) if you have pain.",
        ),
        evidence=("heiderscheit2011", "lenhart2014", "toresdahl2020"),
    ),
    "asymmetry": Plan(
        title="A sensor check for a left/right balance change",
        summary=(
            "One foot stayed on the ground longer than the other: outside Garmin's population "
            "zone, or changed against your own usual balance. Some imbalance is common, and "
            "in 836 runners it was not linked to more injuries, so this is a description of "
            "your running, not a warning sign on its own."
        ),
        frequency="Single-leg strength twice a week on non-consecutive days for at least 6 weeks.",
        exercises=SINGLE_LEG,
        steps=(
            _LOAD_NOTE,
            "Check the sensor first: a chest strap or pod that sits off-centre can shift the balance reading.",
            "A one-off reading after a hard or hilly run means little; only a change that lasts is rated.",
            "Single-leg strength work is fine if you enjoy it; it is training, not a cure for a number.",
            "See a clinician (doctor or physiotherapist) if you have pain, or if the change follows an injury.",
        ),
        evidence=("garmin_gct", "malisoux2024"),
    ),
    "load_spike": Plan(
        title="Deload week after a load spike",
        summary=(
            "This week you ran more than in any of the previous four weeks, and your running "
            "load rose well above its recent average. Cross-training and strength do not count "
            "here: they are good for you."
        ),
        frequency="Next week, then build back over 2-3 weeks.",
        steps=(
            "Next week: run about 20-30 % less than this week, all at easy, conversational pace, until the acute:chronic ratio is back in its usual range.",
            "Keep one short session of strides (6 x 20 s) so you stay used to running fast; drop other hard sessions.",
            "Then build back gradually instead of jumping again: in one large cohort, novices who raised weekly distance by more than 30 % had more of some injuries.",
            "Sleep, food and any niggles matter more than the number.",
            "See a clinician (doctor or physiotherapist) if you have pain.",
        ),
        evidence=("gabbett2016", "acwr_criticism", "nielsen2014"),
    ),
    "asymmetry_drift": Plan(
        title="Single-leg strength for balance that drifts during runs",
        summary=(
            "Your left/right balance changed between the start and the end of your runs, which "
            "often reflects fatigue of one side."
        ),
        frequency="Single-leg strength twice a week on non-consecutive days for at least 6 weeks.",
        exercises=SINGLE_LEG,
        steps=(
            _LOAD_NOTE,
            "Shorten the longest run a little for two weeks and see whether the drift shrinks.",
        ),
        evidence=("garmin_gct", "lauersen2014"),
    ),
    "distance_progression": Plan(
        title="Hold weekly distance before building again",
        summary="Your weekly running distance rose quickly compared with the two weeks before.",
        frequency="Next week, then progress gradually.",
        steps=(
            "Keep next week's distance no higher than this week's (if a load spike is flagged too, follow the deload, which asks for less).",
            "Then build in small steps; in one large cohort, novices who raised weekly distance by more than 30 % had more of some injuries.",
        ),
        evidence=("nielsen2014",),
    ),
    "low_cadence": Plan(
        title="A slightly higher step rate at easy pace",
        summary="Your step rate was in the lowest band of Garmin's runner population.",
        frequency="A few minutes in every easy run for 4-6 weeks, then as feels natural.",
        steps=(
            "Run easy stretches at a step rate 5-10 % above your usual one at the same speed (a metronome app helps), with shorter steps.",
            "Do not force it at fast paces, where step rate rises by itself.",
        ),
        evidence=("heiderscheit2011", "lenhart2014"),
    ),
    "monotony": Plan(
        title="Vary hard and easy days",
        summary=(
            "Your daily load was very similar from day to day (high monotony). For information: "
            "Foster found that the level that matters differs between athletes."
        ),
        frequency="Every week.",
        steps=(
            "Alternate hard and easy days, and keep at least one full rest day a week.",
            "Make easy runs truly easy, so that the hard ones can be hard.",
        ),
        evidence=("foster1998",),
    ),
    "no_sprints": Plan(
        title="A weekly sprint or strides session",
        summary="You spent little or no time at high speed in recent weeks.",
        frequency="Once a week, on a day you feel fresh.",
        steps=(
            "Warm up 10-15 minutes of easy running plus drills.",
            "6-8 strides of 60-80 m building to about 90-95 % of top speed, walk back to recover fully.",
            "Alternative: 6 x 10 s uphill sprints with 2 minutes' walking recovery.",
            "Start with fewer repetitions if you have not sprinted for a while.",
        ),
        evidence=("sprint_exposure",),
    ),
    "no_strength": Plan(
        title="Add lower-body strength training",
        summary=(
            "No strength session was recorded in recent weeks. Strength work builds strength "
            "and speed and is worth doing; in runners it has not been shown to prevent "
            "injuries, so take it as training advice."
        ),
        frequency="Twice a week on non-consecutive days.",
        exercises=STRENGTH,
        steps=(_LOAD_NOTE,),
        evidence=("lauersen2014", "toresdahl2020"),
    ),
    "return_progression": Plan(
        title="Build back gradually after a break",
        summary=(
            "You are running again after a break, and this week's running time is above the "
            "step suggested for this week of your return, measured against your own weeks "
            "before the break."
        ),
        frequency="The next 2-4 weeks.",
        steps=(
            "After 2-4 weeks off: about half of your usual weekly running in the first week back, three quarters in the second.",
            "After a longer break: about a third, then half, then three quarters, one week each.",
            "Easy pace first; add faster running last. Cross-training and strength are good company meanwhile.",
            "If the break was for an injury, follow your clinician's plan instead, and see a clinician if you have pain.",
        ),
        evidence=("daniels2014",),
    ),
    "returning": Plan(
        title="Returning after a break",
        summary=(
            "You are running again after a break. Your load is judged against your own weeks "
            "before the break, not against the near-zero load of the break."
        ),
        frequency="The next 2-4 weeks.",
        steps=(
            "Keep building in steps (about half, then three quarters of your usual week), easy pace first.",
            "See a clinician (doctor or physiotherapist) if you have pain.",
        ),
        evidence=("daniels2014",),
    ),
    "new_device": Plan(
        title="New watch or sensor: baselines rebuild",
        summary=(
            "Your runs are recorded by a new watch or running-dynamics sensor. Devices measure "
            "step length, oscillation and balance differently, so your personal gait "
            "baselines start again and gait changes are not rated until they have rebuilt."
        ),
        frequency="Nothing to do.",
        steps=("Wear the new device as you usually would; the baselines rebuild by themselves.",),
    ),
    "other_training": Plan(
        title="Cross-training and strength: keep it up",
        summary=(
            "Your cross-training and strength sessions are counted and shown here. They add "
            "fitness with less impact than running, so they never raise your running risk "
            "level; load spikes judge running only."
        ),
        frequency="As you enjoy it; strength twice a week on non-consecutive days works well.",
        steps=(
            "Sessions logged in your journal (`gaitwatch log strength --minutes 40`) count too.",
        ),
        evidence=("lauersen2014", "toresdahl2020"),
    ),
}


# What each missing_data code means for the reader: said plainly instead of guessing.
MISSING: dict[str, str] = {
    "no_running_dynamics": (
        "No running dynamics this week (no ground contact time, vertical oscillation or "
        "left/right balance): the watch had no running dynamics sensor or does not record "
        "them. Asymmetry could not be measured, so it is not rated."
    ),
    "no_gct_balance": (
        "No ground contact time balance this week, so left/right asymmetry could not be "
        "measured and is not rated."
    ),
    "no_cadence": (
        "No cadence this week, so step length and the compact-gait check could not be computed."
    ),
    "no_step_length": "No step length or cadence with speed, so stride changes could not be checked.",
    "no_heart_rate": (
        "No heart rate, so training load for some sessions is estimated from duration or is "
        "missing; load and ACWR may be too low."
    ),
    "no_speed": "No speed or distance samples, so pace, step length and sprint time are missing.",
    "no_runs": "No runs this week, so no gait measures could be computed.",
    "no_gait_samples": (
        "Runs were recorded but without usable samples for gait analysis (for example a "
        "manual entry or a file without speed), so gait measures are missing."
    ),
    "short_load_history": (
        "Less than four weeks of training history, so the acute:chronic load ratio is not "
        "rated yet."
    ),
    "new_device_baseline": (
        "New watch or running-dynamics sensor: your gait baselines are rebuilding, so gait "
        "changes are not rated for a few weeks."
    ),
    "short_gait_baseline": (
        "Not enough earlier weeks with gait data to form your personal baseline yet, so "
        "changes against it (compact gait) are not rated."
    ),
}


@dataclass(frozen=True)
class Evidence:
    rule: str  # also the short name a plan links to
    note: str
    references: tuple[str, ...]


EVIDENCE: dict[str, Evidence] = {
    "garmin_gct": Evidence(
        rule="GCT balance zones (asymmetry)",
        note=(
            "Garmin colours ground contact time balance by the larger side's share: up to "
            "50.7 % good, 50.8-52.2 % moderate, above 52.2 % poor. These are the manufacturer's "
            "population-based zones, not injury thresholds; we also compare against your own "
            "usual balance."
        ),
        references=(
            "Garmin. Running Dynamics: Ground Contact Time Balance (owner's manuals of Forerunner and fenix watches, HRM-Run/HRM-Pro/Running Dynamics Pod).",
        ),
    ),
    "foster1998": Evidence(
        rule="Training monotony and strain",
        note=(
            "Monotony is the mean daily load divided by its standard deviation over the week, "
            "and strain is weekly load times monotony. Foster saw illness follow load and "
            "strain above each athlete's own threshold; there is no validated cut-off for "
            "everyone, so monotony is shown for information only."
        ),
        references=(
            "Foster C. Monitoring training in athletes with reference to overtraining syndrome. Med Sci Sports Exerc. 1998;30(7):1164-1168.",
        ),
    ),
    "gabbett2016": Evidence(
        rule="Load spikes and the acute:chronic workload ratio (ACWR)",
        note=(
            "Gabbett proposed that rapid rises in load relative to what an athlete is used to "
            "come with more injuries. We use the ratio only to describe a rise in running "
            "load, together with running time above each of the previous four weeks."
        ),
        references=(
            "Gabbett TJ. The training-injury prevention paradox: should athletes be training smarter and harder? Br J Sports Med. 2016;50(5):273-280.",
        ),
    ),
    "acwr_criticism": Evidence(
        rule="Limits of the ACWR",
        note=(
            "The ratio is contested: the acute load is part of the chronic load (mathematical "
            "coupling), which can create spurious associations, and its predictive value for "
            "injury has not held up. We show ACWR descriptively and treat a spike only as a "
            "prompt to look at the week, not as a prediction."
        ),
        references=(
            "Lolli L, Batterham AM, Hawkins R, et al. Mathematical coupling causes spurious correlation within the conventional acute-to-chronic workload ratio calculations. Br J Sports Med. 2019;53(15):921-922.",
            "Impellizzeri FM, Woodcock S, Coutts AJ, Fanchini M, McCall A, Vigotsky AD. What role do chronic workloads play in the acute to chronic workload ratio? Time to dismiss ACWR and its underlying theory. Sports Med. 2021;51(3):581-592.",
        ),
    ),
    "heiderscheit2011": Evidence(
        rule="Step length, cadence and joint loading",
        note=(
            "Raising step rate by 5-10 % at the same speed (so shorter steps) reduced hip and "
            "knee loading in healthy runners. Short steps are therefore not harmful in "
            "themselves: the compact-gait flag is about a change against your own baseline, "
            "which may reflect fatigue, pain or a loss of speed and strength."
        ),
        references=(
            "Heiderscheit BC, Chumanov ES, Michalski MP, Wille CM, Ryan MB. Effects of step rate manipulation on joint mechanics during running. Med Sci Sports Exerc. 2011;43(2):296-302.",
        ),
    ),
    "nielsen2014": Evidence(
        rule="Weekly distance progression",
        note=(
            "In a cohort of novice runners, those who increased weekly distance by more than "
            "30 % over two weeks had more distance-related injuries (such as patellofemoral pain and "
            "iliotibial band syndrome) than those progressing by less than 10 %."
        ),
        references=(
            "Nielsen RO, Parner ET, Nohr EA, Sørensen H, Lind M, Rasmussen S. Excessive progression in weekly running distance and risk of running-related injuries: an association which varies according to type of injury. J Orthop Sports Phys Ther. 2014;44(10):739-747.",
        ),
    ),
    "sprint_exposure": Evidence(
        rule="Weekly fast running (no-sprints rule)",
        note=(
            "A training habit rather than an injury finding: running fast now and then keeps "
            "the speed range and stride length you can reach, which the compact-gait rule "
            "watches. We cite no injury study for this rule; treat it as coaching advice."
        ),
        references=(),
    ),
    "lauersen2014": Evidence(
        rule="Strength training in sport in general",
        note=(
            "Across randomised trials in many sports, strength training programmes came with "
            "fewer sports injuries; stretching did not. In runners the evidence is weaker (see "
            "Toresdahl 2020), so we suggest strength work as training, not as injury prevention."
        ),
        references=(
            "Lauersen JB, Bertelsen DM, Andersen LB. The effectiveness of exercise interventions to prevent sports injuries: a systematic review and meta-analysis of randomised controlled trials. Br J Sports Med. 2014;48(11):871-877.",
        ),
    ),
    "malisoux2024": Evidence(
        rule="Gait asymmetry and injury",
        note=(
            "In 836 recreational runners measured on an instrumented treadmill and followed "
            "for 6 months, gait asymmetry did not come with a higher injury risk. We therefore show Garmin's balance zones as context "
            "and rate only a lasting change against your own usual balance, never as high."
        ),
        references=(
            "Malisoux L, Gette P, Delattre N, Urhausen A, Theisen D. Gait asymmetry in spatiotemporal and kinetic variables does not increase running-related injury risk in lower limbs: a secondary analysis of a randomised trial including 800+ recreational runners. BMJ Open Sport Exerc Med. 2024;10(1):e001787.",
        ),
    ),
    "toresdahl2020": Evidence(
        rule="Strength training in runners",
        note=(
            "In a randomised study of 720 first-time marathon runners, a 12-week quadriceps, "
            "hip and core strength programme did not reduce overuse injuries. Strength work is still good "
            "training; we do not claim it prevents injuries."
        ),
        references=(
            "Toresdahl BG, McElheny K, Metzl J, Ammerman B, Chang B, Kinderknecht J. A randomized study of a strength training program to prevent injuries in runners of the New York City Marathon. Sports Health. 2020;12(1):74-79.",
        ),
    ),
    "lenhart2014": Evidence(
        rule="Step rate and knee load",
        note=(
            "A 10 % higher step rate at the same speed lowered patellofemoral (kneecap) joint "
            "forces in healthy runners, adding to Heiderscheit 2011."
        ),
        references=(
            "Lenhart RL, Thelen DG, Wille CM, Chumanov ES, Heiderscheit BC. Increasing running step rate reduces patellofemoral joint forces. Med Sci Sports Exerc. 2014;46(3):557-564.",
        ),
    ),
    "daniels2014": Evidence(
        rule="Returning after a break",
        note=(
            "Coaching guidance rather than an injury study: after 2-4 weeks off, run about "
            "half your previous load, then three quarters; after longer breaks start at about "
            "a third. We compare return weeks with your own weeks before the break."
        ),
        references=(
            "Daniels J. Daniels' Running Formula. 3rd ed. Champaign (IL): Human Kinetics; 2014 (breaks from training: adjusting the training load after time off). We use one week per step.",
        ),
    ),
}

# Shown in every report, whatever was flagged, so the reader sees the basis of each rule.
EVIDENCE_ORDER = (
    "garmin_gct", "malisoux2024", "heiderscheit2011", "lenhart2014", "foster1998",
    "gabbett2016", "acwr_criticism", "nielsen2014", "daniels2014", "lauersen2014",
    "toresdahl2020", "sprint_exposure",
)

RISK_LABELS: dict[str, tuple[str, str]] = {
    # level -> (label, symbol): the symbol carries the level without colour.
    "high": ("High", "▲"),
    "moderate": ("Moderate", "◆"),
    "low": ("Low", "●"),
    "insufficient_data": ("Insufficient data", "?"),
}

SEVERITY_ORDER = {"high": 0, "moderate": 1, "low": 2, "info": 3}

DISCLAIMER_HEADLINE = "Screening aid, not a diagnosis."
DISCLAIMER = (
    "Flags are simple rules applied to "
    "what your watch recorded; they can be wrong, and they cannot see pain, illness or "
    "life outside training. They describe changes against your own history; they do not "
    "give an injury probability. See a clinician if you have pain, or if something worries "
    "you, talk to a physiotherapist, doctor or coach."
)


# The weekly report's journal section (issue 12 item 4).
JOURNAL_KINDS: dict[str, str] = {"pain": "Pain", "injury": "Injury", "illness": "Illness"}
CLINICIAN = (
    "See a clinician (doctor or physiotherapist) if you have pain, if it changes how you run, "
    "or if it lasts more than a few days. The flags above cannot see it."
)
SUMMARY_ONLY = {
    "journal": "from your journal, no recording",
    "default": "from activity list, no recording",
}
DESCRIPTION_CHARS = 140  # descriptions are shortened to this in the sessions tables

# The back-test on the index page (issue 14 item 5).
SIGNAL_LABELS: dict[str, str] = {
    "high": "High risk level",
    "moderate_or_high": "Moderate or high risk level",
}
BACK_TEST_NOTE = (
    "How the warnings did on your own past: for each rule and risk level, the share of weeks "
    "it warned, and how many pain or injury episodes from your journal came 1-28 days after "
    "a warning. The chance rate is what a warning at random weeks would have reached on the "
    "same history. These are small numbers from one runner: a screening aid, not proof that "
    "a warning predicts injury."
)
NO_EPISODES_NOTE = (
    "No pain or injury episodes in the journal yet, so hit rates cannot be computed. Log them "
    "with `gaitwatch log pain --body-part \"left knee\" --severity 3` or in journal.csv."
)
LAYOFF_NOTE = (
    "Possible layoffs: breaks of 14 or more days without running and with nothing in the "
    "journal. Maybe an injury that was not logged, maybe a holiday; they are not counted as "
    "episodes."
)
