"""Every error code a client can receive is unique, well formed, and has a Dutch and an English message."""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import string
from pathlib import Path

import api
import domain
from api import idempotency
from api.messages import MESSAGES
from api.problems import HTTP_CODES, STATUS_BY_KIND
from domain.errors import DomainError

CODE = re.compile(r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$")
PROBLEM_FUNCTIONS = {"problem", "problem_body", "_problem", "_send_problem"}


def _import_all(package: object) -> None:
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):  # type: ignore[attr-defined]
        importlib.import_module(module.name)


def error_classes() -> list[type[DomainError]]:
    """Every DomainError subclass, wherever in domain/ it is defined."""
    _import_all(domain)
    found: list[type[DomainError]] = []
    todo = list(DomainError.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return found


def coded(classes: list[type[DomainError]]) -> list[type[DomainError]]:
    return [cls for cls in classes if "code" in vars(cls)]


def codes_named_in_api_source() -> set[str]:
    """Codes written as literals in calls that build a problem anywhere in api/."""
    found = set()
    for path in Path(api.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                if name in PROBLEM_FUNCTIONS:
                    found |= {arg.value for arg in node.args if isinstance(arg, ast.Constant)
                              and isinstance(arg.value, str) and CODE.match(arg.value)}
    return found


def test_every_domain_error_with_a_code_has_a_unique_well_formed_one() -> None:
    classes = coded(error_classes())
    assert len(classes) > 20, "the walk over DomainError subclasses found too few"
    by_code: dict[str, list[str]] = {}
    for cls in classes:
        by_code.setdefault(cls.code, []).append(cls.__qualname__)
    shared = {code: names for code, names in by_code.items() if len(names) > 1}
    assert not shared, f"codes used by more than one error: {shared}"
    malformed = sorted(code for code in by_code if not CODE.match(code))
    assert not malformed, f"codes must be <thing>.<what_went_wrong> in snake case: {malformed}"


def test_every_domain_error_code_has_a_dutch_and_an_english_message() -> None:
    missing = sorted({cls.code for cls in coded(error_classes())} - MESSAGES.keys())
    assert not missing, f"add these codes to api/messages.py MESSAGES (nl and en): {missing}"


def test_every_code_the_api_itself_answers_with_has_a_message() -> None:
    api_codes = set(HTTP_CODES.values()) | set(idempotency.CODES) | codes_named_in_api_source()
    assert {"request.malformed", "idempotency.key_reused", "server.error"} <= api_codes  # the walk works
    missing = sorted(api_codes - MESSAGES.keys())
    assert not missing, f"add these codes to api/messages.py MESSAGES (nl and en): {missing}"


def test_every_message_has_a_title_and_a_detail_in_both_languages_with_the_same_placeholders() -> None:
    placeholders = string.Formatter()
    wrong = {}
    for code, ((nl_title, nl_detail), (en_title, en_detail)) in MESSAGES.items():
        if not all(text.strip() for text in (nl_title, nl_detail, en_title, en_detail)):
            wrong[code] = "empty title or detail"
            continue
        nl = {name for _, name, _, _ in placeholders.parse(nl_detail) if name}
        en = {name for _, name, _, _ in placeholders.parse(en_detail) if name}
        if nl != en:
            wrong[code] = f"nl uses {sorted(nl)}, en uses {sorted(en)}"
        if nl_title == en_title and nl_detail == en_detail:
            wrong[code] = "the Dutch text is the English text"
    assert not wrong, wrong


def test_every_coded_error_is_of_a_kind_the_api_maps_to_a_status() -> None:
    kinds = tuple(kind for kind, _ in STATUS_BY_KIND)
    unmapped = sorted(cls.__qualname__ for cls in coded(error_classes()) if not issubclass(cls, kinds))
    assert not unmapped, f"derive these from Refused, Conflict, Forbidden, NotFound, …: {unmapped}"


def test_every_message_belongs_to_a_code_something_can_raise() -> None:
    known = ({cls.code for cls in coded(error_classes())} | set(HTTP_CODES.values()) | set(idempotency.CODES)
             | codes_named_in_api_source())
    orphans = sorted(MESSAGES.keys() - known)
    assert not orphans, f"messages for codes nothing raises (remove them, or raise them): {orphans}"
