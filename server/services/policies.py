"""The regional policy files in server/data/policies/, parsed once per process."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from server.domain.policy import PolicyInvalid, RegionPolicy, parse_policy, policy_for

POLICY_DIR = Path(__file__).resolve().parent.parent / "data" / "policies"


@cache
def all_policies() -> dict[str, RegionPolicy]:
    policies = {}
    for path in sorted(POLICY_DIR.glob("*.json")):
        try:
            policy = parse_policy(json.loads(path.read_text(encoding="utf-8")))
        except (PolicyInvalid, json.JSONDecodeError) as exc:
            raise PolicyInvalid(f"{path.name}: {exc}") from None
        if path.stem != policy.region_code:
            raise PolicyInvalid(f"{path.name}: file name must be its region_code")
        policies[policy.region_code] = policy
    return policies


def for_region(region_code: str) -> RegionPolicy:
    return policy_for(region_code, all_policies())
