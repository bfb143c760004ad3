"""The review web app (Starlette): one page shows the next item of the queue, a small script
labels it from the keyboard, and each label is stored in the workspace as it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    PlainTextResponse,
    Response,
)
from starlette.routing import Route

from tailscope.errors import TailscopeError, first_problem
from tailscope.review.calibration import truths
from tailscope.review.items import ReviewItem
from tailscope.review.queue import (
    ORDERS,
    Filters,
    Uncertainties,
    labels_by_item,
    next_item,
    ordered,
    progress,
)
from tailscope.review.security import Guard, Secrets
from tailscope.review.uncertainty import item_features, queue_uncertainty
from tailscope.store import Label, Workspace
from tailscope.store.records import LABEL_VALUES

STATIC = Path(__file__).parent / "static"
STATIC_FILES = frozenset({"review.js", "review.css"})
LOOPBACK_HOSTS = ["127.0.0.1", "localhost"]
_TEMPLATES = Environment(
    loader=PackageLoader("tailscope.review", "templates"),
    autoescape=select_autoescape(default=True),  # model text is untrusted: always escaped
)


@dataclass
class ReviewSession:
    """What one `tailscope review` serves: the items (read before serving, so a run with
    none is refused up front) and the workspace their labels go to. The workspace opens in
    the server's event loop, since a SQLite connection stays in the thread that made it."""

    workspace: Path
    run_ids: list[str]
    items: list[ReviewItem]
    labeller: str
    seed: int = 0
    keys: Secrets = field(default_factory=Secrets)
    _ws: Workspace | None = None
    _features: np.ndarray | None = None

    @property
    def ws(self) -> Workspace:
        if self._ws is None:
            self._ws = Workspace(self.workspace)
        return self._ws

    def uncertainty(self, labels: list[Label]) -> Uncertainties | None:
        """The ensemble refitted on the labels so far (the items are embedded once)."""
        if self._features is None:
            self._features = item_features(self.items)
        return queue_uncertainty(self.items, self._features, truths(self.items, labels))


def create_app(session: ReviewSession, hosts: list[str] | None = None) -> Starlette:
    """`hosts`: the Host headers to answer (loopback names by default, which also stops DNS
    rebinding); ["*"] where the app is opened to the network."""

    async def page(request: Request) -> HTMLResponse:
        return HTMLResponse(_render_page(session, request))

    async def label(request: Request) -> JSONResponse:
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body must be JSON"}, 400)
        return _store_label(session, body)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return PlainTextResponse("not found", 404)
        return FileResponse(STATIC / name)

    routes = [
        Route("/", page),
        Route("/label", label, methods=["POST"]),
        Route("/static/{name:str}", static),
    ]
    middleware = [
        Middleware(TrustedHostMiddleware, allowed_hosts=hosts or LOOPBACK_HOSTS),
        Middleware(Guard, keys=session.keys),
    ]
    return Starlette(routes=routes, middleware=middleware)


def _render_page(session: ReviewSession, request: Request) -> str:
    params = request.query_params
    filters = Filters(
        params.get("run", ""),
        params.get("behavior", ""),
        params.get("detector", ""),
        abstain=params.get("abstain") == "1",
    )
    order = params.get("order") if params.get("order") in ORDERS else ORDERS[0]
    label_list = session.ws.labels.list(session.run_ids or None)
    labels = labels_by_item(label_list)
    wants_ensemble = order == "ensemble" or filters.abstain
    uncertainty = session.uncertainty(label_list) if wants_ensemble else None
    kept = [i for i in session.items if filters.keep(i, uncertainty)]
    queue = ordered(kept, labels, order, session.seed, uncertainty)
    item = next_item(queue, labels, session.labeller)
    return _TEMPLATES.get_template("review.html").render(
        item=item,
        item_uncertainty=uncertainty.get(item.key) if uncertainty and item else None,
        ensemble_waiting=wants_ensemble and uncertainty is None,
        item_labels=labels.get(item.key, []) if item else [],
        progress=progress(queue, labels, session.labeller),
        filters=filters,
        order=order,
        orders=ORDERS,
        choices=_choices(session.items),
        labeller=session.labeller,
        token=session.keys.token,
        csrf=session.keys.csrf,
    )


def _choices(items: list[ReviewItem]) -> dict[str, list[str]]:
    return {
        "run": sorted({i.run_id for i in items}),
        "behavior": sorted({i.behavior.label for i in items}),
        "detector": sorted({i.behavior.detector for i in items}),
    }


def _store_label(session: ReviewSession, body) -> JSONResponse:
    if not isinstance(body, dict) or body.get("label") not in LABEL_VALUES:
        return JSONResponse({"error": f"label must be one of {', '.join(LABEL_VALUES)}"}, 400)
    try:
        label = Label(
            run_id=body.get("run_id"),
            item_kind=body.get("item_kind"),
            item_idx=body.get("item_idx"),
            label=body["label"],
            note=str(body.get("note") or ""),
            labeller=session.labeller,
            queue_order=body.get("order") if body.get("order") in ORDERS else "",
        )
        session.ws.labels.record([label])
    except ValidationError as exc:
        field_name, message, _ = first_problem(exc)
        return JSONResponse({"error": f"{field_name}: {message}"}, 400)
    except TailscopeError as exc:
        return JSONResponse({"error": str(exc)}, 400)
    return JSONResponse({"stored": label.to_json()})
