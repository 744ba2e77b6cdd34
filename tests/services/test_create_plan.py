"""A Responses create call's choices, checked from its body alone."""

from __future__ import annotations

from typing import Any

import pytest

from router.auth.keys import Identity
from router.config.model import Role
from router.errors import RequestInvalid
from router.services.create_plan import Mode, plan_create

ALICE = Identity("alice", Role.USER)


@pytest.mark.parametrize(
    ("body", "mode", "store"),
    [
        ({"input": "hi"}, Mode.JSON, True),
        ({"input": "hi", "stream": True}, Mode.STREAM, True),
        ({"input": "hi", "store": False}, Mode.JSON, False),
        ({"input": "hi", "background": True}, Mode.BACKGROUND, True),
    ],
)
def test_how_to_answer(body: dict[str, Any], mode: Mode, store: bool) -> None:
    plan = plan_create(body, ALICE)
    assert (plan.mode, plan.store, plan.owner) == (mode, store, "alice")
    assert plan.items[0]["role"] == "user"
    assert plan.items[0]["id"].startswith("msg_")


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "input"),
        ({"input": "hi", "background": True, "store": False}, "background"),
        (
            {"input": "hi", "conversation": "conv_1", "previous_response_id": "resp_1"},
            "conversation",
        ),
        ({"input": "hi", "conversation": {"id": 7}}, "conversation"),
        ({"input": [{"role": "robot", "content": "x"}]}, "input[0].role"),
    ],
)
def test_what_is_refused_before_any_io(body: dict[str, Any], param: str) -> None:
    with pytest.raises(RequestInvalid) as info:
        plan_create(body, None)
    assert info.value.param == param


def test_a_conversation_given_as_an_object() -> None:
    assert (
        plan_create({"input": "hi", "conversation": {"id": "conv_9"}}, None).conversation
        == "conv_9"
    )
