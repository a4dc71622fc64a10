"""Reading the `{value, source}` entries of a policy file's subsidy section: each helper returns
the validated entry or raises PolicyInvalid naming it by its path ("subsidy.0.claims.claim_by")."""

from __future__ import annotations

import re
from datetime import date

from server.domain.policy import PolicyInvalid, Sourced


def entry_object(node: object, where: str, required: set[str],
                 optional: frozenset[str] = frozenset()) -> dict:
    """An object with the `required` keys and no keys beyond `optional`."""
    if not isinstance(node, dict):
        raise PolicyInvalid(f"{where} must be an object")
    missing = sorted(required - set(node))
    if missing:
        raise PolicyInvalid(f"{where}.{missing[0]} is missing")
    unknown = sorted(set(node) - required - optional)
    if unknown:
        raise PolicyInvalid(f"{where} has unknown keys {unknown}")
    return node


def sourced(node: object, where: str) -> Sourced:
    if not isinstance(node, dict) or set(node) != {"value", "source"}:
        raise PolicyInvalid(f"{where} must be {{value, source}}")
    if not isinstance(node["source"], str) or not node["source"].strip():
        raise PolicyInvalid(f"{where} has no source")
    return Sourced(node["value"], node["source"])


def integer(node: object, where: str, low: int = 0, high: int | None = None) -> Sourced:
    entry = sourced(node, where)
    value = entry.value
    too_high = high is not None and isinstance(value, int) and value > high
    if isinstance(value, bool) or not isinstance(value, int) or value < low or too_high:
        bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
        raise PolicyInvalid(f"{where} must be an integer {bounds}")
    return entry


def optional_integer(parent: dict, key: str, where: str, low: int) -> Sourced | None:
    return integer(parent[key], f"{where}.{key}", low) if key in parent else None


def choice(node: object, where: str, choices: tuple[str, ...]) -> Sourced:
    entry = sourced(node, where)
    if entry.value not in choices:
        raise PolicyInvalid(f"{where} must be one of {choices}")
    return entry


def flag(node: object, where: str) -> Sourced:
    entry = sourced(node, where)
    if not isinstance(entry.value, bool):
        raise PolicyInvalid(f"{where} must be true or false")
    return entry


def members(node: object, where: str, allowed: tuple[str, ...]) -> Sourced:
    entry = sourced(node, where)
    value = entry.value
    if not isinstance(value, list) or not value or not all(v in allowed for v in value):
        raise PolicyInvalid(f"{where} must list some of {allowed}")
    return Sourced(tuple(value), entry.source)


_MONTH_DAY = re.compile(r"[0-9]{2}-[0-9]{2}\Z")


def month_day(node: object, where: str) -> Sourced:
    entry = sourced(node, where)
    try:
        # Checked against a common year: the date must exist every year (no 02-29).
        valid = bool(_MONTH_DAY.match(entry.value)) and bool(date.fromisoformat(f"2023-{entry.value}"))
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise PolicyInvalid(f"{where} must be a month and day MM-DD")
    return entry


def iso_date(value: object, where: str) -> date:
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise PolicyInvalid(f"{where} must be an ISO date (YYYY-MM-DD)") from None
