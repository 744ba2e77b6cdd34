"""Every route runs `authorize`: the start-up check refuses an app where one would not."""

from __future__ import annotations

import pytest
from litestar import Litestar, Request, Response, asgi, get
from litestar.types import Receive, Scope, Send

from router.http.fast import inference_route
from router.http.security import assert_every_route_authorizes, authorize


@get("/plain")
async def plain() -> str:
    return "plain"


async def _other_hook(_request: Request) -> None:  # type: ignore[type-arg]
    return None


@get("/own-hook", before_request=_other_hook)
async def own_hook() -> str:
    return "own"


def test_an_app_where_every_route_authorizes_passes() -> None:
    assert_every_route_authorizes(Litestar([plain], before_request=authorize, openapi_config=None))


def test_a_route_that_replaced_the_hook_is_refused() -> None:
    app = Litestar([plain, own_hook], before_request=authorize, openapi_config=None)
    with pytest.raises(RuntimeError, match="/own-hook does not run authorize"):
        assert_every_route_authorizes(app)


def test_an_app_without_the_hook_is_refused() -> None:
    with pytest.raises(RuntimeError, match="/plain does not run authorize"):
        assert_every_route_authorizes(Litestar([plain], openapi_config=None))


@inference_route("/v1/raw")
async def raw(request: Request, ctx: object) -> Response:  # type: ignore[type-arg]
    return Response(b"{}")


@asgi("/v1/raw-unchecked", copy_scope=False)
async def raw_unchecked(scope: Scope, receive: Receive, send: Send) -> None:
    return None


def test_raw_inference_routes_pass_and_other_raw_routes_are_refused() -> None:
    assert_every_route_authorizes(
        Litestar([plain, raw], before_request=authorize, openapi_config=None)
    )
    app = Litestar([plain, raw, raw_unchecked], before_request=authorize, openapi_config=None)
    with pytest.raises(RuntimeError, match="/v1/raw-unchecked does not run authorize"):
        assert_every_route_authorizes(app)
