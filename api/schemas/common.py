"""Shared shapes of the contract: strict input models, pages, and the problem document."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")


class In(BaseModel):
    """Request bodies: unknown fields are refused, numbers are not coerced from strings or floats.

    Every `int` field of a body is strict (`StrictInt`, `Version`, or `Field(strict=True)`); a test
    walks all of them. Litestar validates bodies with `model_validate(..., strict=False)`, which would switch
    that strictness off, so the explicit `strict=False` is dropped here and each field's own setting holds.
    """

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @classmethod
    def model_validate(cls, obj: Any, *, strict: bool | None = None, **kwargs: Any) -> Self:
        return super().model_validate(obj, strict=None if strict is False else strict, **kwargs)


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(Out, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last page.")


Name = Annotated[str, StringConstraints(min_length=1, max_length=100)]
LongName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^\+?[0-9 ()\-]{3,32}$")]
Email = Annotated[str, StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
Version = Annotated[int, Field(strict=True, ge=1, le=999_999_999,
                                description="The version you edited, as If-Match; a stale one answers 412.")]
Password = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=False)]


class ProblemOut(BaseModel):
    """application/problem+json (RFC 9457), with a stable machine `code`."""

    type: str
    title: str
    status: int
    detail: str
    code: str
    instance: str | None = None
    errors: list[dict[str, str]] | None = None
