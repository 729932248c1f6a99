"""Capacity at 1 million tasks a day: the engine's own scheduling, driven by a simulated clock.

Nothing is served and nothing sleeps. Tasks arrive at a diurnal rate (the day's mean times a
raised-cosine shape: `--peak-factor` times the mean at the peak, a quarter of the mean at the
trough), spread over a model mix: local renders and tasks relayed to the DashScope task API, the
OpenAI videos API and a WaveAPI-style native gateway, each taking a time drawn from the catalog's
typical window for its mode, length and resolution (`vidgate.catalog.scenario_for`).

The engine's decisions come from its own code: each upstream task's first poll and every later
one from `vidgate.engine.schedule.next_poll_delay` with `expected_window`, under the providers
file's defaults (`vidgate.settings.ProviderConfig`); a failed poll from
`vidgate.retry.retry_delay`; webhook retries from `retry_delay` with `VIDGATE_WEBHOOK_RETRY_BASE`.
The loops run at the engine's own periods: per worker a poll claim every `POLL_IDLE` (or at once
while `POLL_BATCH` were due), a dispatch claim per provider every `engine_idle_interval` when
idle and every 0.05 s while it claims, a webhook claim every `IDLE`; local renders renew their
lease every third of `lease_seconds`, look at their task every `WATCH_EVERY` and write progress
at most every `PROGRESS_EVERY`.

It counts, over `--hours` simulated hours centred on the daily peak (after a warm-up that fills
the pipeline), the store operations each part makes, and prints them per second: the hour's mean
and its busiest minute. Upstream concurrency is taken as unbounded: the peak number of tasks in
flight per provider is printed as the concurrency the upstream accounts must allow.
"""

from __future__ import annotations

import argparse
import heapq
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from harness import Column, parse_with_quick, percentile, table
from vidgate.catalog import scenario_for
from vidgate.engine.deliver import IDLE as DELIVER_IDLE
from vidgate.engine.engine import POLL_BATCH, POLL_IDLE, REAP_EVERY
from vidgate.engine.render import PROGRESS_EVERY, WATCH_EVERY
from vidgate.engine.schedule import expected_window, next_poll_delay
from vidgate.models import Mode
from vidgate.retry import retry_delay
from vidgate.settings import ProviderConfig, Settings

DAY = 86400.0
DISPATCH_BUSY = 0.05
"""The engine's dispatch loop waits this long after a claim that took tasks."""
BITRATE = {"480P": 1.5e6, "720P": 4e6, "1080P": 8e6}
"""Bits per second of a result video, by resolution tier (typical H.264 output)."""
LOCAL_SECONDS_PER_VIDEO_SECOND = {"480P": 0.2, "720P": 0.45, "1080P": 1.0}
"""The local renderer's wall time per second of video, one render on one core."""


@dataclass(frozen=True)
class Workload:
    """One slice of the mix: a model, how it is asked for, and who renders it."""

    share: float
    provider: str
    model: str
    mode: Mode
    duration: int
    resolution: str
    input_bytes: int = 0
    reports_progress: bool = False


MIX = (
    Workload(0.30, "dashscope", "wan2.6-t2v", Mode.T2V, 5, "720P"),
    Workload(0.20, "dashscope", "wan2.6-i2v-flash", Mode.I2V, 5, "720P", 500_000),
    Workload(0.08, "dashscope", "wan2.6-t2v", Mode.T2V, 10, "1080P"),
    Workload(0.05, "dashscope", "wan2.2-kf2v-flash", Mode.KF2V, 5, "720P", 1_000_000),
    Workload(0.05, "dashscope", "wan2.6-r2v-flash", Mode.R2V, 5, "720P", 1_000_000),
    Workload(0.05, "dashscope", "wan2.1-vace-plus", Mode.VACE, 5, "720P", 5_000_000),
    Workload(0.12, "openai", "sora-2", Mode.T2V, 4, "720P", 0, True),
    Workload(0.05, "openai", "sora-2-pro", Mode.T2V, 8, "720P", 0, True),
    Workload(0.05, "native", "veo3", Mode.T2V, 8, "720P", 0, True),
    Workload(0.05, "local", "wan2.6-t2v", Mode.T2V, 5, "480P"),
)


