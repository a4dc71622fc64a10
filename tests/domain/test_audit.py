"""The hash-chained audit trail: building it, verifying it, and finding where it was tampered with."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from itertools import pairwise

import pytest

from server.domain.audit import (
    GENESIS_HASH,
    AuditEntry,
    ChainProblem,
    canonical_bytes,
    link_hash,
    verify_chain,
)

N = 6
POSITIONS = [pytest.param(i, id=f"seq{i}") for i in range(1, N + 1)]
INNER = [pytest.param(i, id=f"seq{i}") for i in range(1, N)]  # every entry but the last


def entry(seq: int, prev_hash: str, **overrides) -> AuditEntry:
    fields = {
        "seq": seq,
        "occurred_at": f"2024-06-15T01:{seq:02d}:00Z",
        "actor_user_id": 100 + seq,
        "actor_role": "bureau_reviewer",
        "action": "trainee.update",
        "object_type": "trainee",
        "object_id": str(seq),
        "region_code": "140427",
        "before": {"mobile": "13812345678", "categories": ["graduate"]},
        "after": {"mobile": "13912345678", "categories": ["graduate", "veteran"], "real_name": "张三"},
        "prev_hash": prev_hash,
    } | overrides
    return AuditEntry(**fields)


def seal(e: AuditEntry) -> AuditEntry:
    return replace(e, hash=link_hash(e.prev_hash, e))


def build_chain(n: int = N) -> list[AuditEntry]:
    chain: list[AuditEntry] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        e = seal(entry(seq, prev, action="trainee.register" if seq == 1 else "trainee.update"))
        chain.append(e)
        prev = e.hash
    return chain


def renumbered(entries: list[AuditEntry], start: int) -> list[AuditEntry]:
    """Give entries from index `start` on consecutive seqs, as a clumsy forger would (no rehash)."""
    return entries[:start] + [replace(e, seq=start + k + 1) for k, e in enumerate(entries[start:])]


def forged(seq: int, prev_hash: str) -> AuditEntry:
    return seal(entry(seq, prev_hash, action="voucher.issue", object_type="voucher", object_id="999",
                      actor_user_id=1, actor_role="admin", before=None, after={"amount": 3000}))


# ---------------------------------------------------------------- a good chain


def test_an_empty_chain_verifies():
    assert verify_chain([]) is None
    assert verify_chain(iter(())) is None


@pytest.mark.parametrize("n", [pytest.param(n, id=f"{n}-entries") for n in (1, 2, 3, N, 50)])
def test_a_chain_built_with_link_hash_verifies(n):
    chain = build_chain(n)
    assert verify_chain(chain) is None
    assert verify_chain(e for e in chain) is None  # any iterable, e.g. a streaming query


def test_the_chain_starts_at_genesis_and_each_entry_points_at_the_one_before():
    chain = build_chain()
    assert GENESIS_HASH == "0" * 64
    assert chain[0].prev_hash == GENESIS_HASH
    for before, after in pairwise(chain):
        assert after.prev_hash == before.hash
    assert len({e.hash for e in chain}) == N
    assert all(len(e.hash) == 64 and int(e.hash, 16) >= 0 for e in chain)


def test_a_prefix_of_a_good_chain_is_a_good_chain():
    chain = build_chain()
    for k in range(N + 1):
        assert verify_chain(chain[:k]) is None


def test_json_key_order_in_before_and_after_does_not_matter():
    # A database JSON column may hand keys back in another order: that is not tampering.
    chain = build_chain()
    shuffled = [replace(e, after=dict(reversed(list(e.after.items()))),
                        before=dict(reversed(list(e.before.items())))) for e in chain]
    assert verify_chain(shuffled) is None


# ---------------------------------------------------------------- modification

CHANGES = {
    "action": "voucher.revoke",
    "object_type": "voucher",
    "object_id": "9999",
    "occurred_at": "2024-06-15T01:00:00+08:00",
    "actor_user_id": 1,
    "actor_role": "admin",
    "region_code": "141124",
    "before": None,
    "after": {"mobile": "13912345678", "categories": ["graduate", "veteran"], "real_name": "李四"},
}


@pytest.mark.parametrize("field", [pytest.param(f, id=f) for f in CHANGES])
@pytest.mark.parametrize("i", POSITIONS)
def test_changing_any_field_of_any_entry_is_reported_as_modified_there(i, field):
    chain = build_chain()
    assert getattr(chain[i - 1], field) != CHANGES[field]
    chain[i - 1] = replace(chain[i - 1], **{field: CHANGES[field]})
    problem = verify_chain(chain)
    assert problem is not None
    assert (problem.seq, problem.kind) == (i, "modified")
    assert problem.message == f"event {i} was changed after it was written"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("actor_user_id", None, id="actor-erased"),
        pytest.param("region_code", None, id="region-erased"),
        pytest.param("after", {}, id="after-emptied"),
        pytest.param("after", None, id="after-removed"),
        pytest.param("object_id", "1 ", id="object_id-trailing-space"),
        pytest.param("occurred_at", "2024-06-15T01:03:00.000Z", id="same-instant-other-spelling"),
    ],
)
def test_subtle_changes_are_reported(field, value):
    chain = build_chain()
    chain[2] = replace(chain[2], **{field: value})
    assert verify_chain(chain) == ChainProblem(3, "modified", "event 3 was changed after it was written")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        pytest.param("after.real_name", "张 三", id="chinese-name-space"),
        pytest.param("after.mobile", "13912345679", id="last-digit"),
        pytest.param("after.categories", ["veteran", "graduate"], id="list-reordered"),
        pytest.param("before.extra", True, id="key-added"),
    ],
)
def test_changes_inside_before_and_after_are_reported(path, value):
    chain = build_chain()
    which, key = path.split(".")
    changed = dict(getattr(chain[3], which)) | {key: value}
    chain[3] = replace(chain[3], **{which: changed})
    assert verify_chain(chain) == ChainProblem(4, "modified", "event 4 was changed after it was written")


@pytest.mark.parametrize("i", POSITIONS)
def test_overwriting_the_stored_hash_is_reported_as_modified(i):
    chain = build_chain()
    chain[i - 1] = replace(chain[i - 1], hash="f" * 64)
    assert verify_chain(chain) == ChainProblem(i, "modified", f"event {i} was changed after it was written")


@pytest.mark.parametrize("i", INNER)
def test_rehashing_a_modified_entry_breaks_the_link_to_the_next_one(i):
    chain = build_chain()
    chain[i - 1] = seal(replace(chain[i - 1], action="voucher.revoke"))
    problem = verify_chain(chain)
    assert (problem.seq, problem.kind) == (i + 1, "inserted_or_deleted")


@pytest.mark.parametrize("i", POSITIONS)
def test_changing_prev_hash_is_reported_where_it_was_changed(i):
    chain = build_chain()
    chain[i - 1] = replace(chain[i - 1], prev_hash="a" * 64)
    problem = verify_chain(chain)
    assert (problem.seq, problem.kind) == (i, "inserted_or_deleted")


@pytest.mark.parametrize("i", POSITIONS)
def test_changing_seq_is_reported(i):
    chain = build_chain()
    chain[i - 1] = replace(chain[i - 1], seq=i + 100)
    problem = verify_chain(chain)
    assert (problem.seq, problem.kind) == (i + 100, "sequence_gap")


def test_only_the_first_problem_is_reported():
    chain = build_chain()
    chain[1] = replace(chain[1], action="x")
    chain[3] = replace(chain[3], action="y")
    del chain[4]
    assert verify_chain(chain).seq == 2


# ---------------------------------------------------------------- deletion


@pytest.mark.parametrize("i", INNER)
def test_deleting_an_entry_is_reported_at_the_gap(i):
    chain = build_chain()
    del chain[i - 1]
    assert verify_chain(chain) == ChainProblem(
        i + 1, "sequence_gap", f"event {i} is missing: found {i + 1} next")


@pytest.mark.parametrize("i", INNER)
def test_deleting_an_entry_and_renumbering_the_rest_is_reported_where_it_was(i):
    chain = build_chain()
    del chain[i - 1]
    problem = verify_chain(renumbered(chain, i - 1))
    assert (problem.seq, problem.kind) == (i, "inserted_or_deleted")


@pytest.mark.parametrize(
    ("first", "count"),
    [pytest.param(f, c, id=f"delete-{c}-from-seq{f}") for f in range(1, N) for c in range(1, N - f + 1)
     if f + c <= N],
)
def test_deleting_a_run_of_entries_is_reported_at_the_gap(first, count):
    chain = build_chain()
    del chain[first - 1:first - 1 + count]
    assert verify_chain(chain) == ChainProblem(
        first + count, "sequence_gap", f"event {first} is missing: found {first + count} next")


def test_cutting_off_the_tail_is_not_a_break_but_moves_the_head():
    """Without its last events the rest is still a sound chain, so verify_chain cannot object;
    what gives the cut away is the head hash (and count) compared with a copy kept elsewhere."""
    chain = build_chain()
    cut = chain[:-1]
    assert verify_chain(cut) is None
    assert cut[-1].hash != chain[-1].hash


# ---------------------------------------------------------------- insertion


@pytest.mark.parametrize("i", [pytest.param(i, id=f"after-seq{i}") for i in range(0, N)])
def test_a_well_forged_entry_slipped_in_is_reported_at_the_entry_after_it(i):
    """The forger links the fake to entry i and renumbers the rest, but cannot rehash them all."""
    chain = build_chain()
    prev = chain[i - 1].hash if i else GENESIS_HASH
    tampered = [*chain[:i], forged(i + 1, prev), *chain[i:]]
    problem = verify_chain(renumbered(tampered, i + 1))
    assert (problem.seq, problem.kind) == (i + 2, "inserted_or_deleted")


@pytest.mark.parametrize("i", [pytest.param(i, id=f"after-seq{i}") for i in range(0, N)])
def test_a_forged_entry_with_a_duplicate_seq_is_reported(i):
    chain = build_chain()
    prev = chain[i - 1].hash if i else GENESIS_HASH
    tampered = [*chain[:i], forged(i + 1, prev), *chain[i:]]
    problem = verify_chain(tampered)
    assert (problem.seq, problem.kind) == (i + 1, "sequence_gap")
    assert problem.message == f"event {i + 2} is missing: found {i + 1} next"


@pytest.mark.parametrize("i", [pytest.param(i, id=f"after-seq{i}") for i in range(0, N)])
def test_a_badly_linked_forged_entry_is_reported_where_it_sits(i):
    chain = build_chain()
    tampered = [*chain[:i], forged(i + 1, "b" * 64), *chain[i:]]
    problem = verify_chain(renumbered(tampered, i + 1))
    assert (problem.seq, problem.kind) == (i + 1, "inserted_or_deleted")


# ---------------------------------------------------------------- reordering


@pytest.mark.parametrize(
    ("i", "j"),
    [pytest.param(i, j, id=f"swap-seq{i}-seq{j}") for i in range(1, N + 1) for j in range(i + 1, N + 1)],
)
def test_swapping_two_entries_is_reported(i, j):
    chain = build_chain()
    chain[i - 1], chain[j - 1] = chain[j - 1], chain[i - 1]
    problem = verify_chain(chain)
    assert (problem.seq, problem.kind) == (j, "sequence_gap")  # seq j turns up where i belongs


@pytest.mark.parametrize(
    ("i", "j"),
    [pytest.param(i, j, id=f"swap-seq{i}-seq{j}") for i in range(1, N + 1) for j in range(i + 1, N + 1)],
)
def test_swapping_two_entries_and_their_seqs_is_reported(i, j):
    chain = build_chain()
    chain[i - 1], chain[j - 1] = replace(chain[j - 1], seq=i), replace(chain[i - 1], seq=j)
    problem = verify_chain(chain)
    assert (problem.seq, problem.kind) == (i, "inserted_or_deleted")


def test_a_chain_that_does_not_start_at_genesis_is_reported():
    chain = build_chain()
    assert verify_chain(chain[1:]) == ChainProblem(2, "sequence_gap", "event 1 is missing: found 2 next")
    relinked = [seal(entry(1, "c" * 64))]
    assert verify_chain(relinked) == ChainProblem(
        1, "inserted_or_deleted", "event 1 does not follow the event before it")


# ---------------------------------------------------------------- canonical bytes and hashes

GOLDEN_ENTRY = AuditEntry(
    seq=1, occurred_at="2024-06-15T01:30:00Z", actor_user_id=7, actor_role="admin",
    action="trainee.register", object_type="trainee", object_id="42", region_code="140427",
    before=None, after={"real_name": "张三", "categories": ["graduate"]}, prev_hash=GENESIS_HASH,
)
GOLDEN_BYTES = (
    '{"action":"trainee.register","actor_role":"admin","actor_user_id":7,'
    '"after":{"categories":["graduate"],"real_name":"张三"},"before":null,"object_id":"42",'
    '"object_type":"trainee","occurred_at":"2024-06-15T01:30:00Z","region_code":"140427","seq":1}'
).encode()


def test_canonical_bytes_are_sorted_compact_utf8_json():
    assert canonical_bytes(GOLDEN_ENTRY) == GOLDEN_BYTES


def test_link_hash_is_sha256_of_prev_hash_newline_and_canonical_bytes():
    expected = hashlib.sha256(GENESIS_HASH.encode() + b"\n" + GOLDEN_BYTES).hexdigest()
    assert link_hash(GENESIS_HASH, GOLDEN_ENTRY) == expected


def test_link_hash_depends_on_the_previous_hash():
    assert link_hash(GENESIS_HASH, GOLDEN_ENTRY) != link_hash("1" * 64, GOLDEN_ENTRY)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        pytest.param({"x": 1, "y": 2}, {"y": 2, "x": 1}, id="flat"),
        pytest.param({"姓名": "张三", "类别": ["两后生"]}, {"类别": ["两后生"], "姓名": "张三"},
                     id="chinese-keys"),
        pytest.param({"o": {"b": 1, "a": {"d": 4, "c": 3}}, "z": 0},
                     {"z": 0, "o": {"a": {"c": 3, "d": 4}, "b": 1}}, id="nested"),
    ],
)
def test_canonical_bytes_ignore_dict_key_order(a, b):
    assert list(a) != list(b)
    assert canonical_bytes(replace(GOLDEN_ENTRY, after=a, before=b)) == canonical_bytes(
        replace(GOLDEN_ENTRY, after=b, before=a))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("张三", id="name"),
        pytest.param("山西省吕梁市临县", id="region-name"),
        pytest.param("欧阳娜娜（两后生）：已登记", id="full-width-punctuation"),
        pytest.param("𠀀𪚥", id="astral-plane-han"),
    ],
)
def test_chinese_text_is_encoded_as_utf8_not_escaped_and_stably(text):
    e = replace(GOLDEN_ENTRY, after={"note": text})
    first = canonical_bytes(e)
    assert text.encode("utf-8") in first
    assert b"\\u" not in first
    assert canonical_bytes(replace(GOLDEN_ENTRY, after={"note": str(text)})) == first
    assert link_hash(GENESIS_HASH, e) == link_hash(GENESIS_HASH, e)


def test_canonical_bytes_leave_out_the_hashes_themselves():
    same = replace(GOLDEN_ENTRY, prev_hash="d" * 64, hash="e" * 64)
    assert canonical_bytes(same) == canonical_bytes(GOLDEN_ENTRY)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        pytest.param("seq", 2, id="seq"),
        pytest.param("occurred_at", "2024-06-15T01:30:01Z", id="occurred_at"),
        pytest.param("actor_user_id", 8, id="actor_user_id"),
        pytest.param("actor_role", "bureau_reviewer", id="actor_role"),
        pytest.param("action", "trainee.update", id="action"),
        pytest.param("object_type", "voucher", id="object_type"),
        pytest.param("object_id", "43", id="object_id"),
        pytest.param("region_code", "140427100", id="region_code"),
        pytest.param("before", {}, id="before"),
        pytest.param("after", {"real_name": "张三", "categories": []}, id="after"),
    ],
)
def test_canonical_bytes_cover_every_recorded_field(field, value):
    assert canonical_bytes(replace(GOLDEN_ENTRY, **{field: value})) != canonical_bytes(GOLDEN_ENTRY)
