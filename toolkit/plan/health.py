"""Judge a server observation: is the deployment healthy, and if not, why."""

from __future__ import annotations

from dataclasses import dataclass, field

from toolkit.mongo.observe import ServerObservation

PRIMARY, SECONDARY, ARBITER = 1, 2, 7
DEFAULT_MAX_LAG_SECONDS = 60.0


@dataclass(frozen=True)
class MemberHealth:
    name: str
    state: str
    health: float
    lag_seconds: float | None
    problem: str | None = None
    delay_seconds: int = 0  # a delayed member's configured delay, not counted as lag

    @property
    def healthy(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class HealthReport:
    observation: ServerObservation
    members: tuple[MemberHealth, ...] = ()
    oplog_window_hours: float | None = None
    problems: tuple[str, ...] = field(default_factory=tuple)

    @property
    def healthy(self) -> bool:
        return not self.problems


def assess_health(
    observation: ServerObservation, max_lag_seconds: float = DEFAULT_MAX_LAG_SECONDS
) -> HealthReport:
    """Given what a server reported, return a HealthReport listing every problem.

    A replica set is degraded when it has no primary, when a member is down or in
    a state other than PRIMARY, SECONDARY or ARBITER, or when a secondary's
    optime is more than ``max_lag_seconds`` behind the primary's (with no
    primary, behind the most recent member, as mongosh's
    rs.printSecondaryReplicationInfo() does). A delayed member
    (secondaryDelaySecs) is behind by design: only what it trails beyond its
    delay counts. A down member has no lag (its optime is stale, not late).
    A server started with --replSet whose set was never initiated is degraded.
    """
    if observation.topology == "replica set (not initiated)":
        return HealthReport(
            observation=observation,
            problems=(
                "the server runs as a replica-set member (--replSet) but the set is not "
                "initiated: run rs.initiate() in mongosh (make up does it for the local cluster)",
            ),
        )
    if observation.topology != "replica set":
        return HealthReport(observation=observation)

    members = observation.members
    primary = next((m for m in members if m.state == PRIMARY and m.health > 0), None)
    reference = primary.optime_date if primary else None
    if reference is None:
        dates = [m.optime_date for m in members if m.optime_date and m.health > 0]
        reference = max(dates) if dates else None

    problems: list[str] = []
    if primary is None:
        problems.append(f"replica set {observation.set_name} has no primary")

    assessed: list[MemberHealth] = []
    for member in members:
        lag = None
        if (
            reference is not None
            and member.optime_date is not None
            and member.state != ARBITER
            and member.health > 0
        ):
            lag = max(0.0, (reference - member.optime_date).total_seconds())
        problem = None
        if member.health == 0:
            state = member.state_str.strip("()")
            problem = f"member {member.name} is down ({state})"
        elif member.state not in (PRIMARY, SECONDARY, ARBITER):
            problem = f"member {member.name} is {member.state_str}"
        elif (
            member.state == SECONDARY
            and lag is not None
            and lag - member.delay_seconds > max_lag_seconds
        ):
            beyond = (
                f" ({lag - member.delay_seconds:.0f} s beyond its {member.delay_seconds} s delay)"
                if member.delay_seconds
                else ""
            )
            problem = (
                f"member {member.name} is {lag:.0f} s behind the primary{beyond} "
                f"(more than {max_lag_seconds:g} s)"
            )
        if problem:
            problems.append(problem)
        assessed.append(
            MemberHealth(
                name=member.name,
                state=member.state_str,
                health=member.health,
                lag_seconds=lag if member.state != PRIMARY else 0.0,
                problem=problem,
                delay_seconds=member.delay_seconds,
            )
        )

    window = None
    if observation.oplog_first and observation.oplog_last:
        window = (observation.oplog_last - observation.oplog_first).total_seconds() / 3600
    return HealthReport(
        observation=observation,
        members=tuple(assessed),
        oplog_window_hours=window,
        problems=tuple(problems),
    )