@dataclass
class SimTask:
    workload: Workload
    arrived: float
    started: float = 0.0
    done_at: float = 0.0
    failures: int = 0
    polls: int = 0


@dataclass
class Tally:
    """Counts per operation, per second of the measured window."""

    start: float
    seconds: int
    counts: dict[str, list[int]] = field(default_factory=dict)

    def add(self, name: str, now: float, amount: int = 1) -> None:
        second = int(now - self.start)
        if 0 <= second < self.seconds:
            per_second = self.counts.get(name)
            if per_second is None:
                per_second = self.counts[name] = [0] * self.seconds
            per_second[second] += amount

    def derive(self, name: str, plus: Sequence[str], minus: Sequence[str] = ()) -> None:
        """Record `name` as the per-second sum of `plus` less that of `minus`."""
        empty = [0] * self.seconds
        added = [sum(c) for c in zip(*(self.counts.get(n, empty) for n in plus), strict=True)]
        taken = [
            sum(c) for c in zip(empty, *(self.counts.get(n, empty) for n in minus), strict=True)
        ]
        self.counts[name] = [a - t for a, t in zip(added, taken, strict=True)]

    def total(self, name: str) -> int:
        return sum(self.counts.get(name, ()))

    def busiest_minute(self, name: str) -> float:
        per_second = self.counts.get(name)
        if not per_second:
            return 0.0
        window = sum(per_second[:60])
        best = window
        for index in range(60, len(per_second)):
            window += per_second[index] - per_second[index - 60]
            best = max(best, window)
        return best / 60


def diurnal_shape(peak_factor: float) -> tuple[float, float]:
    """(base, power) of `rate(t) = mean (base + (peak - base) g(t)^power)`, g a raised cosine in
    [0, 1], such that the day's mean is the mean and the peak `peak_factor` times it."""
    power = 4.0
    steps = 10_000
    mean_g = sum(((1 + math.cos(2 * math.pi * i / steps)) / 2) ** power for i in range(steps))
    mean_g /= steps
    base = (1 - peak_factor * mean_g) / (1 - mean_g)
    if base < 0:
        raise SystemExit(f"--peak-factor {peak_factor:g} is too high for this shape")
    return base, power


