"""Request bodies, checked for every route the app registers (no database needed): each is a strict
`In` model, so unknown fields are refused and no number is coerced from a string or a float."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from litestar.routes import HTTPRoute
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import Strict

from api.app import create_app
from api.schemas.common import In
from api.settings import Settings


def request_bodies() -> dict[str, Any]:
    app = create_app(Settings(secret_key="bodies-only-" + "b" * 40))
    bodies = {}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            data = handler.parsed_fn_signature.parameters.get("data")
            if data is not None:
                bodies[f"{sorted(handler.http_methods)} {route.path}"] = data.annotation
    return bodies


def _is_strict(metadata: list[Any]) -> bool:
    for item in metadata:
        if isinstance(item, Strict) and item.strict:
            return True
        if isinstance(item, FieldInfo) and _is_strict(item.metadata):
            return True
    return False


def loose_types(annotation: Any, strict: bool, models: set[type[BaseModel]]) -> list[str]:
    """What in `annotation` would accept a coerced number: an int or bool not marked strict, any float,
    or a nested model that is not an `In` (collected in `models` to be walked as well)."""
    if get_origin(annotation) is Annotated:
        base, *metadata = get_args(annotation)
        return loose_types(base, strict or _is_strict(metadata), models)
    if annotation is float:
        return ["float (no floats anywhere: money is integer cents)"]
    if annotation in (int, bool):
        return [] if strict else [f"{annotation.__name__} without strict=True"]
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        models.add(annotation)
        return [] if issubclass(annotation, In) else [f"{annotation.__name__} is not an In model"]
    if get_origin(annotation) in (Union, types.UnionType, list, tuple, set, frozenset, dict) or get_args(annotation):
        return [found for arg in get_args(annotation) for found in loose_types(arg, strict, models)]
    return []


def test_every_request_body_is_an_in_model_that_refuses_unknown_fields() -> None:
    bodies = request_bodies()
    assert bodies, "no route takes a body: the walk over the routes is broken"
    not_in = {route: body for route, body in bodies.items() if not (isinstance(body, type) and issubclass(body, In))}
    assert not not_in, f"request bodies must subclass api.schemas.common.In: {not_in}"
    assert In.model_config.get("extra") == "forbid"


def test_no_field_of_any_request_body_takes_a_float_or_coerces_a_number() -> None:
    models: set[type[BaseModel]] = {body for body in request_bodies().values() if isinstance(body, type)}
    walked: set[type[BaseModel]] = set()
    loose: dict[str, list[str]] = {}
    while models - walked:
        model = (models - walked).pop()
        walked.add(model)
        model_strict = bool(model.model_config.get("strict"))
        for name, field in model.model_fields.items():
            found = loose_types(field.annotation, model_strict or _is_strict(field.metadata), models)
            if found:
                loose[f"{model.__name__}.{name}"] = found
    assert not loose, f"use StrictInt, Version or Field(strict=True) for these: {loose}"


def test_the_walk_over_body_fields_catches_a_loose_int_and_a_float() -> None:
    class Loose(In):
        count: int
        share: float | None = None
        fine: Annotated[int, Strict()] = 0

    models: set[type[BaseModel]] = set()
    found = {name: loose_types(field.annotation, _is_strict(field.metadata), models)
             for name, field in Loose.model_fields.items()}
    assert [bool(found[name]) for name in ("count", "share", "fine")] == [True, True, False]
