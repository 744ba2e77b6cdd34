"""The served OpenAPI document: public, valid OpenAPI 3.1, and exactly the routes the app serves."""

from __future__ import annotations

import re
from pathlib import Path

import jsonschema
from litestar import Litestar
from litestar.testing import TestClient
from schemathesis.specs.openapi.definitions import OPENAPI_31_VALIDATOR

import router
from router.app import AppOptions, create_app
from router.http.fast import InferenceApp
from router.http.openapi import OPENAPI_PATH, document
from router.snapshot.holder import ConfigHolder

CONFIG = """\
version: 1
auth:
  keys:
    - {name: ops, role: admin, key: nx-admin-key-0123456789abcdef}
providers:
  - {name: local, kind: openai, base_url: "http://127.0.0.1:9/v1", models: [{name: small}]}
"""
_PARAM = re.compile(r"\{(\w+):\w+\}")


def _app(tmp_path: Path) -> Litestar:
    path = tmp_path / "nexus.yaml"
    path.write_text(CONFIG)
    options = AppOptions(watch=False, handle_sighup=False, health_probes=False)
    return create_app(ConfigHolder.open(path, env={}), options=options)


def served_operations(app: Litestar) -> set[tuple[str, str]]:
    """(METHOD, OpenAPI path) of every route; OPTIONS is Litestar's automatic CORS answer."""
    out = set()
    for route in app.routes:
        path = _PARAM.sub(r"{\1}", route.path)
        methods = getattr(route, "methods", None) or set()
        if not methods and isinstance(route.route_handler.fn, InferenceApp):  # type: ignore[union-attr]
            methods = {"POST"}  # raw inference routes answer 405 to anything else
        out |= {(m, path) for m in methods if m != "OPTIONS"}
    return out


def test_the_document_lists_every_route_the_app_serves_and_nothing_else(tmp_path: Path) -> None:
    documented = {
        (method.upper(), path)
        for path, operations in document()["paths"].items()
        for method in operations
    }
    served = served_operations(_app(tmp_path))
    assert sorted(served - documented) == [], "served but not documented"
    assert sorted(documented - served) == [], "documented but not served"


def test_the_document_is_valid_openapi_3_1_with_valid_json_schemas() -> None:
    doc = document()
    errors = [str(e) for e in OPENAPI_31_VALIDATOR.iter_errors(doc)]
    assert errors == []
    for schema in doc["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_it_is_served_without_a_key_and_names_the_package_version(tmp_path: Path) -> None:
    with TestClient(_app(tmp_path)) as client:
        answer = client.get(OPENAPI_PATH)
        assert client.get("/v1/models").status_code == 401  # the router does want keys
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json() == document()
    assert answer.json()["info"]["version"] == router.__version__


def test_operation_ids_are_unique_and_every_operation_answers_errors_in_an_envelope() -> None:
    operations = [op for ops in document()["paths"].values() for op in ops.values()]
    ids = [op["operationId"] for op in operations]
    assert len(ids) == len(set(ids))
    for op in operations:
        if op.get("security") == []:  # the public operational endpoints
            continue
        assert "default" in op["responses"], op["operationId"]
