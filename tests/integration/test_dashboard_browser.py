"""The dashboard in a real browser (Debian's Chromium) against a live jobstream: pages update
without a reload as jobs move, a running job's log is followed, and a job is cancelled from its page.
Each test's browser first signs in through the login page, as the tests' admin.
The screenshots in docs/screenshots are made here."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.credentials import admin_token
from tests.integration.browser import SCREENSHOTS, element_screenshot
from tests.integration.harness import poll, wait_terminal

pytestmark = pytest.mark.integration
LIVE_S = 60_000  # ms: a job's whole run on a busy 2-core machine, not the 1 s a redraw takes
NO_RELOAD = "window.__sameDocument = true"
LIVE_BOUND_S = 1.0  # the bound: a page shows an event within 1 s of it
# When each element matching a selector first appeared (ms since the epoch, the machine's clock, which
# also stamps the events' occurred_at): a MutationObserver over the whole document, so the moment is the
# DOM's, not that of Playwright's next poll.
FIRST_SEEN = """selector => {
  window.__firstSeen = window.__firstSeen || {};
  const note = () => { const now = Date.now();
    for (const el of document.querySelectorAll(selector)) {
      const key = el.closest("[data-job-id]")?.dataset.jobId || location.pathname.split("/").pop();
      if (!(key in window.__firstSeen)) window.__firstSeen[key] = now; } };
  new MutationObserver(note).observe(document.documentElement, {subtree: true, childList: true, attributes: true});
}"""


@pytest.fixture
def page(page: Page, stack: httpx.Client) -> Page:
    """The browser's page, signed in through the login page with the tests' admin token: a page
    asked for without a session leads there, and back once signed in."""
    page.goto(f"{stack.base_url}/ui/jobs")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fjobs$"))
    page.get_by_label("Token").fill(admin_token())
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(r"/ui/jobs$"))
    expect(page.locator("[data-viewer-role]")).to_have_attribute("data-viewer-role", "admin")
    return page


def submit_job(client: httpx.Client, argv: list[str], **fields: object) -> dict[str, Any]:
    """POST a shell job and return once it can be read. A 202 (sent, not visible within the API's
    own wait: a stack starting on a loaded machine) is waited out here: these tests are about the
    pages, which need the job in the read model."""
    response = client.post("/v1/jobs", json={"task": {"type": "shell", "argv": argv}, **fields})
    assert response.status_code in (201, 202), response.text
    job_id = response.json()["job_id"]

    def readable() -> dict[str, Any] | None:
        answer = client.get(f"/v1/jobs/{job_id}")
        return answer.json() if answer.status_code == 200 else None

    return poll(readable, LIVE_S / 1000, f"job {job_id} in the read model")


def open_page(page: Page, client: httpx.Client, path: str) -> None:
    page.goto(f"{client.base_url}{path}")
    page.evaluate(NO_RELOAD)  # gone if the page reloads: the updates below must come without one


# Whether the page's live stream (htmx's EventSource on the element with sse-connect) is open: a
# page shows events within the bound once it is live, and one that happens before is shown by the
# redraw its connection triggers, which can take longer than the bound on a busy machine.
LIVE_OPEN = """selector => { const element = document.querySelector(selector);
  const data = element && element['htmx-internal-data'];
  return !!(data && data.sseEventSource && data.sseEventSource.readyState === 1); }"""


def wait_live(page: Page, selector: str = '[sse-connect^="/ui/live"]') -> None:
    page.wait_for_function(LIVE_OPEN, arg=selector, timeout=LIVE_S)


def still_same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def test_submitted_jobs_appear_and_complete_without_reload(stack: httpx.Client, page: Page) -> None:
    # Given the jobs page open on an empty read model
    open_page(page, stack, "/ui/jobs")
    expect(page.get_by_text("No job matches these filters")).to_be_visible()
    # When jobs are submitted over HTTP
    ids = [submit_job(stack, ["sh", "-c", f"echo job {i}"], name=f"ui-demo-{i}")["job_id"] for i in range(3)]
    # Then each appears in the list and turns completed, and the page was never reloaded
    for job_id in ids:
        row = page.locator(f'tr[data-job-id="{job_id}"]')
        expect(row.locator(".status-completed")).to_be_visible(timeout=LIVE_S)
    assert still_same_document(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "jobs.png")
    # And the overview counts them
    page.goto(f"{stack.base_url}/ui")
    expect(page.locator('a[data-status="completed"] .count')).to_have_text("3", timeout=LIVE_S)
    expect(page.locator("svg.chart")).to_have_attribute("data-completed", "3")
    page.screenshot(path=SCREENSHOTS / "overview.png")
    # And a job that depends on two of them shows them as its upstreams in its graph, and they it
    after = submit_job(stack, ["true"], name="ui-after", depends_on=ids[:2])["job_id"]
    page.goto(f"{stack.base_url}/ui/jobs/{after}")
    expect(page.locator("svg.dag g.node")).to_have_count(3)
    expect(page.locator(f'svg.dag g.node[data-job-id="{ids[0]}"]')).to_contain_text("ui-demo-0")
    expect(page.locator("svg.dag g.center")).to_have_class(re.compile("status-completed"), timeout=LIVE_S)
    element_screenshot(page.locator("svg.dag"), SCREENSHOTS / "dag.png")
    page.goto(f"{stack.base_url}/ui/jobs/{ids[0]}")
    expect(page.locator(f'svg.dag g.node[data-job-id="{after}"]')).to_be_visible(timeout=LIVE_S)
    # And "/" leads to the dashboard
    page.goto(f"{stack.base_url}/")
    assert page.url.endswith("/ui")


def test_follow_a_running_jobs_log_then_cancel_it_from_its_page(stack: httpx.Client, page: Page) -> None:
    # Given a job that prints a line every 0.2 s for a minute
    job = submit_job(stack, ["sh", "-c", "i=0; while [ $i -lt 300 ]; do i=$((i+1)); echo line $i; sleep 0.2; done"],
                     name="ui-tail")
    open_page(page, stack, f"/ui/jobs/{job['job_id']}")
    # Then its page turns running and its log grows as the job prints, like tail -f
    expect(page.locator("#job-status")).to_have_attribute("data-status", "running", timeout=LIVE_S)
    log = page.locator("#log")
    expect(log).to_contain_text("line 3", timeout=LIVE_S)
    printed = int(re.findall(r"line (\d+)", log.inner_text())[-1])
    expect(log).to_contain_text(f"line {printed + 5}", timeout=LIVE_S)
    assert still_same_document(page)
    page.screenshot(path=SCREENSHOTS / "job.png", full_page=True)
    # When the operator cancels it from its page
    page.get_by_role("button", name="Cancel").click()
    # Then the page says so, the job ends cancelled and its log stops following
    expect(page.locator(".notice")).to_contain_text("cancel sent")
    expect(page.locator("#job-status")).to_have_attribute("data-status", "cancelled", timeout=LIVE_S)
    expect(page.locator("#log-end")).to_have_text("end of output", timeout=LIVE_S)
    assert stack.get(f"/v1/jobs/{job['job_id']}").json()["status"] == "cancelled"
    # And time travel shows it running again, as it was right after it started: on the page's
    # slider, and over HTTP at the time it started
    events = stack.get(f"/v1/jobs/{job['job_id']}/events").json()["items"]
    started = next(e for e in events if e["type"] == "JobStarted")
    page.reload()
    page.locator("#as-of").fill(str(started["seq"]))
    expect(page.locator("#as-of-status")).to_have_attribute("data-status", "running")
    then = stack.get(f"/v1/jobs/{job['job_id']}", params={"as_of": started["occurred_at"]}).json()
    assert then["status"] == "running" and then["seq"] == started["seq"] and then["name"] == "ui-tail"
    before = stack.get(f"/v1/jobs/{job['job_id']}", params={"as_of": "2000-01-01T00:00:00Z"})
    assert before.status_code == 404 and "did not exist yet" in before.text
    # And on a phone's width the page fits: nothing wider than the screen but what scrolls inside
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=SCREENSHOTS / "job-phone.png")


def test_pause_and_resume_a_schedule_and_redrive_a_dead_letter(stack: httpx.Client, page: Page) -> None:
    # Given an hourly schedule and a job that failed for good
    hourly = submit_job(stack, ["true"], name="ui-hourly", schedule={"every": "1h"})["job_id"]
    doomed = submit_job(stack, ["sh", "-c", "exit 7"], name="ui-doomed", retry={"max_attempts": 1})["job_id"]
    wait_terminal(stack, [doomed], timeout_s=LIVE_S / 1000)
    # When the operator pauses the schedule from the schedules page, then resumes it
    open_page(page, stack, "/ui/schedules")
    row = page.locator(f'tr[data-job-id="{hourly}"]')
    expect(row.locator(".status-scheduled")).to_be_visible(timeout=LIVE_S)
    row.get_by_role("button", name="Pause").click()
    # Then the page says so and the schedule shows paused, then scheduled again
    expect(page.locator(".notice")).to_have_text("pause sent")
    expect(row.locator(".status-paused")).to_be_visible(timeout=LIVE_S)
    page.screenshot(path=SCREENSHOTS / "schedules.png")
    row.get_by_role("button", name="Resume").click()
    expect(page.locator(".notice")).to_have_text("resume sent")
    expect(row.locator(".status-scheduled")).to_be_visible(timeout=LIVE_S)
    assert stack.get(f"/v1/jobs/{hourly}").json()["status"] == "scheduled"
    # And its page lists its next ten fire times
    open_page(page, stack, f"/ui/jobs/{hourly}")
    expect(page.locator("#fires li")).to_have_count(10)
    # When the operator redrives the dead letter from its page
    open_page(page, stack, "/ui/dead-letters")
    dead = page.locator(f'tr[data-job-id="{doomed}"]')
    expect(dead).to_contain_text("exited with code 7", timeout=LIVE_S)
    page.screenshot(path=SCREENSHOTS / "dead-letters.png")
    dead.get_by_role("button", name="Redrive").click()
    # Then it runs again as a new attempt, and fails for good again
    expect(page.locator(".notice")).to_have_text(f"redrive sent for {doomed}")
    poll(lambda: [e["type"] for e in stack.get(f"/v1/jobs/{doomed}/events").json()["items"]].count(
        "JobDeadLettered") == 2, LIVE_S / 1000, "the redriven job to be dead-lettered again")
    # And the workers page lists the stack's worker with room to spare
    page.goto(f"{stack.base_url}/ui/workers")
    expect(page.locator("tr[data-worker-id] .status-active")).to_have_count(1)
    page.screenshot(path=SCREENSHOTS / "workers.png")


def test_filter_then_bulk_cancel_after_a_dry_run(stack: httpx.Client, page: Page) -> None:
    # Given three jobs waiting on a queue no worker serves, and one job elsewhere
    waiting = [submit_job(stack, ["true"], name=f"ui-bulk-{i}", queue="nobody-serves")["job_id"] for i in range(3)]
    other = submit_job(stack, ["sleep", "60"], name="ui-other")["job_id"]
    # When the operator filters the list by that queue (the filter lands in the URL)
    open_page(page, stack, "/ui/jobs")
    page.get_by_label("Queue", exact=True).fill("nobody-serves")
    page.get_by_role("button", name="Filter").click()
    assert "queue=nobody-serves" in page.url
    expect(page.locator("tr[data-job-id]")).to_have_count(3, timeout=LIVE_S)
    # And a time range as the browser's date-time field sends it (no zone: UTC) narrows it the same way
    page.get_by_label("Submitted since (UTC)").fill("2020-01-01T00:00:00")
    page.get_by_role("button", name="Filter").click()
    assert "since=2020-01-01T00%3A00" in page.url and "queue=nobody-serves" in page.url
    expect(page.locator("tr[data-job-id]")).to_have_count(3, timeout=LIVE_S)
    page.get_by_label("until (UTC)").fill("2020-01-02T00:00:00")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-job-id]")).to_have_count(0, timeout=LIVE_S)
    page.get_by_label("until (UTC)").fill("")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("tr[data-job-id]")).to_have_count(3, timeout=LIVE_S)
    # And asks to cancel what matches: the dry run says how many, and nothing is sent yet
    page.get_by_role("link", name=re.compile("Cancel every unfinished job matching")).click()
    expect(page.locator("#dry-run")).to_have_attribute("data-matched", "3")
    assert all(stack.get(f"/v1/jobs/{job_id}").json()["status"] == "queued" for job_id in waiting)
    page.screenshot(path=SCREENSHOTS / "bulk-cancel.png")
    page.get_by_role("button", name="Cancel 3 jobs").click()
    # Then the list says so and its three jobs turn cancelled; the other job goes on
    expect(page.locator(".notice")).to_have_text("cancel sent to 3 of 3 matching jobs")
    expect(page.locator("tr[data-job-id] .status-cancelled")).to_have_count(3, timeout=LIVE_S)
    assert stack.get(f"/v1/jobs/{other}").json()["status"] != "cancelled"


def shown_after_event_s(page: Page, client: httpx.Client, job_id: str, event_type: str) -> float:
    """Seconds from the job's ``event_type`` (its ``occurred_at``) to the moment the page showed it."""
    events = client.get(f"/v1/jobs/{job_id}/events").json()["items"]
    occurred = datetime.fromisoformat(next(e for e in events if e["type"] == event_type)["occurred_at"])
    shown_ms = page.evaluate("id => window.__firstSeen[id]", job_id)
    return float(shown_ms) / 1000 - occurred.timestamp()


