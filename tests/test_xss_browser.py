"""Text from reports (descriptions, notes, attributes) containing HTML or script is shown as text
on every page that shows it: a real browser proves that no script of theirs runs."""

from __future__ import annotations

import dataclasses

import pytest
import requests
from scale_helpers import report_form, wait_for

from dashboard.services import build_services
from streams.cases import CaseStore

pytestmark = pytest.mark.timeout(180)

PAYLOAD = ('<img src=x onerror="window.__xss=1"><script>window.__xss=1</script>'
           '<svg onload="window.__xss=1"></svg>"><iframe src="javascript:window.__xss=1">')


@pytest.fixture
def app(svc):
    from tests.conftest import LiveApp

    s = dataclasses.replace(svc.settings, open311_api_keys="xss-key")
    live = LiveApp(build_services(s, clock=svc.clock, r=svc.r))
    yield live
    live.close()


def test_no_script_from_a_report_runs_on_any_page_showing_it(app, page):
    svc = app.svc
    w = svc.district.workers[0]
    form = report_form(svc, w.id, description=PAYLOAD, **{"attribute[note]": PAYLOAD})
    resp = requests.post(app.url + "/open311/v2/requests.json", data=form)
    assert resp.status_code == 200, resp.text
    rid = resp.json()[0]["service_request_id"]
    store = CaseStore(svc)
    case = wait_for(lambda: store.get(rid), 10, "the case")
    store.act(rid, "accept", f"dept:{case.dept}", dept="")
    store.act(rid, "handle", f"dept:{case.dept}", note=PAYLOAD)
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    grid = svc.district.grid(w.grid)
    pages = ["/", f"/case/{rid}", f"/department/{case.dept}", f"/grid/{grid.code}",
             f"/station/{grid.station}", f"/street/{grid.street}", f"/worker/{w.id}",
             f"/search?q={rid}", "/district"]
    shown = 0
    for path in pages:
        page.goto(app.url + path)
        page.wait_for_load_state("networkidle")
        page.wait_for_timeout(300)
        assert page.evaluate("window.__xss") is None, path
        shown += PAYLOAD[:30] in page.inner_text("body")
    assert shown >= 1  # the text is there, as text, where the case is shown
    assert dialogs == [] and page.errors == []
