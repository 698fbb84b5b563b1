"""The schedule preview: next fires in UTC and local time, DST transitions marked, bounds kept."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from jobstream.core.schedule_preview import preview_fires
from jobstream.schemas import Schedule

T0 = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)  # Paris moves to summer time on Sunday 29 March 2026


def test_a_daily_cron_across_the_spring_transition_marks_the_first_fire_after_it() -> None:
    fires = preview_fires(Schedule(cron="0 9 * * *", timezone="Europe/Paris"), T0, T0, 4)
    assert [f.local.strftime("%d %H:%M %z") for f in fires] == ["28 09:00 +0100", "29 09:00 +0200",
                                                                 "30 09:00 +0200", "31 09:00 +0200"]
    assert [f.offset_changed for f in fires] == [False, True, False, False]
    assert fires[1].at == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_an_interval_counts_from_its_anchor_and_stops_at_max_runs_and_end() -> None:
    every = Schedule(every_s=3600, max_runs=3)
    assert [f.at for f in preview_fires(every, T0, T0, 10)] == [T0 + timedelta(hours=h) for h in (1, 2, 3)]
    ending = Schedule(every_s=3600, end_at=T0 + timedelta(hours=2, minutes=30))
    assert len(preview_fires(ending, T0, T0, 10)) == 2
    once = Schedule(at=T0 + timedelta(days=1))
    assert [f.at for f in preview_fires(once, T0, T0, 10)] == [T0 + timedelta(days=1)]


def test_the_preview_endpoint_answers_fires_and_names_a_bad_field() -> None:
    from fastapi.testclient import TestClient

    from jobstream.api import create_app
    from jobstream.config import Settings
    from tests.credentials import JWT_SECRET, jwt_for

    # No lifespan: the preview needs neither broker nor database; a viewer may ask for it
    client = TestClient(create_app(Settings(jwt_secret=JWT_SECRET)),
                        headers={"Authorization": f"Bearer {jwt_for('default:viewer')}"})
    answer = client.get("/v1/schedules:preview", params={"cron": "0 9 * * *", "timezone": "Europe/Paris",
                                                         "after": T0.isoformat(), "count": 2})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"timezone": "Europe/Paris", "fires": [
        {"at": "2026-03-28T08:00:00Z", "local": "2026-03-28T09:00:00+01:00", "dst_change": False},
        {"at": "2026-03-29T07:00:00Z", "local": "2026-03-29T09:00:00+02:00", "dst_change": True}]}
    assert client.get("/v1/schedules:preview", params={"every": "5m", "count": 3}).json()["fires"][2]
    bad = client.get("/v1/schedules:preview", params={"cron": "61 * * * *"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "cron"
    zone = client.get("/v1/schedules:preview", params={"every": "1h", "timezone": "Mars/Olympus"})
    assert zone.status_code == 422 and zone.json()["errors"][0]["field"] == "timezone"
    assert client.get("/v1/schedules:preview").status_code == 422  # no cron, every nor at
