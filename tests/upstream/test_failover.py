"""What a failed attempt means, and the error a request ends with: pure decisions."""

from __future__ import annotations

import pytest

from router.errors import (
    ProvidersBusy,
    RateLimited,
    UpstreamError,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
    provider_status_error,
)
from router.upstream.failover import Consequence, after_failure, giving_up


def status(code: int, retry_after: float | None = None) -> UpstreamError:
    return provider_status_error(code)("x", provider="p", status=code, retry_after=retry_after)


@pytest.mark.parametrize(
    ("error", "consequence"),
    [
        pytest.param(status(429, 7), Consequence(cool_down_s=7), id="429 cools down"),
        pytest.param(status(429), Consequence(cool_down_s=1.0), id="429 without Retry-After"),
        pytest.param(status(503, 3), Consequence(cool_down_s=3), id="503 with Retry-After"),
        pytest.param(status(503), Consequence(model_strike=True), id="503 strikes the model"),
        pytest.param(status(500), Consequence(model_strike=True), id="500 strikes the model"),
        pytest.param(status(400), Consequence(fail_over=False), id="400 is the client's"),
        pytest.param(status(404), Consequence(fail_over=False), id="404 is the client's"),
        pytest.param(
            UpstreamTimeout("t", provider="p"), Consequence(strike=True), id="timeout strikes"
        ),
        pytest.param(
            UpstreamUnavailable("u", provider="p"), Consequence(strike=True), id="refused strikes"
        ),
        pytest.param(
            UpstreamProtocolError("m", provider="p"), Consequence(strike=True), id="malformed"
        ),
    ],
)
def test_after_failure(error: UpstreamError, consequence: Consequence) -> None:
    assert after_failure(error) == consequence


def test_nothing_tried_because_every_candidate_was_full_is_providers_busy() -> None:
    assert isinstance(giving_up(0, None, full=2, waits=[], route="r"), ProvidersBusy)


def test_nothing_tried_because_of_budgets_is_rate_limited_with_the_shortest_wait() -> None:
    error = giving_up(0, None, full=1, waits=[9.5, 2.2], route="r")
    assert isinstance(error, RateLimited)
    assert error.retry_after == 3


def test_the_last_failure_says_how_many_candidates_were_tried() -> None:
    last = UpstreamUnavailable("Provider 'b' at http://b: connection refused", provider="b")
    error = giving_up(2, last, full=0, waits=[], route="r")
    assert error is last
    assert (
        error.message
        == "All 2 candidates failed; last: Provider 'b' at http://b: connection refused"
    )