class Simulation:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.rng = random.Random(args.seed)
        self.settings = Settings()
        self.config = ProviderConfig(kind="dashscope", base_url="https://upstream.invalid")
        self.mean_rate: float = args.tasks_per_day / DAY
        self.base, self.power = diurnal_shape(args.peak_factor)
        self.measure_from = -args.hours * 1800.0
        self.measure_to = args.hours * 1800.0
        self.warmup = args.warmup * 60.0
        self.tally = Tally(self.measure_from, int(self.measure_to - self.measure_from))
        self.count = self.tally.add
        self.expected_low = {
            w: expected_window(w.mode.value, w.duration, w.resolution)[0] for w in MIX
        }
        """Each workload's `expected_window`, a pure function of it, looked up once."""
        self.queue: list[tuple[float, int, str, object]] = []
        self.sequence = 0
        self.waiting: dict[str, list[SimTask]] = {}
        self.due_polls: list[tuple[float, int, SimTask]] = []
        self.due_deliveries: list[tuple[float, int, int]] = []
        self.local_busy = 0
        self.local_slots = args.workers * self.settings.local_concurrency
        self.in_flight: Counter[str] = Counter()
        self.peak_in_flight: Counter[str] = Counter()
        self.detection_lag: list[float] = []
        self.polls_per_task: dict[str, list[int]] = {}
        self.result_bytes = 0.0
        self.input_bytes = 0.0
        self.measured_tasks = 0
        cumulative = 0.0
        self.cumulative: list[tuple[float, Workload]] = []
        for workload in MIX:
            cumulative += workload.share
            self.cumulative.append((cumulative, workload))

    def rate(self, now: float) -> float:
        """Tasks per second at `now` seconds from the daily peak."""
        g = (1 + math.cos(2 * math.pi * now / DAY)) / 2
        peak: float = self.args.peak_factor
        return self.mean_rate * (self.base + (peak - self.base) * math.pow(g, self.power))

    def at(self, when: float, kind: str, payload: object = None) -> None:
        self.sequence += 1
        heapq.heappush(self.queue, (when, self.sequence, kind, payload))

    def pick(self) -> Workload:
        draw = self.rng.random() * self.cumulative[-1][0]
        return next(w for limit, w in self.cumulative if draw <= limit)

    def run_time(self, workload: Workload) -> float:
        """How long the task takes where it renders."""
        if workload.provider == "local":
            per_second = LOCAL_SECONDS_PER_VIDEO_SECOND[workload.resolution]
            return workload.duration * per_second * self.rng.uniform(0.8, 1.3)
        low, high = scenario_for(
            workload.mode, workload.duration, workload.resolution
        ).typical_seconds
        if self.rng.random() < 0.03:
            return self.rng.uniform(high, 2 * high)
        return self.rng.triangular(low, high, low + (high - low) / 3)

    # the loops

    def start(self) -> None:
        self.at(self.measure_from - self.warmup, "arrive")
        for worker in range(self.args.workers):
            offset = worker / self.args.workers
            for provider in {w.provider for w in MIX}:
                self.waiting.setdefault(provider, [])
                self.at(self.measure_from - self.warmup + offset * 0.5, "dispatch", provider)
            self.at(self.measure_from - self.warmup + offset * POLL_IDLE, "poll_loop")
            self.at(self.measure_from - self.warmup + offset * DELIVER_IDLE, "deliver_loop")
            self.at(self.measure_from - self.warmup + offset * REAP_EVERY, "reap_loop")

    def arrive(self, now: float) -> None:
        workload = self.pick()
        self.waiting[workload.provider].append(SimTask(workload, now))
        self.count("submit (insert task, ledger, event)", now)
        self.count("event", now)
        self.count("client task reads", now, self.args.reads_per_task)
        if self.measure_from <= now < self.measure_to:
            self.measured_tasks += 1
            self.input_bytes += workload.input_bytes
        self.at(now + self.rng.expovariate(self.rate(now)), "arrive")

    def dispatch(self, now: float, provider: str) -> None:
        waiting = self.waiting[provider]
        if provider == "local":
            take = min(len(waiting), self.local_slots - self.local_busy)
        else:
            self.count("in-flight count (read)", now)
            take = len(waiting)
        if take > 0:
            self.count("claim (transaction)", now)
            claimed, self.waiting[provider] = waiting[:take], waiting[take:]
            for task in claimed:
                self.claimed(now, task)
        self.at(
            now + (DISPATCH_BUSY if take else self.settings.engine_idle_interval),
            "dispatch",
            provider,
        )

    def claimed(self, now: float, task: SimTask) -> None:
        workload = task.workload
        task.started = now
        self.count("event", now)
        task.done_at = now + self.run_time(workload)
        if workload.provider == "local":
            self.local_busy += 1
            span = task.done_at - now
            self.count("lease renewal", now, int(span // (self.settings.lease_seconds / 3)))
            self.count("render watch (read)", now, int(span // WATCH_EVERY))
            reports = min(99, int(span // PROGRESS_EVERY))
            self.count("progress write", now, reports)
            self.count("event", now, reports)
            self.at(task.done_at, "local_done", task)
            return
        self.count("lease renewal", now)
        self.count(f"submit:{workload.provider}", now)
        self.count("record upstream id", now)
        self.in_flight[workload.provider] += 1
        if self.measure_from <= now < self.measure_to:
            self.peak_in_flight[workload.provider] = max(
                self.peak_in_flight[workload.provider], self.in_flight[workload.provider]
            )
        first = self.poll_delay(task, 0.0)
        self.sequence += 1
        heapq.heappush(self.due_polls, (now + first, self.sequence, task))

    def poll_delay(self, task: SimTask, elapsed: float) -> float:
        return next_poll_delay(
            elapsed,
            expected_low=self.expected_low[task.workload] * self.config.expected_time_scale,
            interval=self.config.poll_interval,
            max_interval=self.config.max_poll_interval,
            rng=self.rng,
        )

    def poll_loop(self, now: float) -> None:
        self.count("poll claim (transaction)", now)
        taken = 0
        while self.due_polls and self.due_polls[0][0] <= now and taken < POLL_BATCH:
            _, _, task = heapq.heappop(self.due_polls)
            taken += 1
            self.poll(now, task)
        self.at(now + (0.0 if taken == POLL_BATCH else POLL_IDLE), "poll_loop")

    def poll(self, now: float, task: SimTask) -> None:
        task.polls += 1
        workload = task.workload
        self.count(f"poll:{workload.provider}", now)
        if self.rng.random() < self.args.poll_failure_rate:
            task.failures += 1
            delay = retry_delay(
                task.failures,
                base=self.config.poll_interval,
                cap=self.config.max_poll_interval,
                rng=self.rng,
            )
        elif now >= task.done_at:
            self.in_flight[workload.provider] -= 1
            if self.measure_from <= now < self.measure_to:
                self.detection_lag.append((now - task.done_at) / (task.done_at - task.started))
                self.polls_per_task.setdefault(workload.provider, []).append(task.polls)
            self.count("upstream done", now)
            self.finish(now, task)
            return
        else:
            if workload.reports_progress:
                self.count("progress write", now)
                self.count("event", now)
            delay = self.poll_delay(task, now - task.started)
        self.sequence += 1
        heapq.heappush(self.due_polls, (now + delay, self.sequence, task))

    def local_done(self, now: float, task: SimTask) -> None:
        self.local_busy -= 1
        self.finish(now, task)

    def finish(self, now: float, task: SimTask) -> None:
        workload = task.workload
        size = workload.duration * BITRATE[workload.resolution] / 8
        if self.measure_from <= now < self.measure_to:
            self.result_bytes += size
        self.count("result blob put", now)
        self.count("complete (transition, ledger, event)", now)
        self.count("event", now)
        if self.rng.random() < self.args.webhook_share:
            self.count("webhook delivery row (in complete)", now)
            self.sequence += 1
            heapq.heappush(self.due_deliveries, (now, self.sequence, 0))

    def deliver_loop(self, now: float) -> None:
        self.count("webhook claim (transaction)", now)
        taken = 0
        while self.due_deliveries and self.due_deliveries[0][0] <= now and taken < 100:
            _, _, attempts = heapq.heappop(self.due_deliveries)
            taken += 1
            self.count("webhook attempt (POST + record)", now)
            if self.rng.random() < self.args.webhook_failure_rate:
                delay = retry_delay(
                    attempts + 1, base=self.settings.webhook_retry_base, cap=3600, rng=self.rng
                )
                self.sequence += 1
                heapq.heappush(self.due_deliveries, (now + delay, self.sequence, attempts + 1))
        self.at(now + (0.0 if taken == 100 else DELIVER_IDLE), "deliver_loop")

    def reap_loop(self, now: float) -> None:
        self.count("reaper (overdue + exhausted reads)", now, 2)
        self.at(now + REAP_EVERY, "reap_loop")

    def run(self) -> None:
        self.start()
        handlers: dict[str, Callable[[float, Any], None]] = {
            "dispatch": self.dispatch,
            "poll_loop": lambda now, _: self.poll_loop(now),
            "deliver_loop": lambda now, _: self.deliver_loop(now),
            "arrive": lambda now, _: self.arrive(now),
            "local_done": self.local_done,
            "reap_loop": lambda now, _: self.reap_loop(now),
        }
        while self.queue:
            now, _, kind, payload = heapq.heappop(self.queue)
            if now >= self.measure_to:
                break
            handlers[kind](now, payload)
        self.derive_totals()

    def derive_totals(self) -> None:
        """The per-provider counts the hot path keeps, summed into the rows reported."""
        providers = sorted({w.provider for w in MIX} - {"local"})
        polls = [f"poll:{name}" for name in providers]
        submits = [f"submit:{name}" for name in providers]
        self.tally.derive("upstream poll (HTTP)", polls)
        self.tally.derive("upstream submit (HTTP)", submits)
        self.tally.derive("poll reschedule", polls, ["upstream done"])
        for name in providers:
            self.tally.derive(f"api:{name}", [f"poll:{name}", f"submit:{name}"])


WRITES = (
    "submit (insert task, ledger, event)",
    "claim (transaction)",
    "lease renewal",
    "record upstream id",
    "poll claim (transaction)",
    "poll reschedule",
    "progress write",
    "complete (transition, ledger, event)",
    "webhook claim (transaction)",
    "webhook attempt (POST + record)",
)
READS = (
    "in-flight count (read)",
    "render watch (read)",
    "reaper (overdue + exhausted reads)",
    "client task reads",
)
HTTP = ("upstream submit (HTTP)", "upstream poll (HTTP)", "result blob put")


def report(sim: Simulation, wall: float) -> list[str]:
    tally, seconds = sim.tally, sim.tally.seconds
    per_task = max(1, sim.measured_tasks)

    def row(name: str) -> list[str]:
        total = tally.total(name)
        return [
            name,
            f"{total / seconds:,.1f}",
            f"{tally.busiest_minute(name):,.1f}",
            f"{total / per_task:.2f}",
        ]

    columns = [
        Column("operation", 0, "<"),
        Column("per s"),
        Column("busiest min /s"),
        Column("per task"),
    ]
    rows = [row(n) for n in (*WRITES, "event", "webhook delivery row (in complete)", *READS, *HTTP)]
    writes = sum(tally.total(n) for n in WRITES) / seconds
    lines = [
        f"{sim.args.tasks_per_day:,.0f} tasks/day, peak {sim.args.peak_factor:g}x mean, "
        f"{sim.args.workers} workers, {sim.args.hours:g} simulated h at the peak "
        f"({sim.measured_tasks:,} tasks arrived; {wall:.1f} s wall)",
        f"arrivals: mean {sim.mean_rate:.2f}/s over the day, {sim.measured_tasks / seconds:.2f}/s "
        f"in this window, {sim.rate(0):.2f}/s at the peak",
        "",
        *table(columns, rows, "markdown"),
        "",
        f"store writes (transactions): {writes:,.1f}/s",
        "upstream polls per task (p50/p95): "
        + ", ".join(
            f"{name} {percentile(v, 0.5):.0f}/{percentile(v, 0.95):.0f}"
            for name, v in sorted(sim.polls_per_task.items())
        ),
        f"detection lag, share of the task's time (p50/p95): "
        f"{percentile(sim.detection_lag, 0.5):.3f}/{percentile(sim.detection_lag, 0.95):.3f}",
        "upstream API calls/s, all workers (mean/busiest minute): "
        + ", ".join(
            f"{name} {tally.total(f'api:{name}') / seconds:.0f}/"
            f"{tally.busiest_minute(f'api:{name}'):.0f}"
            for name in sorted(sim.peak_in_flight)
        ),
        "peak tasks in flight upstream (the concurrency each account must allow): "
        + ", ".join(f"{name} {count:,}" for name, count in sorted(sim.peak_in_flight.items())),
        f"result bytes: {sim.result_bytes / seconds / 1e6:.1f} MB/s, "
        f"inputs {sim.input_bytes / seconds / 1e6:.1f} MB/s in this window",
    ]
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks-per-day", type=float, default=1_000_000)
    parser.add_argument("--peak-factor", type=float, default=3.0, help="peak rate / mean (3)")
    parser.add_argument("--hours", type=float, default=1.0, help="simulated hours measured (1)")
    parser.add_argument("--warmup", type=float, default=15.0, help="simulated minutes before (15)")
    parser.add_argument("--workers", type=int, default=4, help="`vidgate worker` processes (4)")
    parser.add_argument("--reads-per-task", type=int, default=3, help="client GETs a task (3)")
    parser.add_argument("--webhook-share", type=float, default=0.5, help="tasks with a callback")
    parser.add_argument("--webhook-failure-rate", type=float, default=0.02)
    parser.add_argument("--poll-failure-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=1)
    args = parse_with_quick(parser, {"hours": 0.1, "warmup": 11.0}, argv)
    started = time.monotonic()
    simulation = Simulation(args)
    simulation.run()
    for line in report(simulation, time.monotonic() - started):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
