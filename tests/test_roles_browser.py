"""Each role in a real Chromium: sign in through the form and see exactly what the role may
see; a URL edited to reach beyond it shows the server's 403."""

from __future__ import annotations

import pytest
from case_helpers import JUNLIANG_GRID, dispatcher, report, worker_of

from dashboard import auth
from tests import conftest

pytestmark = pytest.mark.browser
PASSWORD = "correct-horse-1"


@pytest.fixture
def site(auth_app):
    svc = auth_app.svc
    report(svc, "C-WX-1", item="CG006")  # the Wanxin street office's
    report(svc, "C-JL-1", item="AQ001", grid=JUNLIANG_GRID)  # the fire brigade's
    dispatcher(svc).drain()
    auth.add_user(svc, "boss", PASSWORD, "district")
    auth.add_user(svc, "wx", PASSWORD, "street", street="wanxin")
    auth.add_user(svc, "fire", PASSWORD, "department", dept="xiaofang")
    return auth_app


def sign_in(page, site, name: str) -> None:
    conftest.sign_in(page, site.url, name, PASSWORD)


def texts(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "els => els.map(e => e.textContent.trim())")


def test_a_district_supervisor_sees_every_street(site, page):
    sign_in(page, site, "boss")
    assert page.url.endswith("/")  # the wall, live
    page.goto(site.url + "/district")
    page.wait_for_selector("#drill-units .ag-row")
    assert set(texts(page, "#drill-units .ag-pinned-left-cols-container .ag-row")) == \
        {"万新街道", "军粮城街道"}
    assert page.errors == []


def test_a_street_supervisor_sees_only_their_street(site, page):
    sign_in(page, site, "wx")
    assert page.url.endswith("/street/wanxin")
    page.wait_for_selector("#drill-cases .ag-row")
    assert texts(page, "#drill-cases .ag-pinned-left-cols-container .ag-row") == ["C-WX-1"]
    stations = texts(page, "#drill-units .ag-pinned-left-cols-container .ag-row")
    assert stations and all(s.endswith("网格站") for s in stations)
    assert "13" in page.inner_text("#drill-workers")  # phones in full for their own street
    for path in ("/street/junliangcheng", f"/grid/{JUNLIANG_GRID}", "/district",
                 f"/worker/{worker_of(site.svc, JUNLIANG_GRID)}", "/case/C-JL-1"):
        resp = page.goto(site.url + path)
        assert resp.status == 403, path
        assert "无权访问" in page.inner_text("body")
    assert page.goto(site.url + "/").url.endswith("/street/wanxin")  # no district wall


FORGE = """async ([search, state]) => {
  const csrf = document.cookie.split('; ').find(c => c.startsWith('gw_csrf=')).slice(8);
  const body = {output: '.._pages_content.children..._pages_store.data..',
    outputs: [{id: '_pages_content', property: 'children'}, {id: '_pages_store', property: 'data'}],
    inputs: [{id: '_pages_location', property: 'pathname', value: '/street/wanxin'},
             {id: '_pages_location', property: 'search', value: search}],
    changedPropIds: ['_pages_location.pathname'], state: state};
  // The browser's own fetch (a blank frame's), not the page's wrapper: a refused page
  // callback would make the page reload under the test.
  const frame = document.body.appendChild(document.createElement('iframe'));
  const r = await frame.contentWindow.fetch(location.origin + '/_dash-update-component', {
    method: 'POST', body: JSON.stringify(body),
    headers: {'Content-Type': 'application/json', 'X-CSRF-Token': csrf}});
  return r.status;
}"""


def test_a_street_supervisors_browser_gets_403_for_forged_callbacks_exports_and_apis(site, page):
    sign_in(page, site, "wx")
    theirs = worker_of(site.svc, JUNLIANG_GRID)
    assert page.evaluate(FORGE, ["", []]) == 200  # the genuine request passes
    assert page.evaluate(FORGE, ["?code=junliangcheng", []]) == 403  # a swapped unit
    urls = [f"/api/v1/workers/{theirs}/track", f"/export/track/{theirs}.gpx",
            f"/export/track/{theirs}.csv", "/api/v1/workers"]
    statuses = page.evaluate(
        "async urls => Promise.all(urls.map(u => fetch(u).then(r => r.status)))", urls)
    assert statuses == [403] * len(urls)


def test_a_department_operator_sees_only_their_departments_cases(site, page):
    sign_in(page, site, "fire")
    assert page.url.endswith("/department/xiaofang")
    page.wait_for_selector("#drill-cases .ag-row")
    assert texts(page, "#drill-cases .ag-pinned-left-cols-container .ag-row") == ["C-JL-1"]
    assert page.goto(site.url + "/case/C-WX-1").status == 403
    page.goto(site.url + "/case/C-JL-1")
    page.wait_for_selector("#drill-timeline .ag-row")
    page.click("text=受理")
    page.wait_for_function("() => document.body.innerText.includes('已受理')", timeout=10000)
    assert site.svc.r.hget(site.svc.keys.case("C-JL-1"), "s") == b"accepted"


def test_the_wall_opens_with_a_token_and_nothing_more(site, page):
    token = auth.create_wall_token(site.svc, "hall")
    page.goto(f"{site.url}/?wall={token}")
    page.wait_for_function("() => document.querySelector('#gw-conn') && "
                           "document.querySelector('#gw-conn').textContent === '实时'",
                           timeout=15000)
    assert page.goto(site.url + "/district").status == 403
    assert page.goto(site.url + "/login").status == 200  # no supervisor account behind it
