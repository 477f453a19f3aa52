"""Building blocks for the alert drills: minute timelines, traffic shapes, noise, and the
series an arroyo-exporter target exposes for a job, encoded in promtool's notation.

Time is in minutes from the start of a drill; minute 0 is 1970-01-01 00:00 UTC (a
Thursday), which is also what `time()` returns in promtool, so "10:00 on day 2" is
minute 2 * 1440 + 600. Every series has one sample per minute (the drills' scrape and
rule evaluation interval).

A value is a float, None (no sample: the series is absent at that minute) or STALE (a
staleness marker, which Prometheus writes when a target or series disappears).
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

M = 1
H = 60
D = 1440
STALE = "stale"

Value = Union[float, None, str]


def at(day: int, hour: float = 0.0) -> int:
    """Minute of `hour` (may be fractional: 10.5 = 10:30) on day `day` (0-based)."""
    return day * D + int(round(hour * H))


def clock(minute: int) -> str:
    """'day 2 10:30' for a minute of a drill."""
    d, r = divmod(minute, D)
    return f"day {d + 1} {r // 60:02d}:{r % 60:02d}"


def hour_of_day(minute: int) -> float:
    return (minute % D) / H


# ---------------------------------------------------------------- shapes (per minute)

def piecewise(points: list[tuple[float, float]]) -> Callable[[float], float]:
    """Linear interpolation through (hour of day, value) points, repeating every day."""
    pts = sorted(points)

    def f(h: float) -> float:
        ext = [(pts[-1][0] - 24, pts[-1][1]), *pts, (pts[0][0] + 24, pts[0][1])]
        for (h0, v0), (h1, v1) in zip(ext, ext[1:]):
            if h0 <= h <= h1:
                return v0 if h1 == h0 else v0 + (v1 - v0) * (h - h0) / (h1 - h0)
        return pts[0][1]

    return f


def business_hours(day_rate=1000.0, night_rate=50.0, start=8.0, end=18.0, ramp=1.0):
    """`day_rate` from `start` to `end`, `night_rate` otherwise, linear ramps of `ramp`
    hours before `start` and after `end`."""
    return piecewise([(start - ramp, night_rate), (start, day_rate), (end, day_rate),
                      (end + ramp, night_rate)])


def diurnal(low: float, high: float, peak_hour: float = 15.0):
    """A smooth daily wave between `low` (12 h before the peak) and `high`."""
    def f(h: float) -> float:
        return low + (high - low) * (1 + math.cos(2 * math.pi * (h - peak_hour) / 24)) / 2
    return f


class Noise:
    """Deterministic multiplicative noise: a slow wander (knots every `knot` minutes,
    linear in between) and optional independent per-minute jitter."""

    def __init__(self, seed: str, n: int, wander: float = 0.06, knot: int = 30,
                 jitter: float = 0.0, daily: float = 0.05):
        rng = random.Random(seed)
        knots = [1 + rng.uniform(-wander, wander) for _ in range(n // knot + 2)]
        days = [1 + rng.uniform(-daily, daily) for _ in range(n // D + 2)]
        self.factor = []
        for m in range(n):
            k, r = divmod(m, knot)
            w = knots[k] + (knots[k + 1] - knots[k]) * r / knot
            # day-to-day level, interpolated between the middles of the days
            dpos = (m - D / 2) / D
            d0 = max(0, math.floor(dpos))
            frac = min(max(dpos - d0, 0.0), 1.0) if dpos > 0 else 0.0
            dl = days[d0] + (days[d0 + 1] - days[d0]) * frac
            j = 1 + rng.uniform(-jitter, jitter) if jitter else 1.0
            self.factor.append(w * dl * j)

    def __call__(self, m: int) -> float:
        return self.factor[m]


# ---------------------------------------------------------------- encoding

def _fmt(units: int, scale: int) -> str:
    if scale == 1:
        return str(units)
    neg = units < 0
    q, r = divmod(abs(units), scale)
    digits = len(str(scale)) - 1
    s = str(q) if r == 0 else f"{q}.{str(r).zfill(digits).rstrip('0')}"
    return "-" + s if neg else s


def encode(values: list[Value], scale: int = 100) -> str:
    """promtool's expanding notation for one sample per interval: runs of equal steps
    become 'a+bxn' (n+1 values), runs of absent samples '_xn' (n blanks). Numbers are
    rounded to 1/scale."""
    units: list[Union[int, None, str]] = [
        v if v is None or v == STALE else int(round(v * scale)) for v in values]
    out = []
    i = 0
    n = len(units)
    while i < n:
        u = units[i]
        if u is None:
            j = i
            while j < n and units[j] is None:
                j += 1
            out.append("_" if j - i == 1 else f"_x{j - i}")
            i = j
            continue
        if u == STALE:
            out.append(STALE)
            i += 1
            continue
        j = i + 1
        step = None
        while j < n and isinstance(units[j], int):
            d = units[j] - units[j - 1]
            if step is None:
                step = d
            elif d != step:
                break
            j += 1
        # units[i..j-1] form one run with constant step
        count = j - i - 1
        if count == 0 or (count == 1 and step != 0):
            # two plain numbers are shorter than 'a+bx1'
            out.append(_fmt(u, scale))
            i += 1
            continue
        elif step == 0:
            out.append(f"{_fmt(u, scale)}x{count}")
        else:
            sign = "+" if step > 0 else "-"
            out.append(f"{_fmt(u, scale)}{sign}{_fmt(abs(step), scale)}x{count}")
        i = j
    return " ".join(out)


def smooth_knots(exact: list[Value], knot: int = 5, scale: int = 100) -> list[Value]:
    """Replaces the values between knots (every `knot` minutes, and both sides of every
    jump or gap) by a straight line in 1/scale units, so that `encode` can write them
    compactly. Jumps (more than 15 % from one minute to the next) stay exact."""
    n = len(exact)
    keep = set(range(0, n, knot)) | {n - 1}
    for m in range(1, n):
        a, b = exact[m - 1], exact[m]
        if not isinstance(a, (int, float)) or not isinstance(b, (int, float)):
            keep |= {m - 1, m}
        elif abs(a - b) > 0.15 * max(abs(a), abs(b)) + 1.0 / scale:
            keep |= {m - 1, m}
    knots = sorted(keep)
    out: list[Value] = list(exact)
    cur_units = None
    for k0, k1 in zip(knots, knots[1:]):
        v0, v1 = exact[k0], exact[k1]
        if not isinstance(v0, (int, float)) or not isinstance(v1, (int, float)):
            cur_units = None
            continue
        if cur_units is None:
            cur_units = int(round(v0 * scale))
        out[k0] = cur_units / scale
        step = int(round((v1 * scale - cur_units) / (k1 - k0)))
        for m in range(k0 + 1, k1 + 1):
            cur_units += step
            out[m] = cur_units / scale
        # continue from where the line ended (never drifts: the next segment aims at
        # the next exact knot)
    return out


# ---------------------------------------------------------------- series of a target

@dataclass
class Series:
    name: str
    labels: dict[str, str]
    values: list[Value]
    scale: int = 100
    compress: bool = True

    def selector(self) -> str:
        inner = ", ".join(f'{k}="{v}"' for k, v in self.labels.items())
        return f"{self.name}{{{inner}}}"

    def encoded(self) -> str:
        vals = smooth_knots(self.values, scale=self.scale) if self.compress else self.values
        return encode(vals, self.scale)


def const(n: int, v: Value) -> list[Value]:
    return [v] * n


def timeline(n: int, f: Callable[[int], Value]) -> list[Value]:
    return [f(m) for m in range(n)]


@dataclass
class JobSpec:
    """One Arroyo job as arroyo-exporter shows it, minute by minute.

    state:     Arroyo state name per minute, or None when the exporter exports no job
               series (target down, API unreachable)
    input:     messages/s its sources read (None: no rate series)
    """
    job_id: str
    pipeline_id: str
    pipeline_name: str
    state: list[Optional[str]]
    input: list[Value]
    run_id: list[Value]
    start_time: list[Value]
    desired: list[Value]
    checkpoint_completed: list[Value]
    checkpoint_duration: list[Value]
    checkpoint_interval: float = 10.0
    # When the exporter read the job's checkpoint list (default: every minute, just
    # after the completion it shows).
    checkpoint_read: Optional[list[Value]] = None
    sample_ts: Optional[list[Value]] = None
    states_shown: tuple[str, ...] = ("Running",)
    extra: list[Series] = field(default_factory=list)


def healthy_job(n: int, job_id: str, name: str, input_: list[Value],
                checkpoint_interval: float = 10.0, started: int = 0) -> JobSpec:
    """A job Running all along (since minute `started`, which may be negative: started
    before the drill), checkpointing every interval in 0.3 s, metrics fresh."""
    start_s = started * 60.0 - 37.0
    return JobSpec(
        job_id=job_id, pipeline_id="pl_" + job_id[4:], pipeline_name=name,
        state=["Running"] * n,
        input=input_,
        run_id=const(n, 1.0),
        start_time=const(n, start_s),
        desired=const(n, 1.0),
        checkpoint_completed=[m * 60.0 - 4.0 for m in range(n)],
        checkpoint_duration=const(n, 0.3),
        checkpoint_interval=checkpoint_interval,
    )


def restart(job: JobSpec, at_minute: int, down: int = 2, state: str = "Restarting",
            catch_up: float = 1.0, catch_up_minutes: int = 0) -> None:
    """The controller restarts the job at `at_minute`: `down` minutes in `state` with no
    input, then a new run (run_id + 1, new start time) that reads `catch_up` times its
    usual rate for `catch_up_minutes`."""
    n = len(job.state)
    if state not in job.states_shown:
        job.states_shown = (*job.states_shown, state)
    for m in range(at_minute, min(n, at_minute + down)):
        job.state[m] = state
        if job.input[m] is not None:
            job.input[m] = 0.0
    new_start = (at_minute + down) * 60.0 - 20.0
    for m in range(at_minute, n):
        job.run_id[m] = (job.run_id[m] or 0) + 1
    for m in range(at_minute + down, n):
        job.start_time[m] = new_start
    for m in range(at_minute + down, min(n, at_minute + down + catch_up_minutes)):
        if job.input[m] is not None:
            job.input[m] = job.input[m] * catch_up


def target_series(instance: str, n: int, up: list[Value], arroyo_up: Optional[list[Value]] = None,
                  collectors: Optional[dict[str, list[Value]]] = None,
                  jobs: tuple[JobSpec, ...] = (), exporter_job: str = "arroyo-exporter"
                  ) -> list[Series]:
    """Every series one exporter target shows for its jobs. Where `up` is 0 or absent, the
    target's own series are absent too (Prometheus marks them stale)."""
    base = {"job": exporter_job, "instance": instance}
    scraped = [isinstance(v, (int, float)) and v == 1 for v in up]

    def gate(values: list[Value]) -> list[Value]:
        out: list[Value] = []
        for m, v in enumerate(values):
            if scraped[m]:
                out.append(v)
            elif m > 0 and scraped[m - 1] and values[m - 1] is not None:
                out.append(STALE)
            else:
                out.append(None)
        return out

    out = [Series("up", dict(base), up, compress=False)]
    out.append(Series("arroyo_up", dict(base), gate(arroyo_up or const(n, 1.0)), compress=False))
    for name, vals in (collectors or {}).items():
        out.append(Series("arroyo_exporter_collector_success",
                          {**base, "collector": name}, gate(vals), compress=False))
    for job in jobs:
        jl = {**base, "job_id": job.job_id, "pipeline_id": job.pipeline_id,
              "pipeline_name": job.pipeline_name}
        listed = [s is not None for s in job.state]

        def job_gate(values: list[Value]) -> list[Value]:
            vals = [v if listed[m] else None for m, v in enumerate(values)]
            # disappearing series get a staleness marker
            fixed: list[Value] = []
            for m, v in enumerate(vals):
                if v is None and m > 0 and fixed and isinstance(fixed[-1], (int, float)):
                    fixed.append(STALE)
                else:
                    fixed.append(v)
            return gate(fixed)

        for st in job.states_shown:
            out.append(Series("arroyo_job_state", {**jl, "arroyo_job_state": st},
                              job_gate([1.0 if s == st else 0.0 for s in job.state]),
                              compress=False))
        out.append(Series("arroyo_job_running_desired", dict(jl), job_gate(job.desired),
                          compress=False))
        out.append(Series("arroyo_job_run_id", dict(jl), job_gate(job.run_id), compress=False))
        out.append(Series("arroyo_job_start_time_seconds", dict(jl), job_gate(job.start_time),
                          compress=False))
        running = [s == "Running" for s in job.state]
        ck_done = [v if running[m] else None for m, v in enumerate(job.checkpoint_completed)]
        out.append(Series("arroyo_job_last_checkpoint_completed_timestamp_seconds", dict(jl),
                          job_gate(ck_done), compress=False))
        ck_read = job.checkpoint_read or [m * 60.0 - 1.0 for m in range(n)]
        ck_read = [v if running[m] else None for m, v in enumerate(ck_read)]
        out.append(Series("arroyo_exporter_job_read_timestamp_seconds",
                          {**jl, "collector": "checkpoints"}, job_gate(ck_read), compress=False))
        ck_dur = [v if running[m] else None for m, v in enumerate(job.checkpoint_duration)]
        out.append(Series("arroyo_job_last_checkpoint_duration_seconds", dict(jl),
                          job_gate(ck_dur), compress=False))
        pl = {**base, "pipeline_id": job.pipeline_id, "pipeline_name": job.pipeline_name}
        out.append(Series("arroyo_pipeline_checkpoint_interval_seconds", pl,
                          gate(const(n, job.checkpoint_interval)), compress=False))
        # rate series exist while the job runs (exporter: states that run)
        rate_states = {"Running", "Rescaling", "Recovering", "Restarting",
                       "CheckpointStopping", "Stopping", "Finishing"}
        ts = job.sample_ts or [m * 60.0 - 2.0 for m in range(n)]
        ts = [v if job.state[m] in rate_states else None for m, v in enumerate(ts)]
        out.append(Series("arroyo_job_metrics_last_sample_timestamp_seconds", dict(jl),
                          job_gate(ts), compress=False))
        rate = [v if job.state[m] in rate_states else None for m, v in enumerate(job.input)]
        src = {**jl, "node_id": "0", "operator_name": "source"}
        out.append(Series("arroyo_operator_received_messages_per_second", dict(src),
                          job_gate([0.0 if v is not None and v != STALE else v for v in rate]),
                          compress=False))
        out.append(Series("arroyo_operator_sent_messages_per_second", dict(src),
                          job_gate(rate)))
        out.extend(job.extra)
    return out