def test_lists_and_detail_pages_show_an_event_within_a_second(stack: httpx.Client, page: Page) -> None:
    # Given the jobs list open, watching for rows that turn completed
    open_page(page, stack, "/ui/jobs")
    wait_live(page)
    page.evaluate(FIRST_SEEN, "tr[data-job-id] .status-completed")
    gaps: list[float] = []
    # When jobs complete one after the other (each running a second, so the page is at rest before)
    for i in range(4):
        job_id = submit_job(stack, ["sleep", "1"], name=f"ui-live-{i}")["job_id"]
        expect(page.locator(f'tr[data-job-id="{job_id}"] .status-completed')).to_be_visible(timeout=LIVE_S)
        gaps.append(shown_after_event_s(page, stack, job_id, "JobCompleted"))
    # And a job waiting on a queue no worker serves is cancelled over HTTP while its own page is open
    job_id = submit_job(stack, ["true"], name="ui-live-detail", queue="nobody-serves")["job_id"]
    open_page(page, stack, f"/ui/jobs/{job_id}")
    wait_live(page)
    page.evaluate(FIRST_SEEN, '#job-status[data-status="cancelled"]')
    assert stack.post(f"/v1/jobs/{job_id}/cancel").status_code in (200, 202)
    expect(page.locator("#job-status")).to_have_attribute("data-status", "cancelled", timeout=LIVE_S)
    gaps.append(shown_after_event_s(page, stack, job_id, "JobCancelled"))
    # Then each showed without a reload, within the bound of its event
    assert still_same_document(page)
    print(f"event to page, s: {', '.join(f'{gap:.3f}' for gap in gaps)}")
    assert all(0 <= gap <= LIVE_BOUND_S for gap in gaps), gaps
