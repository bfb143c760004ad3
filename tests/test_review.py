"""The review queue and the review app over HTTP: ordering, progress and agreement; the token,
the CSRF token and the security headers; and one clear line for what cannot be reviewed."""

from __future__ import annotations

import json
import socket

import pytest

from tailscope.review.items import review_items
from tailscope.review.queue import Filters, labels_by_item, next_item, ordered, progress
from tailscope.store import Label, Workspace
from tests.cli import tailscope
from tests.review_server import ReviewServer, request
from tests.review_workspace import filled_workspace, redteam_run


def label(run_id: str, idx: int, value: str, labeller: str) -> Label:
    return Label(run_id=run_id, item_kind="case", item_idx=idx, label=value, labeller=labeller)


@pytest.fixture()
def filled(tmp_path):
    ws = Workspace(tmp_path / "ws")
    run_id = redteam_run(ws, [f"r{i}" for i in range(5)], scores=[0.9, 0.52, 0.1, 0.45, 0.0])
    yield ws, run_id
    ws.close()


def test_uncertainty_puts_scores_nearest_the_threshold_first(filled):
    ws, run_id = filled
    items = review_items(ws, [run_id])
    queue = ordered(items, {}, "uncertainty")
    assert [i.idx for i in queue] == [1, 3, 0, 2, 4]
    shuffled = [i.idx for i in ordered(items, {}, "random", seed=3)]
    assert sorted(shuffled) == [0, 1, 2, 3, 4]
    assert shuffled == [i.idx for i in ordered(items, {}, "random", seed=3)]


def test_disagreement_puts_contested_items_first_and_progress_counts_them(filled):
    ws, run_id = filled
    ws.labels.record(
        [
            label(run_id, 4, "present", "ann"),  # ann and bo disagree on item 4
            label(run_id, 4, "absent", "bo"),
            label(run_id, 0, "absent", "ann"),  # the detector said present (score 0.9)
            label(run_id, 2, "absent", "ann"),  # agrees with the detector
            label(run_id, 2, "absent", "bo"),
        ]
    )
    items = review_items(ws, [run_id])
    labels = labels_by_item(ws.labels.list())
    queue = ordered(items, labels, "disagreement")
    assert [i.idx for i in queue][:2] == [4, 0]
    assert next_item(queue, labels, "ann").idx == 1  # the first item ann has not labelled
    stats = progress(queue, labels, "ann")
    assert (stats.total, stats.labelled_by_you, stats.labelled_by_anyone) == (5, 3, 3)
    assert stats.multiply_labelled == 2 and stats.pair_agreement == 0.5
    # definite labels: 4 present (detector absent, 0.0), 4 absent, 0 absent (detector
    # present), 2 absent twice: 3 of 5 match the detector
    assert stats.detector_agreement == pytest.approx(3 / 5)
    assert [i.idx for i in queue if Filters(run="other").keep(i)] == []
    assert len([i for i in queue if Filters(detector="toxicity").keep(i)]) == 5


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    path = tmp_path_factory.mktemp("review") / "ws"
    ws, run_id = filled_workspace(path, count=3)
    ws.close()
    app = ReviewServer(path)
    yield app, path, run_id
    app.stop()


def _post(server: ReviewServer, body: dict, **headers: str):
    url = f"{server.base}/label?token={server.token}"
    data = json.dumps(body).encode()
    return request(url, data, {"Content-Type": "application/json", **headers})


def _csrf(server: ReviewServer) -> str:
    status, page = request(server.url)
    assert status == 200
    return page.split('name="csrf-token" content="')[1].split('"')[0]


def test_every_request_needs_the_token_and_responses_carry_a_strict_csp(server):
    app, _, _ = server
    for url in (f"{app.base}/", f"{app.base}/?token=wrong", f"{app.base}/static/review.js"):
        status, body = request(url)
        assert status == 403 and "token" in body
    status, body = request(f"{app.base}/static/review.js?token={app.token}")
    assert status == 200 and "addEventListener" in body
    assert request(f"{app.base}/static/..?token={app.token}")[0] == 404
    with __import__("urllib.request").request.urlopen(app.url) as response:
        csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "unsafe" not in csp


