from datetime import UTC, datetime, timedelta

from toolkit.mongo.observe import MemberStatus, ServerObservation
from toolkit.plan.health import assess_health

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def member(index, state, lag=0.0, health=1.0, delay=0):
    names = {
        1: "PRIMARY",
        2: "SECONDARY",
        7: "ARBITER",
        8: "(not reachable/healthy)",
        3: "RECOVERING",
    }
    return MemberStatus(
        id=index,
        name=f"h{index}:27017",
        state=state,
        state_str=names[state],
        health=health,
        optime_date=None if state == 7 else NOW - timedelta(seconds=lag),
        delay_seconds=delay,
    )


def replica_set(*members, first=None, last=None):
    return ServerObservation(
        version="7.0.14",
        topology="replica set",
        ping_ms=1.0,
        set_name="rs0",
        members=tuple(members),
        oplog_first=first,
        oplog_last=last,
    )


def test_healthy_set_reports_lag_and_oplog_window():
    report = assess_health(
        replica_set(
            member(0, 1),
            member(1, 2, lag=3),
            member(2, 7),
            first=NOW - timedelta(hours=30),
            last=NOW,
        )
    )
    assert report.healthy
    assert [m.lag_seconds for m in report.members] == [0.0, 3.0, None]
    assert report.oplog_window_hours == 30


def test_member_down_is_degraded():
    report = assess_health(replica_set(member(0, 1), member(1, 2), member(2, 8, health=0)))
    assert not report.healthy
    assert report.problems == ("member h2:27017 is down (not reachable/healthy)",)


def test_a_down_member_has_no_lag():
    # replSetGetStatus keeps a down member's last optime (often the epoch): it is stale,
    # not late, so no lag is computed from it.
    down = MemberStatus(
        id=2,
        name="h2:27017",
        state=8,
        state_str="(not reachable/healthy)",
        health=0.0,
        optime_date=datetime(1970, 1, 1, tzinfo=UTC),
    )
    report = assess_health(replica_set(member(0, 1), member(1, 2), down))
    assert [m.lag_seconds for m in report.members] == [0.0, 0.0, None]


def test_a_delayed_member_is_judged_on_what_it_trails_beyond_its_delay():
    on_time = assess_health(replica_set(member(0, 1), member(1, 2, lag=3630, delay=3600)))
    assert on_time.healthy
    assert on_time.members[1].lag_seconds == 3630 and on_time.members[1].delay_seconds == 3600
    late = assess_health(replica_set(member(0, 1), member(1, 2, lag=3700, delay=3600)))
    assert late.problems == (
        "member h1:27017 is 3700 s behind the primary (100 s beyond its 3600 s delay) "
        "(more than 60 s)",
    )


def test_a_replica_set_member_never_initiated_is_degraded():
    observation = ServerObservation(
        version="7.0.14", topology="replica set (not initiated)", ping_ms=1.0
    )
    report = assess_health(observation)
    assert not report.healthy
    assert "rs.initiate()" in report.problems[0]


def test_lag_over_the_limit_is_degraded_and_at_the_limit_is_not():
    assert assess_health(replica_set(member(0, 1), member(1, 2, lag=60)), 60).healthy
    report = assess_health(replica_set(member(0, 1), member(1, 2, lag=61)), 60)
    assert report.problems == ("member h1:27017 is 61 s behind the primary (more than 60 s)",)


def test_no_primary_measures_lag_from_the_freshest_member():
    report = assess_health(replica_set(member(0, 2, lag=0), member(1, 2, lag=120)), 60)
    assert "replica set rs0 has no primary" in report.problems
    assert report.members[1].lag_seconds == 120


def test_recovering_member_is_a_problem():
    report = assess_health(replica_set(member(0, 1), member(1, 3)))
    assert report.problems == ("member h1:27017 is RECOVERING",)


def test_standalone_and_sharded_have_no_member_checks():
    for topology in ("standalone", "sharded"):
        report = assess_health(ServerObservation(version="7.0.14", topology=topology, ping_ms=1))
        assert report.healthy and report.members == ()
