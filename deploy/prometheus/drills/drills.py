"""The alert drills: what each one replays, which incidents it contains and which
alerts it may set off. generate.py runs them; docs/alerts.md shows the results.

Every drill is one exporter target (its own `instance`) with its jobs. Drills of the same
length share a promtool test (a "group"); a drill about the exporter target vanishing
gets a group of its own, because `absent()` looks at every target of the job.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Optional

from series import (D, H, STALE, JobSpec, Noise, Series, at, business_hours, const,
                    diurnal, healthy_job, piecewise, restart, target_series, timeline)


@dataclass
class Incident:
    """An incident `alert` must catch: it starts at minute `start` and is over at `end`
    (None: lasts to the end of the drill). With `labels`, only an alert carrying them
    catches it (say the bottleneck's node_id), and the same alert with other values is
    a false alert."""
    alert: str
    start: int
    end: Optional[int] = None
    severity: Optional[str] = None
    labels: dict = field(default_factory=dict)


@dataclass
class Allow:
    """`alert` may fire from `start` to `end`: a consequence of the incident, or (with
    learning=True) a job with too little history to know what is normal."""
    alert: str
    start: int
    end: int
    why: str = ""
    learning: bool = False
    severity: Optional[str] = None


@dataclass
class Drill:
    name: str
    title: str
    series: list[Series]
    catch: list[Incident] = field(default_factory=list)
    allow: list[Allow] = field(default_factory=list)
    description: str = ""


@dataclass
class Group:
    """Drills on one topic. Groups with the same `run` (and length) share one promtool
    test and file: promtool's cost is mostly per evaluation step, not per series."""
    name: str
    days: int
    drills: list[Drill]
    run: Optional[str] = None

    @property
    def minutes(self) -> int:
        return self.days * D + 1

    @property
    def file(self) -> str:
        return f"deploy/prometheus/drills/{self.run or self.name}.test.yml"


THROUGHPUT_ALERTS = ("ArroyoThroughputDrop", "ArroyoInputStopped")


def job_id(name: str) -> str:
    """Arroyo ids are "job_" + 10 alphanumerics: the start of the drill name (readable)
    and 4 characters of its hash (unique: the job-level rules key on job_id alone)."""
    digest = hashlib.sha256(name.encode()).hexdigest()[:4]
    return "job_" + name.replace("-", "")[:6].ljust(6, "x") + digest


def rate_drill(name: str, n: int, rate, title: str, seed: str | None = None,
               jitter: float = 0.0, wander: float = 0.06, started: int = 0,
               mutate=None, catch=(), allow=(), description: str = "") -> Drill:
    """A drill of one job whose sources read `rate(minute)` messages/s times the noise.
    Its first day (the job has no history for the time of day yet) is a learning window
    for the throughput alerts."""
    noise = Noise(seed or name, n, wander=wander, jitter=jitter)
    values = []
    for m in range(n):
        if m < started:
            values.append(None)
            continue
        v = rate(m)
        values.append(None if v is None else max(0.0, v * noise(m)))
    job = healthy_job(n, job_id(name), name, values, started=started)
    if started > 0:
        for m in range(started):
            job.state[m] = None
    if mutate:
        mutate(job)
    series = target_series(name, n, const(n, 1.0), jobs=(job,))
    allow = [*learning(max(started, 0)), *allow]
    return Drill(name, title, series, list(catch), allow, description)


def by_hour(shape, seed: str | None = None, shift: int = 10):
    """A daily shape by clock time; with a seed, each day's schedule is shifted by up to
    `shift` minutes either way (traffic never starts at the same minute every day)."""
    if seed is None:
        return lambda m: shape((m % D) / H)
    rng = random.Random(seed)
    shifts = [rng.randint(-shift, shift) for _ in range(64)]
    return lambda m: shape(((m - shifts[m // D]) % D) / H)


def scaled(base, factor, start, end=None):
    """`base` times `factor` from `start` (to `end`)."""
    def f(m):
        v = base(m)
        if v is None:
            return None
        return v * factor if start <= m and (end is None or m < end) else v
    return f


def _quiet_nights(h):
    if h >= 20 or h < 6:
        return 0.0
    return business_hours()(h)


# Business hours with no input at all from 20:00 to 06:00 (a quiet topic).
quiet_nights = by_hour(_quiet_nights, "quiet-nights")


def steady(v):
    return lambda m: v


def learning(start: int = 0, *alerts) -> list[Allow]:
    """The first day of a job: it has no history for the time of day yet."""
    out = []
    for a in alerts or THROUGHPUT_ALERTS:
        sev = "warning" if a == "ArroyoInputStopped" else None
        out.append(Allow(a, start, start + D, learning=True, severity=sev))
    return out


def weekday(m: int) -> int:
    """0 = Monday. The weekly drill treats its day 1 as a Saturday (promtool's minute 0
    is a Thursday, but nothing in the rules looks at the calendar)."""
    return (m // D + 5) % 7


_weekday_hours = by_hour(business_hours(), "weekdays")


def weekdays_shape(m):
    """Business hours from Monday to Friday, 50/s all weekend."""
    if weekday(m) >= 5:
        return 50.0
    return _weekday_hours(m)


def throughput_3d() -> Group:
    n = 3 * D + 1
    bh = by_hour(business_hours(), "business-hours")
    wave = by_hour(diurnal(200, 1000, 15))
    drills = [
        rate_drill(
            "business-hours", n, bh,
            "business hours: 1000/s 08–18 h, 50/s at night, 1-h ramps",
            ),
        rate_drill(
            "business-hours-drop", n, scaled(bh, 0.2, at(2, 11), at(2, 14)),
            "business hours; input drops to 20 % on day 3 from 11:00 to 14:00",
            catch=[Incident("ArroyoThroughputDrop", at(2, 11), at(2, 14))],
            ),
        rate_drill(
            "quiet-nights", n, quiet_nights,
            "business hours with no input at all 20:00–06:00 (a quiet topic)",
            ),
        rate_drill(
            "quiet-nights-stuck", n, scaled(quiet_nights, 0.0, at(2, 11)),
            "quiet nights; the source is stuck (reads nothing) from day 3 11:00",
            catch=[Incident("ArroyoInputStopped", at(2, 11), severity="critical")],
            allow=[Allow("ArroyoThroughputDrop", at(2, 11), n - 1, "no input is also a drop")]),
        rate_drill(
            "restart-catch-up", n, steady(100.0),
            "steady 100/s; the job restarts on day 2 at 14:00 (2 min) and catches up at "
            "5× for 20 min",
            mutate=lambda j: restart(j, at(1, 14), catch_up=5.0, catch_up_minutes=20)),
        rate_drill(
            "young-restart-catch-up", n, steady(100.0),
            "steady 100/s, job started at 00:00; it restarts at 04:00 (2 min) and catches "
            "up at 5× for 20 min",
            mutate=lambda j: restart(j, at(0, 4), catch_up=5.0, catch_up_minutes=20)),
        rate_drill(
            "diurnal", n, wave,
            "daily wave between 200/s (03:00) and 1000/s (15:00), noisy"),
        rate_drill(
            "diurnal-drop-50", n, scaled(wave, 0.5, at(1, 16), at(1, 18)),
            "daily wave; input drops to 50 % on day 2 from 16:00 to 18:00",
            catch=[Incident("ArroyoThroughputDrop", at(1, 16), at(1, 18))]),
        rate_drill(
            "diurnal-drop-35", n, scaled(wave, 0.35, at(2, 9), at(2, 10, ) + 30),
            "daily wave; input drops to 35 % on day 3 from 09:00 to 10:30 (while it rises)",
            catch=[Incident("ArroyoThroughputDrop", at(2, 9), at(2, 10) + 30)]),
        rate_drill(
            "slow-decline", n,
            lambda m: 800.0 * (1 - 0.3 * min(1.0, max(0.0, (m - at(1, 8)) / (6 * H)))),
            "steady 800/s; from day 2 08:00 it declines by 30 % over 6 hours and stays "
            "there (not an incident)"),
        rate_drill(
            "bursty", n, steady(300.0),
            "300/s with ±40 % from one minute to the next and a ±15 % slow wander",
            jitter=0.4, wander=0.15),
        rate_drill(
            "batch-15m", n,
            lambda m: 3000.0 if m % 15 < 2 else 0.0,
            "a batch source: 3000/s for 2 minutes every 15 minutes, nothing in between",
            wander=0.0),
        rate_drill(
            "batch-hourly", n,
            lambda m: 1000.0 if m % 60 < 10 else 0.0,
            "a batch source: 1000/s for 10 minutes every hour, nothing in between",
            wander=0.0),
        rate_drill(
            "steady-stuck", n, scaled(steady(500.0), 0.0, at(1, 10)),
            "steady 500/s; the source is stuck from day 2 10:00",
            catch=[Incident("ArroyoInputStopped", at(1, 10), severity="critical")],
            allow=[Allow("ArroyoThroughputDrop", at(1, 10), n - 1, "no input is also a drop")]),
        rate_drill(
            "young-stuck", n, scaled(steady(500.0), 0.0, at(0, 9)),
            "steady 500/s, job started at 06:00; the source is stuck from 09:00",
            started=at(0, 6),
            catch=[Incident("ArroyoInputStopped", at(0, 9))],
            allow=[Allow("ArroyoThroughputDrop", at(0, 9), n - 1, "no input is also a drop")]),
        rate_drill(
            "young-drop", n, scaled(steady(400.0), 0.3, at(0, 12), at(0, 16)),
            "job started at 08:00, steady 400/s for 4 hours, then a drop to 30 % until "
            "16:00",
            started=at(0, 8),
            catch=[Incident("ArroyoThroughputDrop", at(0, 12), at(0, 16))]),
    ]
    return Group("throughput-3d", 3, drills)


def weekly() -> Group:
    days = 10
    n = days * D + 1
    monday = 9  # day 10, the second Monday: a week of history
    return Group("weekly-10d", days, [
        rate_drill(
            "weekdays", n, weekdays_shape,
            "business hours Monday to Friday, 50/s all weekend; 10 days from a Saturday"),
        rate_drill(
            "weekdays-drop", n, scaled(weekdays_shape, 0.25, at(monday, 10), at(monday, 12)),
            "weekdays; input drops to 25 % on day 10 (the second Monday) from 10:00 to 12:00",
            catch=[Incident("ArroyoThroughputDrop", at(monday, 10), at(monday, 12))]),
        rate_drill(
            "weekly-decline", n,
            lambda m: diurnal(300, 1200, 14)((m % D) / H) * (1 - 0.3 * m / n),
            "daily wave whose level declines by 30 % over the 10 days (not an incident)"),
    ])


# ---------------------------------------------------------------- exporter, controller, API

def exporter_drill(name: str, n: int, title: str, up=None, arroyo_up=None, collectors=None,
                   job_mutate=None, catch=(), allow=(), description: str = "",
                   instance: str | None = None) -> Drill:
    job = healthy_job(n, job_id(name), name, [250.0] * n)
    if job_mutate:
        job_mutate(job)
    series = target_series(instance or name, n, up or const(n, 1.0), arroyo_up=arroyo_up,
                           collectors=collectors, jobs=(job,))
    return Drill(name, title, series, list(catch), list(allow), description)


COLLECTORS = ("discovery", "jobs", "topology", "checkpoints", "job_metrics")


def collectors(n: int, failing: dict[str, tuple[int, int]] | None = None):
    out = {}
    for c in COLLECTORS:
        vals = const(n, 1.0)
        for name, (a, b) in (failing or {}).items():
            if name == c:
                for m in range(a, b):
                    vals[m] = 0.0
        out[c] = vals
    return out


def window(n: int, a: int, b: int, inside: float, outside: float = 1.0):
    return [inside if a <= m < b else outside for m in range(n)]


def hide_job(a: int, b: int):
    """The exporter lists no job from a to b (the job list is unreadable)."""
    def f(job: JobSpec):
        for m in range(a, b):
            job.state[m] = None
    return f


def hide_metrics(a: int, b: int):
    """The job's metrics are missing from a to b (controller unreachable)."""
    def f(job: JobSpec):
        for m in range(a, b):
            job.input[m] = None
        ts = [m * 60.0 - 2.0 for m in range(len(job.state))]
        for m in range(a, b):
            ts[m] = None
        job.sample_ts = ts
    return f


def exporter_1d() -> Group:
    n = D + 1
    t = at(0, 10)
    flaky = [0.0 if m % 10 == 5 else 1.0 for m in range(n)]
    return Group("exporter", 1, run="health-1d", drills=[
        exporter_drill(
            "exporter-crash", n, "the exporter is down (scrapes fail) from 10:00 to 10:40",
            up=window(n, t, t + 40, 0.0),
            catch=[Incident("ArroyoExporterDown", t, t + 40)]),
        exporter_drill(
            "exporter-blip", n, "one 3-minute exporter outage at 12:00 (a restart)",
            up=window(n, at(0, 12), at(0, 12) + 3, 0.0)),
        exporter_drill(
            "exporter-flaky", n, "one scrape in ten fails all day (timeouts)", up=flaky),
        exporter_drill(
            "controller-down", n,
            "Arroyo's controller does not answer from 10:00 to 10:45 (the REST API does)",
            arroyo_up=window(n, t, t + 45, 0.0),
            collectors=collectors(n, {"job_metrics": (t, t + 45)}),
            job_mutate=hide_metrics(t, t + 45),
            catch=[Incident("ArroyoControllerUnreachable", t, t + 45)],
            allow=[Allow("ArroyoExporterCollectorFailing", t, t + 45,
                         "the job_metrics collector fails with the controller")]),
        exporter_drill(
            "controller-restart", n, "the controller restarts at 12:00 (3 minutes away)",
            arroyo_up=window(n, at(0, 12), at(0, 12) + 3, 0.0),
            collectors=collectors(n, {"job_metrics": (at(0, 12), at(0, 12) + 3)}),
            job_mutate=hide_metrics(at(0, 12), at(0, 12) + 3)),
        exporter_drill(
            "api-down", n,
            "Arroyo's REST API does not answer from 10:00 to 11:00: no job is listed",
            collectors=collectors(n, {c: (t, t + 60) for c in
                                      ("discovery", "jobs", "topology", "checkpoints")}),
            job_mutate=hide_job(t, t + 60),
            catch=[Incident("ArroyoApiUnreachable", t, t + 60)],
            allow=[Allow("ArroyoExporterCollectorFailing", t, t + 60,
                         "the collectors that read the API fail with it")]),
        exporter_drill(
            "api-blip", n, "the REST API fails for 2 minutes at 12:00",
            collectors=collectors(n, {c: (at(0, 12), at(0, 12) + 2) for c in
                                      ("discovery", "jobs", "topology", "checkpoints")}),
            job_mutate=hide_job(at(0, 12), at(0, 12) + 2)),
        exporter_drill(
            "checkpoints-collector-failing", n,
            "reading checkpoints fails from 10:00 to 12:00 (the exporter keeps its last "
            "answer)",
            collectors=collectors(n, {"checkpoints": (t, t + 120)}),
            job_mutate=freeze_checkpoints(t, t + 120),
            catch=[Incident("ArroyoExporterCollectorFailing", t, t + 120)]),
    ])


def freeze_checkpoints(a: int, b: int):
    """The exporter cannot read checkpoints from minute `a` to `b`: it keeps showing the
    last answer, read before `a`."""
    def f(job: JobSpec):
        last = job.checkpoint_completed[a - 1]
        read = job.checkpoint_read or [m * 60.0 - 1.0 for m in range(len(job.state))]
        for m in range(a, b):
            job.checkpoint_completed[m] = last
            read[m] = read[a - 1]
        job.checkpoint_read = read
    return f


def target_vanished() -> Group:
    n = D + 1
    t = at(0, 10)
    # Prometheus marks the series stale when the target leaves service discovery
    up = [1.0 if not (t <= m < t + 120) else None for m in range(n)]
    up[t] = STALE
    return Group("target-vanished-1d", 1, [
        exporter_drill(
            "target-vanished", n,
            "the exporter's target disappears from service discovery from 10:00 to 12:00",
            up=up, catch=[Incident("ArroyoExporterTargetMissing", t, t + 120)]),
    ])


def exporter_rollout() -> Group:
    n = D + 1
    t = at(0, 10)
    job_a = healthy_job(n, job_id("rollout"), "rollout", [250.0] * n)
    gone = [1.0 if m < t else None for m in range(n)]
    gone[t] = STALE
    old = target_series("exporter-rollout", n, gone, jobs=(job_a,))
    new = target_series("exporter-rollout-new", n,
                        [1.0 if m > t else None for m in range(n)], jobs=(job_a,))
    return Group("exporter-rollout-1d", 1, [
        Drill("exporter-rollout",
              "the exporter's pod is replaced at 10:00: the old target goes, a new one "
              "(another instance) is scraped a minute later", old + new),
    ])


# ---------------------------------------------------------------- jobs

def set_state(a: int, b: int, state: str, desired: float | None = None, new_run=False):
    def f(job: JobSpec):
        if state not in job.states_shown:
            job.states_shown = (*job.states_shown, state)
        for m in range(a, min(b, len(job.state))):
            job.state[m] = state
            if desired is not None:
                job.desired[m] = desired
        if new_run:
            restart(job, b, down=0)
    return f


def chain(*fs):
    def f(job):
        for g in fs:
            g(job)
    return f


def job_drill(name, n, title, mutate=None, catch=(), allow=(), description="", rate=250.0):
    job = healthy_job(n, job_id(name), name, [rate] * n)
    if mutate:
        mutate(job)
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


def restarts_every(start: int, end: int, every: int, down: int = 1):
    def f(job):
        m = start
        while m < end:
            # the backlog of a minute's outage is read at twice the rate in a minute
            restart(job, m, down=down, catch_up=2.0, catch_up_minutes=down)
            m += every
    return f


def freeze_sample(a: int, b: int):
    def f(job: JobSpec):
        ts = [m * 60.0 - 2.0 for m in range(len(job.state))]
        for m in range(a, b):
            ts[m] = a * 60.0 - 2.0
            job.input[m] = None  # older than the exporter's max sample age: dropped
        job.sample_ts = ts
    return f


def jobs_1d() -> Group:
    n = D + 1
    t = at(0, 10)
    return Group("jobs", 1, run="health-1d", drills=[
        job_drill("job-failed", n,
                  "the job fails at 10:00 and stays Failed until an operator restarts it "
                  "at 12:00",
                  mutate=set_state(t, t + 120, "Failed", new_run=True),
                  catch=[Incident("ArroyoJobFailed", t, t + 120),
                         Incident("ArroyoJobNotRunning", t, t + 120)]),
        job_drill("job-stopped", n, "a user stops the pipeline at 10:00",
                  mutate=set_state(t, n, "Stopped", desired=0.0)),
        job_drill("job-stuck-scheduling", n,
                  "the job restarts at 10:00 and waits in Scheduling for 40 minutes (no "
                  "worker slots)",
                  mutate=set_state(t, t + 40, "Scheduling", new_run=True),
                  catch=[Incident("ArroyoJobNotRunning", t, t + 40)]),
        job_drill("restart-loop", n,
                  "the job restarts every 7 minutes from 10:00 to 11:00 (1 minute in "
                  "Restarting each time); the third restart is at 10:14",
                  mutate=restarts_every(t, t + 60, 7),
                  catch=[Incident("ArroyoJobRestartLoop", t + 14, t + 60)]),
        job_drill("restarts-2h", n, "the job restarts every 2 hours (1 minute each)",
                  mutate=restarts_every(at(0, 1), n, 120)),
        job_drill("rescale", n, "the job rescales at 10:00 (4 minutes in Rescaling)",
                  mutate=set_state(t, t + 4, "Rescaling")),
        job_drill("metrics-stale", n,
                  "the job's workers stop reporting at 10:00 (the controller keeps its last "
                  "point) until 10:40; the job stays Running",
                  mutate=freeze_sample(t, t + 40),
                  catch=[Incident("ArroyoMetricsStale", t + 1, t + 40)]),
    ])


# ---------------------------------------------------------------- checkpoints

def checkpoint_drill(name, n, title, durations=None, interval=10.0, every=1, freeze=None,
                     catch=(), allow=(), description=""):
    job = healthy_job(n, job_id(name), name, [250.0] * n, checkpoint_interval=interval)
    if durations is not None:
        job.checkpoint_duration = durations
    if every > 1:
        job.checkpoint_completed = [(m - m % every) * 60.0 - 4.0 for m in range(n)]
    if freeze:
        a, b = freeze
        for m in range(a, b):
            job.checkpoint_completed[m] = job.checkpoint_completed[a - 1]
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


def slowing_durations(n, start, end, lo, hi, seed):
    import random
    rng = random.Random(seed)
    out = []
    for m in range(n):
        f = min(1.0, max(0.0, (m - start) / (end - start)))
        out.append(round(lo + (hi - lo) * f + rng.uniform(-0.4, 0.4), 1))
    return out


def first_for_good(values, threshold):
    """First minute from which every value is above threshold."""
    first = None
    for m, v in enumerate(values):
        if v is not None and v > threshold:
            if first is None:
                first = m
        else:
            first = None
    return first


def checkpoints_1d() -> Group:
    n = D + 1
    t = at(0, 10)
    slow = slowing_durations(n, t, at(0, 14), 2.0, 12.0, "checkpoints-slowing")
    slow_start = first_for_good(slow, 8.0)
    spikes = [14.0 if m % 60 == 30 else 0.4 for m in range(n)]
    return Group("checkpoints", 1, run="health-1d", drills=[
        checkpoint_drill("checkpoints-slowing", n,
                         "interval 10 s; checkpoints take 2 s until 10:00, then slow down to "
                         "12 s by 14:00 (±0.4 s)",
                         durations=slow,
                         catch=[Incident("ArroyoCheckpointsSlow", slow_start)],
                         description=f"Every checkpoint takes more than 8 s (80 % of the "
                                     f"interval) from {slow_start // 60:02d}:"
                                     f"{slow_start % 60:02d} on."),
        checkpoint_drill("checkpoint-spikes", n,
                         "interval 10 s, checkpoints take 0.4 s; one takes 14 s every hour",
                         durations=spikes),
        checkpoint_drill("checkpoints-stalled", n,
                         "interval 10 s; no checkpoint completes from 10:00 to 11:00",
                         freeze=(t, t + 60),
                         catch=[Incident("ArroyoCheckpointsStalled", t + 2, t + 60)],
                         description="The newest checkpoint is overdue (older than "
                                     "max(3 × 10 s, 2 min)) from 10:02."),
        checkpoint_drill("long-interval", n,
                         "interval 5 min, a checkpoint completes every 5 minutes and takes "
                         "40 s",
                         interval=300.0, every=5, durations=const(n, 40.0)),
    ])


# ---------------------------------------------------------------- operators

def operator_drill(name, n, title, backpressure=None, subtasks=None, catch=(), allow=(),
                   description=""):
    job = healthy_job(n, job_id(name), name, [250.0] * n)
    base = {"job": "arroyo-exporter", "instance": name, "job_id": job.job_id,
            "pipeline_id": job.pipeline_id, "pipeline_name": name}
    if backpressure is not None:
        job.extra.append(Series("arroyo_operator_backpressure_ratio",
                                {**base, "node_id": "2", "operator_name": "join"},
                                backpressure, compress=False))
        job.extra.append(Series("arroyo_operator_backpressure_ratio",
                                {**base, "node_id": "0", "operator_name": "source"},
                                const(n, 0.02), compress=False))
    for idx, vals in enumerate(subtasks or []):
        job.extra.append(Series("arroyo_subtask_received_messages_per_second",
                                {**base, "node_id": "3", "operator_name": "window",
                                 "subtask_idx": str(idx)}, vals, compress=False))
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


# The chain of the graph drills: node id, operator name.
CHAIN = [("0", "source"), ("2", "join"), ("3", "window"), ("5", "sink")]
BOTTLENECK_THRESHOLD = 0.5  # the exporter's default scrape.bottleneck-threshold


def graph_drill(name, n, title, backpressure, catch=(), allow=(), description=""):
    """A job whose exporter has the graph: the chain CHAIN with its edges, each node's
    backpressure per minute (`backpressure`: node id -> values; others stay at 0.02), and
    arroyo_operator_bottleneck as the exporter computes it from them."""
    job = healthy_job(n, job_id(name), name, [250.0] * n)
    base = {"job": "arroyo-exporter", "instance": name, "job_id": job.job_id,
            "pipeline_id": job.pipeline_id, "pipeline_name": name}
    bp = {node: backpressure.get(node, const(n, 0.02)) for node, _ in CHAIN}
    for (src, _), (dst, _) in zip(CHAIN, CHAIN[1:]):
        job.extra.append(Series("arroyo_operator_edge_info",
                                {**base, "src_node_id": src, "dst_node_id": dst,
                                 "edge_type": "Forward"}, const(n, 1.0), compress=False))
    for pos, (node, op) in enumerate(CHAIN):
        labels = {**base, "node_id": node, "operator_name": op}
        job.extra.append(Series("arroyo_operator_backpressure_ratio", labels, bp[node],
                                compress=False))
        up = CHAIN[pos - 1][0] if pos > 0 else None
        named = [1.0 if up is not None and bp[up][m] >= BOTTLENECK_THRESHOLD
                 and bp[node][m] < BOTTLENECK_THRESHOLD else 0.0 for m in range(n)]
        job.extra.append(Series("arroyo_operator_bottleneck", dict(labels), named,
                                compress=False))
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


def jittered(n, seed, level, amp):
    import random
    rng = random.Random(seed)
    return [round(level * (1 + rng.uniform(-amp, amp)), 2) for _ in range(n)]


def operators_1d() -> Group:
    n = D + 1
    t = at(0, 10)
    import random
    rng = random.Random("backpressure")
    bp = [round(rng.uniform(0.8, 0.9), 2) if t <= m < t + 120 else round(rng.uniform(0, 0.1), 2)
          for m in range(n)]
    bursts = [0.95 if m % 30 < 4 else 0.05 for m in range(n)]
    skew = [jittered(n, f"skew{i}", 100.0, 0.1) for i in range(4)]
    skew[0] = [v * 5 if m >= t else v for m, v in enumerate(skew[0])]
    even = [jittered(n, f"even{i}", 100.0, 0.3) for i in range(4)]
    low = [jittered(n, f"low{i}", 1.0, 0.1) for i in range(4)]
    low[0] = [v * 4 for v in low[0]]
    return Group("operators", 1, run="health-1d", drills=[
        operator_drill("backpressure", n,
                       "the join's output queue is 80–90 % full from 10:00 to 12:00",
                       backpressure=bp,
                       catch=[Incident("ArroyoOperatorBackpressure", t, t + 120)]),
        operator_drill("backpressure-bursts", n,
                       "95 % backpressure for 4 minutes every 30 minutes (batches)",
                       backpressure=bursts),
        graph_drill("bottleneck", n,
                    "the window is slow from 10:00 to 12:00: the source's and the join's "
                    "output queues are 80–90 % full",
                    backpressure={"0": bp, "2": [round(v - 0.03, 2) if v >= 0.8 else v
                                                for v in bp]},
                    catch=[Incident("ArroyoOperatorBackpressure", t, t + 120,
                                    labels={"node_id": "3"})],
                    description="The exporter has the graph and names the window (node 3) "
                                "as the bottleneck; only it may alert, not the source or "
                                "the join upstream of it."),
        graph_drill("bottleneck-moves", n,
                    "the join is slow from 10:00 to 11:00 (the source is backpressured), "
                    "then the window until 13:00 (the source and the join are)",
                    backpressure={"0": [0.85 if t <= m < t + 180 else 0.02 for m in range(n)],
                                  "2": [0.85 if t + 60 <= m < t + 180 else 0.02
                                        for m in range(n)]},
                    catch=[Incident("ArroyoOperatorBackpressure", t, t + 60,
                                    labels={"node_id": "2"}),
                           Incident("ArroyoOperatorBackpressure", t + 60, t + 180,
                                    labels={"node_id": "3"})],
                    description="The alert follows the bottleneck: the join first, then the "
                                "window."),
        graph_drill("bottleneck-bursts", n,
                    "the window is slow for 4 minutes every 30 minutes (batches)",
                    backpressure={"0": bursts, "2": bursts}),
        operator_drill("skew", n,
                       "4 subtasks at 100/s (±10 %); subtask 0 gets 5× from 10:00 (a hot key)",
                       subtasks=skew, catch=[Incident("ArroyoSubtaskSkew", t)]),
        operator_drill("even-noisy", n, "4 subtasks at 100/s, ±30 % from minute to minute",
                       subtasks=even),
        operator_drill("skew-low-rate", n,
                       "4 subtasks at 1/s, one at 4/s (skewed, but too little to matter)",
                       subtasks=low),
    ])


# ---------------------------------------------------------------- state size and job errors

MIB = 1024 * 1024


def predict_linear(values, m, window, horizon_min):
    """Prometheus' predict_linear at minute `m` over the samples of the last `window`
    minutes (least squares, intercept at `m`), `horizon_min` minutes ahead."""
    pts = [(x, values[x]) for x in range(max(0, m - window + 1), m + 1)
           if values[x] is not None]
    if len(pts) < 2:
        return None
    n = len(pts)
    mx = sum(x for x, _ in pts) / n
    my = sum(y for _, y in pts) / n
    var = sum((x - mx) ** 2 for x, _ in pts)
    slope = sum((x - mx) * (y - my) for x, y in pts) / var
    return my + slope * (m - mx) + slope * horizon_min


def state_growing(values, window=6 * H, horizon=D, factor=2.0, near_top=0.9,
                  min_bytes=64 * MIB):
    """Per minute: whether ArroyoCheckpointStateGrowing's condition holds (the trend
    passes `factor` times the window's largest within `horizon`, and the state is near
    that largest now)."""
    out = []
    for m, v in enumerate(values):
        p = predict_linear(values, m, window, horizon)
        top = max(x for x in values[max(0, m - window + 1):m + 1] if x is not None)
        out.append(v is not None and p is not None and v > min_bytes and p > factor * top
                   and v >= near_top * top)
    return out


def state_drill(name, n, title, size, catch=(), allow=(), description=""):
    job = healthy_job(n, job_id(name), name, [250.0] * n)
    labels = {"job": "arroyo-exporter", "instance": name, "job_id": job.job_id,
              "pipeline_id": job.pipeline_id, "pipeline_name": name}
    job.extra.append(Series("arroyo_job_last_checkpoint_bytes", labels, size, scale=1,
                            compress=False))
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


def errors_drill(name, n, title, rows, catch=(), allow=(), description=""):
    """`rows`: error rows written in each minute (the counter is their running sum)."""
    job = healthy_job(n, job_id(name), name, [250.0] * n)
    labels = {"job": "arroyo-exporter", "instance": name, "job_id": job.job_id,
              "pipeline_id": job.pipeline_id, "pipeline_name": name,
              "error_domain": "user", "operator_id": "value_1"}
    total, counter = 0, []
    for r in rows:
        total += r
        counter.append(float(total))
    job.extra.append(Series("arroyo_job_errors_total", labels, counter, scale=1,
                            compress=False))
    return Drill(name, title, target_series(name, n, const(n, 1.0), jobs=(job,)),
                 list(catch), list(allow), description)


def state_errors_1d() -> Group:
    n = D + 1
    t = at(0, 10)
    leak = [200 * MIB + (2 * MIB * (m - t) if m >= t else 0) for m in range(n)]
    leak_start = first_for_good([1.0 if c else 0.0 for c in state_growing(leak)], 0.5)
    saw = [20 * MIB + 5 * MIB * (m % 60) for m in range(n)]
    rng = random.Random("state-steady")
    # whole 32 MiB steps (one per checkpoint) keep the file free of stray digit runs
    steady = [rng.choice(range(1952, 2145, 32)) * MIB for _ in range(n)]
    sustained = [5 if t <= m < t + 120 else 0 for m in range(n)]
    burst = [25 if m == t else 0 for m in range(n)]
    trickle = [1 if m % 5 == 0 else 0 for m in range(n)]
    return Group("state-errors", 1, run="health-1d", drills=[
        state_drill("state-leak", n,
                    "the newest checkpoint holds 200 MiB until 10:00, then grows by 2 MiB "
                    "a minute (keys that never expire)",
                    leak,
                    catch=[Incident("ArroyoCheckpointStateGrowing", leak_start)],
                    description=f"At the trend of the last 6 hours the state grows past twice "
                                f"its largest within a day from {leak_start // 60:02d}:"
                                f"{leak_start % 60:02d} on."),
        state_drill("state-hourly-windows", n,
                    "hourly windows: the state climbs from 20 MiB to 315 MiB and drops back "
                    "every hour",
                    saw),
        state_drill("state-large-steady", n, "2 GiB of state, ±5 % (32 MiB steps) from "
                    "checkpoint to checkpoint", steady),
        errors_drill("errors-sustained", n,
                     "5 error rows a minute (invalid input dropped) from 10:00 to 12:00",
                     sustained,
                     catch=[Incident("ArroyoJobErrors", t, t + 120)]),
        errors_drill("errors-one-burst", n, "25 error rows at 10:00, none before or after",
                     burst),
        errors_drill("errors-trickle", n, "one error row every 5 minutes all day", trickle),
    ])


def groups() -> list[Group]:
    # the longest first: two promtool processes run at a time
    return [weekly(), throughput_3d(), exporter_1d(), jobs_1d(), checkpoints_1d(),
            operators_1d(), state_errors_1d(), target_vanished(), exporter_rollout()]