def test_a_post_needs_the_csrf_token_and_the_same_origin(server):
    app, path, run_id = server
    body = {"run_id": run_id, "item_kind": "case", "item_idx": 0, "label": "present"}
    assert _post(app, body)[0] == 403
    assert _post(app, body, **{"X-CSRF-Token": "guess"})[0] == 403
    csrf = _csrf(app)
    cross = _post(app, body, **{"X-CSRF-Token": csrf, "Origin": "http://evil.example"})
    assert cross[0] == 403
    with Workspace(path) as ws:
        assert ws.labels.list() == []
    status, answer = _post(app, {**body, "note": "ok"}, **{"X-CSRF-Token": csrf})
    assert status == 200 and json.loads(answer)["stored"]["labeller"] == "tester"
    status, answer = _post(app, {**body, "item_idx": 7}, **{"X-CSRF-Token": csrf})
    assert status == 400 and "has no case 7" in json.loads(answer)["error"]
    assert _post(app, {**body, "label": "maybe"}, **{"X-CSRF-Token": csrf})[0] == 400
    url = f"{app.base}/label?token={app.token}"
    assert request(url, b"label=present", {"X-CSRF-Token": csrf})[0] == 400  # not JSON
    with Workspace(path) as ws:
        assert [(lb.item_idx, lb.label, lb.note) for lb in ws.labels.list()] == [
            (0, "present", "ok")
        ]
    for order, stored in [("random", "random"), ("alphabetical", "")]:  # unknown: unrecorded
        status, answer = _post(app, {**body, "order": order}, **{"X-CSRF-Token": csrf})
        assert status == 200 and json.loads(answer)["stored"]["queue_order"] == stored


def test_the_app_answers_only_loopback_host_names(server):
    app, _, _ = server
    assert request(app.url, headers={"Host": "attacker.example"})[0] == 400


def test_opening_to_the_network_needs_expose_and_warns(tmp_path):
    ws, _ = filled_workspace(tmp_path / "ws", count=1)
    ws.close()
    app = ReviewServer(tmp_path / "ws", "--host", "0.0.0.0", "--expose")
    try:
        assert app.base.startswith("http://0.0.0.0:")
        assert request(app.url)[0] == 200
        assert request(app.url.split("?")[0])[0] == 403  # the token still guards it
    finally:
        app.stop()
    assert "warning: the review app listens on 0.0.0.0" in app.proc.stderr.read()


def test_what_cannot_be_reviewed_is_one_line_and_exit_2(tmp_path):
    ws = Workspace(tmp_path / "ws")
    empty = redteam_run(ws, [])
    filled = redteam_run(ws, ["a reply"])
    ws.close()
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = str(busy.getsockname()[1])
    cases = [
        ((empty,), f"{empty} has no items to review"),
        (("r-nope",), "no run 'r-nope'"),
        ((filled, "--port", port), f"cannot listen on 127.0.0.1:{port}"),
        ((filled, "--host", "0.0.0.0"), "pass --expose"),
    ]
    for args, message in cases:
        done = tailscope("review", "--no-browser", *args, workspace=tmp_path / "ws")
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    busy.close()
    done = tailscope("review", "--no-browser", workspace=tmp_path / "empty")
    assert done.returncode == 2 and "has no items to review" in done.stderr


def test_the_ensemble_order_shows_its_uncertainty_once_both_classes_have_labels(tmp_path):
    from tests.test_review_uncertainty import _labelled

    ws = Workspace(tmp_path / "ws")
    _labelled(ws, labelled=12)
    unlabelled = redteam_run(ws, ["r0", "r1"])
    ws.close()
    app = ReviewServer(tmp_path / "ws")
    try:
        status, page = request(app.page_url(order="ensemble", abstain="1"))
        assert status == 200 and "ensemble P(present)" in page and "The ensemble trains" not in page
        status, page = request(app.page_url(order="ensemble", run=unlabelled))
        assert status == 200 and "ensemble P(present)" in page  # trained on the other run
    finally:
        app.stop()
    ws = Workspace(tmp_path / "ws2")
    redteam_run(ws, ["r0", "r1"])
    ws.close()
    app = ReviewServer(tmp_path / "ws2")
    try:
        status, page = request(app.page_url(order="ensemble"))
        assert status == 200 and "The ensemble trains once" in page
    finally:
        app.stop()
