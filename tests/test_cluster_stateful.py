"""Hypothesis drives the cluster through random reports, faults, ticks and membership changes
and checks the design's invariants after every step."""

from __future__ import annotations

from engine_helpers import FakeClock
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from huddle_client import FailureKind, HuddleCluster, Position, RotationEvent, create_cluster

TEMPERATURE_MOVES = {"overheated", "absolute_latency"}


class ClusterMachine(RuleBasedStateMachine):
    cluster: HuddleCluster

    @initialize(
        n=st.integers(2, 12),
        min_inner=st.integers(1, 3),
        extra=st.integers(0, 8),
        cooldown=st.sampled_from([0.0, 1.0, 5.0]),
        dwell=st.sampled_from([0.0, 2.0, 10.0]),
        trickle=st.booleans(),
        floor=st.sampled_from([None, 300.0]),
    )
    def setup(
        self,
        n: int,
        min_inner: int,
        extra: int,
        cooldown: float,
        dwell: float,
        trickle: bool,
        floor: float | None,
    ) -> None:
        self.clock = FakeClock()
        self.violations: list[str] = []
        self.last_move: dict[str, float] = {}
        self.evictions_this_cycle = 0
        self.cap = 1
        self.next_id = n
        self.cluster = create_cluster(
            [(f"s{i}", "127.0.0.1", 9000 + i) for i in range(n)],
            min_inner_size=min_inner,
            max_inner_size=min_inner + extra,
            rotation_cooldown_sec=cooldown,
            min_outer_dwell_sec=dwell,
            trickle=trickle,
            absolute_latency_floor_ms=floor,
            evidence_ttl_sec=5.0,
            auto_rotate=False,
            clock=self.clock,
            on_rotation=self.on_rotation,
        )
        self.cap = max(1, len(self.cluster.inner_servers()) // 3)

    def on_rotation(self, event: RotationEvent) -> None:
        # The cluster logs and swallows hook exceptions, so violations are collected here
        # and asserted by an invariant.
        now = self.clock()
        previous = self.last_move.get(event.server_id)
        if event.reason in TEMPERATURE_MOVES:
            self.evictions_this_cycle += 1
            if self.evictions_this_cycle > self.cap:
                self.violations.append(f"eviction cap {self.cap} exceeded by {event}")
            if previous is not None and now - previous < self.cluster.rotation_cooldown_sec:
                self.violations.append(f"moved within its cooldown: {event}")
        dwell = self.cluster.min_outer_dwell_sec
        if event.reason == "cooled" and previous is not None and now - previous < dwell:
            self.violations.append(f"promoted before its dwell: {event}")
        self.last_move[event.server_id] = now

    def pick_server(self, data: st.DataObject) -> object:
        servers = self.cluster.all_servers()
        return data.draw(st.sampled_from(sorted(servers, key=lambda u: u.id)))

    @rule(data=st.data(), ms=st.floats(0.5, 1000.0), count=st.integers(1, 15))
    def report_latency(self, data: st.DataObject, ms: float, count: int) -> None:
        up = self.pick_server(data)
        for _ in range(count):
            self.cluster.record_latency(up, ms)  # type: ignore[arg-type]

    @rule(data=st.data(), count=st.integers(1, 80), factor=st.sampled_from([3.0, 5.0, 20.0]))
    def traffic(self, data: st.DataObject, count: int, factor: float) -> None:
        """Round-robin traffic where a minority of the inner ring is slow."""
        inner = sorted(u.id for u in self.cluster.inner_servers())
        slow = (
            data.draw(st.sets(st.sampled_from(inner), max_size=max(0, (len(inner) - 1) // 2)))
            if inner
            else set()
        )
        for _ in range(count):
            up = self.cluster.get_server()
            self.cluster.record_latency(up, 20.0 * factor if up.id in slow else 20.0)

    @rule(
        data=st.data(),
        kind=st.sampled_from(list(FailureKind)),
        status=st.sampled_from([None, 500, 503]),
    )
    def report_failure(self, data: st.DataObject, kind: FailureKind, status: int | None) -> None:
        up = self.pick_server(data)
        if status is None:
            self.cluster.report(up, 5.0, failure=kind)  # type: ignore[arg-type]
        else:
            self.cluster.report(up, 5.0, status=status)  # type: ignore[arg-type]

    @rule(data=st.data(), temperature=st.sampled_from([0.0, 0.2, 0.6, 0.95]))
    def pin_temperatures(self, data: st.DataObject, temperature: float) -> None:
        """Set several servers' temperatures as fresh evidence would, then let a tick act."""
        servers = sorted(self.cluster.all_servers(), key=lambda u: u.id)
        for up in data.draw(st.lists(st.sampled_from(servers), max_size=len(servers))):
            up.temperature = temperature
            up.last_evidence = self.clock()

    @rule(data=st.data(), healthy=st.booleans())
    def set_health(self, data: st.DataObject, healthy: bool) -> None:
        self.cluster.set_healthy(self.pick_server(data), healthy)  # type: ignore[arg-type]

    @rule(data=st.data())
    def force_evict(self, data: st.DataObject) -> None:
        self.cluster.force_evict(self.pick_server(data).id)  # type: ignore[attr-defined]

    @rule(force_inner=st.booleans())
    def add(self, force_inner: bool) -> None:
        self.cluster.add_server((f"s{self.next_id}", "127.0.0.1", 9000 + self.next_id), force_inner)
        self.next_id += 1

    @precondition(lambda self: len(self.cluster.all_servers()) > 1)
    @rule(data=st.data())
    def remove(self, data: st.DataObject) -> None:
        assert self.cluster.remove_server(self.pick_server(data).id)  # type: ignore[attr-defined]

    @rule(dt=st.floats(0.0, 4.0), ok=st.booleans())
    def tick(self, dt: float, ok: bool) -> None:
        self.clock.advance(dt)
        self.evictions_this_cycle = 0
        self.cap = max(1, len(self.cluster.inner_servers()) // 3)
        self.cluster.rotate()
        for up in self.cluster.take_due_probes():
            self.cluster.record_probe(up, ok, 20.0)
        self.check_after_tick()

    def check_after_tick(self) -> None:
        c = self.cluster
        now = self.clock()
        ready = [u for u in c.all_servers() if u.healthy and u.cold_until <= now]
        assert len(c.inner_servers()) >= min(c.min_inner_size, len(ready))

    @rule()
    def heal_everything(self) -> None:
        c = self.cluster
        for up in c.all_servers():
            c.set_healthy(up, True)
        for _ in range(80):
            self.clock.advance(1.0)
            self.evictions_this_cycle = 0
            self.cap = max(1, len(c.inner_servers()) // 3)
            c.rotate()
            for up in c.take_due_probes():
                c.record_probe(up, True, 20.0)
            for _ in range(3 * len(c.all_servers())):
                c.record_latency(c.get_server(), 20.0)
            if len(c.inner_servers()) == min(c.max_inner_size, len(c.all_servers())):
                break
        assert len(c.inner_servers()) == min(c.max_inner_size, len(c.all_servers())), (
            "healed servers did not return"
        )

    @invariant()
    def no_rule_was_broken(self) -> None:
        assert not self.violations

    @invariant()
    def rings_partition_the_servers(self) -> None:
        c = self.cluster
        inner, outer = c.inner_servers(), c.outer_servers()
        assert len({u.id for u in inner} | {u.id for u in outer}) == len(inner) + len(outer)
        assert all(u.position is Position.INNER for u in inner)
        assert all(u.position is Position.OUTER for u in outer)
        assert len(inner) <= c.max_inner_size
        assert all(u.healthy for u in inner), "an unhealthy server is active"
        assert all(0.0 <= u.temperature <= 1.0 for u in inner + outer)
        assert all(u.in_flight == 0 for u in inner + outer)


# derandomize: CI runs the same examples every time (a run of 600 random examples of 50
# steps passed before this was set); explore more with a local settings override.
ClusterMachine.TestCase.settings = settings(
    derandomize=True,
    database=None,
    max_examples=80,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_cluster_state_machine = ClusterMachine.TestCase
