# ruff: noqa: F811 - the fixtures imported from the API's tests are parameters of these tests
"""The dashboard's pages over a real read model (rows written as the projector would), without a
browser: filters kept in the URL, keyset pages, the job page, and what an operator is told when
something is missing or refused; signing in, CSRF, and what each role is offered."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from fastapi.testclient import TestClient

from jobstream.api.csrf import CSRF_HEADER
from jobstream.config import Settings
from jobstream.infra.process import free_port
from jobstream.infra.topics import Topics
from jobstream.schemas import Command, RedriveJob, RetryJob
from tests.credentials import admin_token, jwt_for
from tests.integration.test_api import (  # noqa: F401 - fixtures shared with the API's tests
    T0,
    Client,
    commands,
    db,
    insert,
    insert_event,
    insert_job,
    make_client,
    topics,
)

pytestmark = pytest.mark.integration


def signed_in(make_client: Client, token: str) -> TestClient:
    """A client that signs in as a person does, through the login page (no Authorization header:
    the session cookie, and the CSRF token a page's forms carry, sent back as its header)."""
    browser = make_client()
    del browser.headers["authorization"]
    login = browser.post("/ui/login", data={"token": token, "next": "/ui/jobs"}, follow_redirects=False)
    assert login.status_code == 303 and login.headers["location"] == "/ui/jobs", login.text
    cookie = login.headers["set-cookie"].lower()
    assert "jobstream_token=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # served over plain http here
    browser.headers[CSRF_HEADER] = csrf_of(browser.get("/ui").text)
    return browser


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


@pytest.fixture
def client(make_client: Client) -> TestClient:
    """The dashboard as the tests' admin sees it, signed in through the login page."""
    return signed_in(make_client, admin_token())


def listed(html: str) -> list[str]:
    return re.findall(r'data-job-id="([^"]+)"', html)


def next_link(html: str) -> str | None:
    found = re.search(r'<a href="([^"]+)" rel="next">', html)
    return found.group(1).replace("&amp;", "&") if found else None


def test_filters_live_in_the_url_and_pages_follow_the_keyset(client: TestClient,
                                                              db: psycopg.Connection[Any]) -> None:
    # Given 55 "etl" jobs (every 5th labelled team=ml) and 3 others, one a second apart
    for i in range(55):
        insert_job(db, f"etl-{i:02}", name=f"etl nightly {i}", submitted_at=T0 + timedelta(seconds=i),
                   labels={"team": "ml"} if i % 5 == 0 else {})
    for i in range(3):
        insert_job(db, f"other-{i}", name="report", status="completed", submitted_at=T0 + timedelta(minutes=5))
    # When the operator lists jobs whose name starts with "etl"
    first = client.get("/ui/jobs", params={"name": "etl"})
    assert first.status_code == 200
    # Then the newest 50 come first, and the next page (its cursor in the URL) holds the last 5
    assert listed(first.text) == [f"etl-{i:02}" for i in range(54, 4, -1)]
    following = next_link(first.text)
    assert following is not None and "name=etl" in following and "cursor=" in following
    second = client.get(following)
    assert listed(second.text) == [f"etl-{i:02}" for i in range(4, -1, -1)] and next_link(second.text) is None
    # And status, queue and label filters narrow the list
    assert listed(client.get("/ui/jobs", params={"status": "completed"}).text) == ["other-2", "other-1", "other-0"]
    labelled = client.get("/ui/jobs", params={"label": "team=ml", "name": "etl"}).text
    assert listed(labelled) == [f"etl-{i:02}" for i in range(50, -1, -5)]
    assert listed(client.get("/ui/jobs", params={"queue": "nowhere"}).text) == []
    # And the empty fields of the filter form mean "any"
    as_the_form_sends = {"status": "", "queue": "", "priority": "", "name": "etl nightly 1", "label": ""}
    assert listed(client.get("/ui/jobs", params=as_the_form_sends).text) == [f"etl-{i}" for i in range(19, 9, -1)] + [
        "etl-01"]
    assert "No job matches these filters" in client.get("/ui/jobs", params={"queue": "nowhere"}).text


def test_bad_filters_are_problems_naming_the_field(client: TestClient) -> None:
    assert client.get("/ui/jobs", params={"status": "sleeping"}).status_code == 422
    assert client.get("/ui/jobs", params={"label": "no-equals"}).status_code == 422
    assert client.get("/ui/jobs", params={"cursor": "forged"}).status_code == 422
    unknown = client.get("/ui/jobs", params={"stauts": "queued"})
    assert unknown.status_code == 400 and "stauts" in unknown.text


def test_the_job_page_shows_status_why_it_waits_timeline_and_actions(client: TestClient,
                                                                     db: psycopg.Connection[Any]) -> None:
    insert_job(db, "j1", status="queued", queue="gpu")
    insert_event(db, "j1", 1, "JobSubmitted", {})
    insert_event(db, "j1", 2, "JobQueued", {})
    page = client.get("/ui/jobs/j1")
    assert page.status_code == 200
    assert 'data-status="queued"' in page.text
    assert 'id="waiting-reason"' in page.text and "gpu" in page.text  # no live worker serves the queue
    assert page.text.index('data-event="JobSubmitted"') < page.text.index('data-event="JobQueued"')
    assert all(f'data-action="{a}"' in page.text for a in ("cancel", "retry", "pause", "resume"))


def test_an_action_the_job_cannot_take_says_why_on_its_page(client: TestClient, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "done", status="completed")
    answer = client.post("/ui/jobs/done/cancel", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/ui/jobs/done?notice=")
    assert "cancel refused" in client.get(answer.headers["location"]).text


def test_unknown_jobs_say_what_to_do_and_root_leads_to_the_dashboard(client: TestClient) -> None:
    missing = client.get("/ui/jobs/nope")
    assert missing.status_code == 404 and "check the id" in missing.text
    root = client.get("/", follow_redirects=False)
    assert root.status_code == 307 and root.headers["location"] == "/ui"
    overview = client.get("/ui")
    assert overview.status_code == 200 and "No worker is live" in overview.text
    assert client.get("/ui/static/htmx-2.0.11.min.js").status_code == 200


def test_workers_page_drains_a_live_worker_and_says_why_it_cannot_drain_a_lost_one(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    insert(db, "workers", worker_id="w-live", seq=1, status="active", updated_at=T0, queues=["default"], slots=4,
           free_slots=1, last_heartbeat_at=T0)
    insert(db, "workers", worker_id="w-lost", seq=3, status="lost", updated_at=T0, queues=["default"], slots=2)
    listing = client.get("/ui/workers").text
    assert 'data-worker-id="w-live"' in listing and "3/4" in listing  # slots used / total
    assert listing.count('data-action="drain"') == 1  # only the live one can be drained
    drained = client.post("/ui/workers/w-live/drain")
    assert drained.status_code == 200 and "drain sent to w-live" in drained.text
    assert "drain refused: worker w-lost is lost" in client.post("/ui/workers/w-lost/drain").text


def test_schedules_and_dead_letters_list_what_they_should(client: TestClient, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "nightly", status="scheduled", spec={"name": "n", "schedule": {"cron": "0 3 * * *",
                                                                                  "timezone": "Europe/Paris"}})
    insert_job(db, "nightly:run:1", status="failed", parent_job_id="nightly", finished_at=T0,
               spec={"name": "n", "schedule": None})
    insert_job(db, "plain", status="failed", last_error="exited with code 7")
    insert_event(db, "plain", 1, "JobDeadLettered", {})
    schedules = client.get("/ui/schedules").text
    assert listed(schedules) == ["nightly"] and "cron 0 3 * * * (Europe/Paris)" in schedules
    assert "status-failed" in schedules  # its last run's result
    dead = client.get("/ui/dead-letters").text
    assert listed(dead) == ["plain"] and "exited with code 7" in dead
    assert "redrive refused" in client.post("/ui/dead-letters/nope/redrive").text


def test_schedules_are_listed_by_name_a_page_at_a_time(client: TestClient, db: psycopg.Connection[Any]) -> None:
    for i in reversed(range(52)):
        insert_job(db, f"every-{i:02}", name=f"s{i:02}", status="scheduled",
                   spec={"name": f"s{i:02}", "schedule": {"every_s": 60.0}})
    first = client.get("/ui/schedules").text
    assert listed(first) == [f"every-{i:02}" for i in range(50)] and "First page" not in first
    following = next_link(first)
    assert following is not None and following.startswith("/ui/schedules?cursor=")
    second = client.get(following).text
    assert listed(second) == ["every-50", "every-51"] and next_link(second) is None
    assert f'hx-get="{following}"' in second.replace("&amp;", "&")  # a live redraw keeps the page
    assert '<a href="/ui/schedules">First page</a>' in second


def test_bulk_cancel_is_a_dry_run_first_and_needs_a_filter(client: TestClient, db: psycopg.Connection[Any]) -> None:
    for i in range(3):
        insert_job(db, f"q-{i}", queue="batch")
    insert_job(db, "q-done", queue="batch", status="completed")
    dry = client.get("/ui/bulk-cancel", params={"queue": "batch"})
    assert 'data-matched="3"' in dry.text and "Nothing has been sent yet" in dry.text
    assert "request_id" in dry.text
    unfiltered = client.get("/ui/bulk-cancel")
    assert unfiltered.status_code == 422 and "at least one filter" in unfiltered.text
    assert 'id="bulk-cancel"' not in client.get("/ui/jobs").text  # no filter: no bulk action offered
    assert 'href="/ui/bulk-cancel?queue=batch"' in client.get("/ui/jobs", params={"queue": "batch"}).text


def test_the_schedules_page_previews_a_schedule_before_it_is_saved(client: TestClient) -> None:
    paris = client.get("/ui/schedules", params={"cron": "0 9 * * *", "timezone": "Europe/Paris"}).text
    assert paris.count("<li") - paris.count('<li class="empty"') >= 10 and "+0" in paris  # local times with offsets
    wrong = client.get("/ui/schedules", params={"cron": "61 * * * *", "timezone": "UTC"}).text
    assert 'role="alert"' in wrong and "cron" in wrong


def test_the_job_page_draws_its_dependencies(client: TestClient, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "up", name="extract", status="completed")
    insert_job(db, "mid", name="transform", status="pending",
               spec={"name": "transform", "depends_on": [{"job_id": "up"}, {"job_id": "later"}]})
    insert_job(db, "down", name="load", status="pending")
    insert_event(db, "mid", 1, "DependentRegistered", {"dependent_job_id": "down"})
    graph = client.get("/ui/jobs/mid").text
    assert re.findall(r'<g class="node[^"]*" data-job-id="([^"]+)"', graph) == ["up", "later", "mid", "down"]
    assert "not submitted" in graph  # an upstream that may come later
    assert 'id="graph-h"' not in client.get("/ui/jobs/up").text  # no depends_on nor dependents: no graph


def test_search_by_id_opens_the_job_and_priority_filters_the_list(client: TestClient,
                                                                  db: psycopg.Connection[Any]) -> None:
    insert_job(db, "urgent", priority=1)
    insert_job(db, "relaxed", priority=9)
    found = client.get("/ui/jobs", params={"id": " urgent "}, follow_redirects=False)
    assert found.status_code == 303 and found.headers["location"] == "/ui/jobs/urgent"
    missing = client.get("/ui/jobs", params={"id": "nobody"})
    assert "no job has the id &#39;nobody&#39;" in missing.text and len(listed(missing.text)) == 2
    assert listed(client.get("/ui/jobs", params={"priority": "1"}).text) == ["urgent"]
    assert client.get("/ui/jobs", params={"priority": "11"}).status_code == 422
    assert 'id="bulk-cancel"' in client.get("/ui/jobs", params={"priority": "1"}).text  # a filter: bulk offered
    refused = client.post("/ui/jobs/nobody-at-all/priority", data={"priority": "3"}, follow_redirects=False)
    assert refused.status_code == 303 and "priority+refused" in refused.headers["location"]
    assert client.post("/ui/jobs/relaxed/priority", data={"priority": "11"}).status_code == 422
    assert "clone refused" in client.post("/ui/jobs/nobody-at-all/clone").text


def test_without_a_session_a_page_leads_to_the_login_page_and_back(make_client: Client) -> None:
    anonymous = make_client()
    del anonymous.headers["authorization"]
    # A page asked for without credentials leads to the login page, which leads back to it
    answer = anonymous.get("/ui/jobs", params={"status": "queued"}, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/ui/login?next=%2Fui%2Fjobs%3Fstatus%3Dqueued"
    login = anonymous.get(answer.headers["location"])
    assert login.status_code == 200 and 'name="next" value="/ui/jobs?status=queued"' in login.text
    # A token the API does not accept is refused on the page, and no cookie is set
    refused = anonymous.post("/ui/login", data={"token": "jsk_nonsense", "next": "/ui"}, follow_redirects=False)
    assert refused.status_code == 401 and "Not accepted" in refused.text and "set-cookie" not in refused.headers
    # The API's own routes still answer 401 problem+json, and static files need no session
    assert anonymous.get("/v1/jobs").status_code == 401
    assert anonymous.get("/ui/static/htmx-2.0.11.min.js").status_code == 200
    # Signing out ends the session
    person = signed_in(make_client, admin_token())
    out = person.post("/ui/logout", follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"].startswith("/ui/login")
    assert person.get("/ui/jobs", follow_redirects=False).status_code == 303


def test_a_cookie_authorised_post_needs_the_pages_csrf_token_and_never_changes_v1(
        make_client: Client, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "target")
    person = signed_in(make_client, admin_token())
    csrf = person.headers.pop(CSRF_HEADER)
    # A post carrying the session cookie but no CSRF token (as a forged cross-site form would) is refused
    forged = person.post("/ui/jobs/target/cancel", data={"reason": "forged"}, follow_redirects=False)
    assert forged.status_code == 403 and "CSRF" in forged.json()["detail"]
    wrong = person.post("/ui/jobs/target/cancel", data={"csrf_token": "0" * 64}, follow_redirects=False)
    assert wrong.status_code == 403
    # With the page's token (its hidden form field) the same post is the action
    sent = person.post("/ui/jobs/target/priority", data={"priority": "3", "csrf_token": csrf},
                       follow_redirects=False)
    assert sent.status_code == 303 and "priority" in sent.headers["location"]
    # And the cookie, even with the token, never authorises a change of the API's own
    assert person.post("/v1/jobs/target/cancel", headers={CSRF_HEADER: csrf}).status_code == 401


def test_a_viewer_sees_no_action_and_an_operator_of_another_namespace_sees_nothing(
        make_client: Client, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "seen", status="failed", last_error="exited with code 7")
    insert_event(db, "seen", 1, "JobDeadLettered", {})
    insert_job(db, "nightly", status="scheduled", spec={"name": "n", "schedule": {"every_s": 60}})
    insert(db, "workers", worker_id="w-live", seq=1, status="active", updated_at=T0, queues=["default"], slots=4,
           free_slots=4, last_heartbeat_at=T0)
    viewer = signed_in(make_client, jwt_for("default:viewer", subject="reader"))
    pages = [viewer.get(path).text for path in ("/ui/jobs/seen", "/ui/schedules", "/ui/workers",
                                                "/ui/dead-letters", "/ui/jobs?queue=default")]
    assert 'data-job-id="seen"' in pages[3] and 'data-worker-id="w-live"' in pages[2]  # it reads them
    assert not any("data-action=" in html.replace('data-action="logout"', "") for html in pages)
    assert 'id="bulk-cancel"' not in pages[4]
    assert 'data-viewer-role="viewer"' in pages[0]
    # and a post it makes anyway is refused as the API would refuse it
    assert viewer.post("/ui/jobs/seen/cancel").status_code == 403
    # An operator of another namespace sees none of them, and another namespace's job is not found
    other = signed_in(make_client, jwt_for("acme:operator", subject="elsewhere"))
    assert listed(other.get("/ui/jobs").text) == [] and listed(other.get("/ui/dead-letters").text) == []
    assert 'data-worker-id="w-live"' not in other.get("/ui/workers").text
    missing = other.get("/ui/jobs/seen")
    assert missing.status_code == 404 and "check the id" in missing.text


def test_a_time_range_narrows_the_list_keeps_to_the_url_and_pages_by_the_keyset(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    # Given 60 jobs, one a minute apart from T0
    for i in range(60):
        insert_job(db, f"t-{i:02}", submitted_at=T0 + timedelta(minutes=i))
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=58)
    # When the operator asks for those submitted in [since, until), as the form sends it (no zone: UTC)
    first = client.get("/ui/jobs", params={"since": since.strftime("%Y-%m-%dT%H:%M"),
                                           "until": until.strftime("%Y-%m-%dT%H:%M:%S")})
    # Then the 55 of minutes 3 to 57 are listed, newest first, 50 on the first page
    assert listed(first.text) == [f"t-{i:02}" for i in range(57, 7, -1)]
    assert f'name="since" value="{since:%Y-%m-%dT%H:%M:%S}"' in first.text  # the form shows the range
    following = next_link(first.text)
    assert following is not None and f"since={since:%Y-%m-%dT%H}%3A" in following and "until=" in following
    assert listed(client.get(following).text) == [f"t-{i:02}" for i in range(7, 2, -1)]
    # And only one end bounds the list too; a time with its zone is understood; a wrong one is a 422
    assert listed(client.get("/ui/jobs", params={"until": (T0 + timedelta(minutes=2)).isoformat()}).text) == [
        "t-01", "t-00"]
    assert len(listed(client.get("/ui/jobs", params={"since": until.isoformat()}).text)) == 2
    wrong = client.get("/ui/jobs", params={"since": "yesterday"})
    assert wrong.status_code == 422 and "since" in wrong.text


def confirm_form(html: str) -> tuple[str, str]:
    """The dry run's confirmation: its form's action and request id."""
    action = re.search(r'<form method="post" action="([^"]+)">', html)
    request_id = re.search(r'name="request_id" value="([0-9a-f]+)"', html)
    assert action and request_id, "the dry run offers no confirmation"
    return action.group(1).replace("&amp;", "&"), request_id.group(1)


def test_a_bulk_confirmation_sends_nothing_when_more_jobs_match_than_its_dry_run_showed(
        client: TestClient, db: psycopg.Connection[Any], commands: Callable[[], Command]) -> None:
    # Given a dry run that showed two failed jobs of queue "grows"
    for job_id in ("g-1", "g-2"):
        insert_job(db, job_id, queue="grows", status="failed")
    dry = client.get("/ui/bulk-retry", params={"queue": "grows"}).text
    assert 'name="expected_count" value="2"' in dry
    action, request_id = confirm_form(dry)
    # When a third fails before the operator confirms
    insert_job(db, "g-3", queue="grows", status="failed")
    done = client.post(action, data={"request_id": request_id, "expected_count": "2"}, follow_redirects=False)
    # Then nothing is sent, and the operator is back on the dry run, which says why and counts three
    assert done.status_code == 303 and done.headers["location"].startswith("/ui/bulk-retry?queue=grows&notice=")
    again = client.get(done.headers["location"]).text
    assert "nothing was sent: 3 jobs match now, not the 2 shown" in again and 'data-matched="3"' in again
    # And confirming the new count sends the three
    client.post(action, data={"request_id": request_id, "expected_count": "3"})
    assert sorted(c.envelope.job_id for c in (commands(), commands(), commands())) == ["g-1", "g-2", "g-3"]


def test_bulk_retry_by_filter_is_a_dry_run_then_one_retry_per_failed_job(
        client: TestClient, db: psycopg.Connection[Any], commands: Callable[[], Command]) -> None:
    # Given two failed jobs of queue "batch", a completed one there, and a failed one elsewhere
    for job_id, queue, status in (("f-1", "batch", "failed"), ("f-2", "batch", "failed"),
                                  ("ok", "batch", "completed"), ("f-other", "web", "failed")):
        insert_job(db, job_id, queue=queue, status=status)
    # When the operator filters by the queue and follows the retry link: the dry run counts the failed two
    listing = client.get("/ui/jobs", params={"queue": "batch"}).text
    link = re.search(r'<a href="([^"]+)" id="bulk-retry">', listing)
    assert link and link.group(1) == "/ui/bulk-retry?queue=batch"
    dry = client.get(link.group(1)).text
    assert 'data-matched="2"' in dry and 'data-operation="retry"' in dry
    assert "<strong>2</strong> failed jobs match" in dry
    assert "Nothing has been sent yet" in dry and ">Retry 2 jobs<" in dry
    # And confirms: one RetryJob per matching job, and the list says so
    action, request_id = confirm_form(dry)
    done = client.post(action, data={"request_id": request_id}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"].startswith("/ui/jobs?queue=batch&notice=")
    assert "retry sent to 2 of 2 matching jobs" in client.get(done.headers["location"]).text
    retries = [commands(), commands()]
    assert all(isinstance(c, RetryJob) for c in retries)
    sent = sorted((c.envelope.job_id, c.envelope.command_id) for c in retries)
    assert [job_id for job_id, _ in sent] == ["f-1", "f-2"]
    # A repeated confirmation sends the same command ids, which the state processor ignores
    client.post(action, data={"request_id": request_id})
    assert sorted((c.envelope.job_id, c.envelope.command_id) for c in (commands(), commands())) == sent


def test_dead_letters_filter_and_redrive_by_filter_after_a_dry_run(
        client: TestClient, db: psycopg.Connection[Any], commands: Callable[[], Command]) -> None:
    # Given dead letters of two queues, and a failed job never dead-lettered
    for seq, (job_id, queue) in enumerate((("d-1", "etl"), ("d-2", "etl"), ("d-web", "web")), start=1):
        insert_job(db, job_id, queue=queue, status="failed", last_error="exited with code 1")
        insert_event(db, job_id, seq, "JobDeadLettered", {})
    insert_job(db, "failed-only", queue="etl", status="failed")
    # When the operator filters the dead letters by queue: the list and its links keep the filter
    page = client.get("/ui/dead-letters", params={"queue": "etl"}).text
    assert listed(page) == ["d-2", "d-1"] and page.count('data-action="redrive"') == 2  # one by one still
    assert 'name="back" value="/ui/dead-letters?queue=etl"' in page
    link = re.search(r'<a href="([^"]+)" id="bulk-redrive">', page)
    assert link and link.group(1) == "/ui/bulk-redrive?queue=etl"
    assert 'id="bulk-redrive"' not in client.get("/ui/dead-letters").text  # no filter: no bulk action
    # And asks to redrive what matches: the dry run counts the dead letters only
    dry = client.get(link.group(1)).text
    assert 'data-matched="2"' in dry and "<strong>2</strong> dead-lettered jobs match" in dry
    action, request_id = confirm_form(dry)
    done = client.post(action, data={"request_id": request_id}, follow_redirects=False)
    assert done.headers["location"].startswith("/ui/dead-letters?queue=etl&notice=redrive+sent+to+2+of+2")
    sent = [commands(), commands()]
    assert all(isinstance(c, RedriveJob) for c in sent)
    assert sorted(c.envelope.job_id for c in sent) == ["d-1", "d-2"]


def test_bulk_actions_need_a_known_action_a_filter_and_the_operate_permission(
        make_client: Client, client: TestClient, db: psycopg.Connection[Any]) -> None:
    insert_job(db, "f", status="failed", queue="batch")
    assert client.get("/ui/bulk-explode", params={"queue": "batch"}).status_code == 404
    unfiltered = client.get("/ui/bulk-retry")
    assert unfiltered.status_code == 422 and "at least one filter" in unfiltered.text
    assert client.post("/ui/bulk-retry", data={"request_id": "x"}).status_code == 422
    viewer = signed_in(make_client, jwt_for("default:viewer", subject="reader"))
    listing = viewer.get("/ui/jobs", params={"queue": "batch"}).text
    assert 'id="bulk-retry"' not in listing and 'id="bulk-cancel"' not in listing
    dry = viewer.get("/ui/bulk-retry", params={"queue": "batch"}).text  # a read: it may look
    assert 'data-matched="1"' in dry and "may not retry in bulk" in dry
    assert viewer.post("/ui/bulk-retry?queue=batch", data={"request_id": "x"}).status_code == 403


def test_a_schedules_page_lists_its_past_fires_and_skips_with_their_reasons(
        client: TestClient, db: psycopg.Connection[Any]) -> None:
    # Given a recurring job that fired run 1, skipped a due time for overlap and one while paused, fired run 2
    insert_job(db, "hourly", status="scheduled", runs=2,
               spec={"name": "h", "schedule": {"cron": "0 * * * *", "timezone": "UTC"}})
    insert_job(db, "hourly.r1", status="completed", parent_job_id="hourly")
    due = lambda hour: (T0 + timedelta(hours=hour)).isoformat()  # noqa: E731
    insert_event(db, "hourly", 1, "JobSubmitted", {})
    insert_event(db, "hourly", 2, "ScheduleFired", {"due_at": due(1), "run_number": 1, "run_job_id": "hourly.r1",
                                                    "replaces": []})
    insert_event(db, "hourly", 3, "ScheduleSkipped", {"due_at": due(2), "reason": "overlap"})
    insert_event(db, "hourly", 4, "JobPaused", {})
    insert_event(db, "hourly", 5, "ScheduleSkipped", {"due_at": due(3), "reason": "paused"})
    insert_event(db, "hourly", 6, "ScheduleFired", {"due_at": due(4), "run_number": 2, "run_job_id": "hourly.r2",
                                                    "replaces": []})
    page = client.get("/ui/jobs/hourly").text
    # Then its page lists them newest first, each due time, the runs (with the known run's status) and the reasons
    assert re.findall(r'data-history="(\w+)"', page) == ["ScheduleFired", "ScheduleSkipped", "ScheduleSkipped",
                                                         "ScheduleFired"]
    history = page[page.index('id="schedule-history"'):]
    assert re.findall(r'data-skip-reason="(\w+)"', history) == ["paused", "overlap"]
    assert "a previous run was still going" in history and "the schedule was paused" in history
    assert 'href="/ui/jobs/hourly.r1"' in history and "status-completed" in history
    assert "fired run #2" in history and f'datetime="{(T0 + timedelta(hours=4)):%Y-%m-%dT%H:%M}' in history
    # And a job without a schedule has no such section
    insert_job(db, "plain")
    assert 'id="history-h"' not in client.get("/ui/jobs/plain").text


def test_the_overview_shows_each_processors_consumer_lag_from_the_broker(
        make_client: Client, test_settings: Settings, topics: Topics) -> None:
    # Given the state processor's group 3 messages behind on its commands topic, and no other group
    producer = Producer({"bootstrap.servers": test_settings.kafka_bootstrap})
    for _ in range(5):
        producer.produce(topics.commands, b"x", partition=0)
    assert producer.flush(10) == 0
    group = Consumer({"bootstrap.servers": test_settings.kafka_bootstrap, "group.id": topics.state_processor_app,
                      "enable.auto.commit": False})
    group.commit(offsets=[TopicPartition(topics.commands, 0, 2)], asynchronous=False)
    group.close()
    # When the operator signs in and opens the overview, Then it shows that lag, and the others as unknown
    overview = signed_in(make_client, admin_token()).get("/ui").text
    assert f'data-group="{topics.state_processor_app}"' in overview
    lags = dict(re.findall(r'data-group="([^"]+)">.*?data-lag="([^"]+)"', overview, re.S))
    assert lags[topics.state_processor_app] == "3"
    assert lags[topics.projector_group] == "unknown" and len(lags) == len(topics.processor_groups)


def test_the_overview_says_unknown_when_the_broker_is_away(make_client: Client, test_settings: Settings) -> None:
    away = test_settings.with_(external_kafka=f"127.0.0.1:{free_port()}")
    overview = signed_in(lambda: make_client(away), admin_token()).get("/ui")
    assert overview.status_code == 200
    assert set(re.findall(r'data-lag="([^"]+)"', overview.text)) == {"unknown"}
    assert "the broker did not answer" in overview.text


def test_each_list_page_has_one_live_part_and_the_schedules_page_one_preview(client: TestClient) -> None:
    for path, part in (("/ui", "overview"), ("/ui/jobs", "jobs-table"), ("/ui/schedules", "schedules"),
                       ("/ui/workers", "workers"), ("/ui/dead-letters", "dead-letters")):
        html = client.get(path).text
        assert html.count(f'hx-select="#{part}"') == 1 and html.count(f'<div id="{part}-part" hx-get=') == 1, path
        assert html.count(f'<div id="{part}">') == 1, path  # swapped inside the part, which stays in place
    schedules = client.get("/ui/schedules").text
    assert "<title>Schedules · jobstream</title>" in schedules and schedules.count('id="preview-h"') == 1
    assert 'sse-connect="/ui/live">' in schedules  # the <main> tag holds nothing else
