"""Small helpers every controller shares: paging parameters, If-Match, created-or-existing answers."""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from litestar import Response
from litestar.params import HeaderParameter, Parameter

from domain.errors import BadIfMatch
from domain.paging import DEFAULT_LIMIT, MAX_LIMIT  # noqa: F401  (DEFAULT_LIMIT: the default of every Limit)

T = TypeVar("T")

Limit = Annotated[int, Parameter(ge=1, le=MAX_LIMIT, description=f"Page size, at most {MAX_LIMIT}.")]
Cursor = Annotated[str | None, Parameter(max_length=1000, description="The next_cursor of the previous page.")]
IfMatch = Annotated[
    str | None,
    HeaderParameter(name="If-Match", required=False,
                    description="The version you edited (the ETag of what you read); a stale one answers 412."),
]


def parse_if_match(value: str | None) -> int | None:
    if value is None:
        return None
    text = value.strip().removeprefix("W/").strip('"')
    if not text.isdigit() or len(text) > 9:
        raise BadIfMatch()
    return int(text)


def expected_versions(if_match: str | None, body_version: int | None) -> tuple[int, ...]:
    """The versions a write says it edited: If-Match and/or `version` in the body; both must be current."""
    versions = [version for version in (parse_if_match(if_match), body_version) if version is not None]
    return tuple(versions)


def created(body: T, is_new: bool, location: str | None = None, version: int | None = None) -> Response[T]:
    """201 for a new resource, 200 for the existing one a retry with the same client id found."""
    headers: dict[str, Any] = {}
    if location:
        headers["Location"] = location
    if version is not None:
        headers["ETag"] = f'"{version}"'
    return Response(body, status_code=201 if is_new else 200, headers=headers)


def versioned(body: T, version: int) -> Response[T]:
    return Response(body, headers={"ETag": f'"{version}"'})
