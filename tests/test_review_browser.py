"""The review app in a real browser (headless Chromium driven by Selenium): label ten items
with the keyboard and find the labels in the workspace after a reload; no page without the
token; no label from another site's form; model text that tries to run script stays text."""

from __future__ import annotations

import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tailscope.store import Workspace
from tests.review_server import ReviewServer
from tests.review_workspace import filled_workspace, redteam_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER),
    reason="needs Debian's chromium and chromium-driver (`make test` installs them)",
)
WAIT_S = 60  # an upper bound for a page to load on a loaded machine, not a speed claim
TITLE = "tailscope review"
PAYLOADS = [
    "<script>window.pwned = 1; document.title = 'pwned'</script>",
    "<img src=x onerror=\"window.pwned = 1; document.title = 'pwned'\">",
    "<a href=\"javascript:window.pwned = 1; document.title = 'pwned'\">click me</a>",
]


@pytest.fixture(scope="module")
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def app(tmp_path_factory, browser):
    path = tmp_path_factory.mktemp("review") / "ws"
    ws, plain = filled_workspace(path, count=12)
    hostile = redteam_run(ws, PAYLOADS, scores=[0.9, 0.8, 0.7])
    ws.close()
    server = ReviewServer(path)
    yield server, path, plain, hostile
    browser.get("about:blank")  # let go of the server's connections before it stops
    server.stop()


def _wait(driver, condition):
    """Wait for a condition; an element read while the page navigates away is read again."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_S, ignored_exceptions=[StaleElementReferenceException])
    return wait.until(condition)


def _press(driver, key: str) -> None:
    """Press a labelling key and wait for the next item's page."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.support import expected_conditions as ec

    old = driver.find_element("id", "progress")
    ActionChains(driver).send_keys(key).perform()
    _wait(driver, ec.staleness_of(old))
    _wait(driver, ec.presence_of_element_located(("id", "progress")))


def test_label_ten_items_with_the_keyboard_and_keep_them(app, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    server, path, plain, _ = app
    browser.get(server.page_url(run=plain))
    assert browser.title == TITLE
    keys = "papuapaapu"
    expected = {}
    for n, key in enumerate(keys):
        item = browser.find_element("id", "item")
        idx = int(item.get_attribute("data-idx"))
        if n == 3:  # a note: n focuses it, Esc leaves it, then the key labels
            ActionChains(browser).send_keys("n", "looks borderline", Keys.ESCAPE).perform()
        _press(browser, key)
        expected[idx] = {"p": "present", "a": "absent", "u": "unsure"}[key]
        assert browser.find_element("id", "mine").text == str(n + 1)
    assert len(expected) == 10  # ten different items, each shown once
    browser.refresh()
    assert browser.find_element("id", "mine").text == "10"
    assert browser.find_element("id", "total").text == "12"
    with Workspace(path) as ws:
        stored = {lb.item_idx: lb for lb in ws.labels.list([plain])}
    assert {idx: lb.label for idx, lb in stored.items()} == expected
    assert {lb.labeller for lb in stored.values()} == {"tester"}
    assert [lb.note for lb in stored.values() if lb.note] == ["looks borderline"]
    assert {lb.queue_order for lb in stored.values()} == {"uncertainty"}  # the page's order


def test_a_page_without_the_token_is_refused(app, browser):
    server, _, plain, _ = app
    browser.get(f"{server.base}/?run={plain}")
    assert "forbidden" in browser.find_element("tag name", "body").text
    assert not browser.find_elements("id", "item")


class _AttackerPage(BaseHTTPRequestHandler):
    """Another site: a form that posts a label to the review app, token included (the worst
    case: the attacker learnt it), but it cannot know the CSRF token."""

    target = ""

    def do_GET(self):  # noqa: N802 (the http.server API)
        page = (
            f'<form method="post" action="{self.target}" enctype="text/plain">'
            '<input name=\'{"label": "present", "x": "\' value=\'"}\'>'
            '<button id="go" type="submit">go</button></form>'
        )
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(page.encode())

    def log_message(self, *args):
        pass


def test_a_cross_site_post_without_the_csrf_token_is_refused(app, browser):
    server, path, _, hostile = app
    _AttackerPage.target = f"{server.base}/label?token={server.token}"
    site = ThreadingHTTPServer(("127.0.0.1", 0), _AttackerPage)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    try:
        with Workspace(path) as ws:
            before = ws.labels.list()
        browser.get(f"http://localhost:{site.server_address[1]}/")
        browser.find_element("id", "go").click()
        _wait(browser, lambda d: "forbidden" in d.find_element("tag name", "body").text)
        assert "CSRF" in browser.find_element("tag name", "body").text
        with Workspace(path) as ws:
            assert ws.labels.list() == before
    finally:
        site.shutdown()


def test_replies_that_try_to_run_script_render_as_text(app, browser):
    server, _, _, hostile = app
    browser.get(server.page_url(run=hostile))
    shown = []
    for _ in PAYLOADS:
        reply = browser.find_element("id", "reply")
        shown.append(reply.text)
        assert not reply.find_elements("css selector", "*")  # no element: only text
        assert browser.title == TITLE
        assert browser.execute_script("return typeof window.pwned") == "undefined"
        _press(browser, "a")
    assert sorted(shown) == sorted(PAYLOADS)
    assert browser.find_elements("id", "done")
    assert browser.title == TITLE
    assert browser.execute_script("return typeof window.pwned") == "undefined"
