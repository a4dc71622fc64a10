"""The tamper-evident audit chain.

Each event's hash is SHA-256 over the previous event's hash and the event's canonical
bytes (sorted-key compact JSON). Changing, inserting or deleting any stored event breaks
the link at that point, which `verify_chain` reports.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditEntry:
    seq: int
    occurred_at: str  # ISO 8601 UTC, as stored
    actor_user_id: int | None
    actor_role: str | None
    action: str
    object_type: str
    object_id: str
    region_code: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    prev_hash: str
    hash: str = ""


def canonical_bytes(entry: AuditEntry) -> bytes:
    body = {
        "seq": entry.seq,
        "occurred_at": entry.occurred_at,
        "actor_user_id": entry.actor_user_id,
        "actor_role": entry.actor_role,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "region_code": entry.region_code,
        "before": entry.before,
        "after": entry.after,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, entry: AuditEntry) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical_bytes(entry)).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int  # the first event at which the chain no longer holds
    kind: str  # "modified" | "inserted_or_deleted" | "sequence_gap"
    message: str


def verify_chain(entries: Iterable[AuditEntry]) -> ChainProblem | None:
    """Walk events in `seq` order; return the first break, or None if the chain holds."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for entry in entries:
        if entry.seq != expected_seq:
            return ChainProblem(entry.seq, "sequence_gap",
                                f"event {expected_seq} is missing: found {entry.seq} next")
        if entry.prev_hash != expected_prev:
            return ChainProblem(entry.seq, "inserted_or_deleted",
                                f"event {entry.seq} does not follow the event before it")
        if link_hash(entry.prev_hash, entry) != entry.hash:
            return ChainProblem(entry.seq, "modified",
                                f"event {entry.seq} was changed after it was written")
        expected_prev = entry.hash
        expected_seq += 1
    return None
