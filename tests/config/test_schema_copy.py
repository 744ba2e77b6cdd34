"""The JSON Schema has one source of truth, and the published copy matches it byte for byte."""

from __future__ import annotations

from tests.conftest import REPO

PACKAGE_COPY = REPO / "router" / "config" / "nexus.schema.json"
PUBLISHED_COPY = REPO / "schemas" / "nexus.schema.json"


def test_the_published_schema_is_the_package_schema_byte_for_byte() -> None:
    assert PUBLISHED_COPY.read_bytes() == PACKAGE_COPY.read_bytes(), (
        "schemas/nexus.schema.json differs from router/config/nexus.schema.json, the source of "
        "truth (the file the code loads). After editing the package copy run: "
        "cp router/config/nexus.schema.json schemas/nexus.schema.json "
        "(if a merge brought an edit of schemas/ alone, carry it into the package copy first)"
    )


def test_the_package_schema_is_a_real_file_not_a_link() -> None:
    """A symlink is not carried into a wheel: the installed package would have no schema."""
    assert not PACKAGE_COPY.is_symlink()
    assert not PUBLISHED_COPY.is_symlink()
