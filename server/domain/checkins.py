"""Phone check-ins (手机打卡): when one counts, and the flags a supervisor reviews (SPEC §4).

Trainees check in by phone at every session, with their position and a selfie. Supervisors
hunt fake training: one person signing for others, check-ins from elsewhere, reused photos,
padded numbers (002 第十三条; 000 四(三)). A flag refuses nothing: it puts the check-in in front
of a supervisor, whose review (domain/attendance.py) decides whether the session counts. So the
flags lean towards raising a question, and each says exactly what it saw.

Flags are computed when a check-in arrives (`flags_for`, against what is already stored) and
recomputed over a whole class by a command (`recompute`, against everything), because a check-in
queued offline can arrive after the ones that follow it, and a photo passed around is only
seen once the second copy arrives.

The position arrives already judged (inside / outside / uncertain, by domain/geofence.py) and
is taken here as plain values. Times must be timezone-aware: the server's clock decides when a
check-in counts, the phone's clock is evidence, and a naive datetime is a programming error.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from geopy.distance import geodesic

from server.domain.errors import ValidationFailed


class Flag(StrEnum):
    """Declaration order is the order flags are listed in (position, time, people, photos)."""

    OUTSIDE_FENCE = "outside_fence"  # 不在培训场地范围内
    UNCERTAIN_POSITION = "uncertain_position"  # 定位精度圈跨越场地边界
    POOR_ACCURACY = "poor_accuracy"  # 定位精度差
    CLOCK_SKEW = "clock_skew"  # 手机时间与服务器相差超过 5 分钟
    SHARED_DEVICE = "shared_device"  # 同一设备在同一课时为多人打卡
    DUPLICATE_SELFIE = "duplicate_selfie"  # 自拍与他人的几乎相同
    REUSED_SELFIE = "reused_selfie"  # 自拍与本人以前的几乎相同
    IMPOSSIBLE_TRAVEL = "impossible_travel"  # 两次打卡之间移动速度不可能
    CROWDED_COORDINATES = "crowded_coordinates"  # 多名学员坐标完全相同
    LATE_SUBMISSION = "late_submission"  # 离线缓存后迟到上传


FLAG_LABELS: dict[Flag, str] = {
    Flag.OUTSIDE_FENCE: "不在培训场地范围内",
    Flag.UNCERTAIN_POSITION: "定位精度圈跨越场地边界",
    Flag.POOR_ACCURACY: "定位精度差",
    Flag.CLOCK_SKEW: "手机时间与服务器相差超过 5 分钟",
    Flag.SHARED_DEVICE: "同一设备在同一课时为多人打卡",
    Flag.DUPLICATE_SELFIE: "自拍与他人的几乎相同",
    Flag.REUSED_SELFIE: "自拍与本人以前的几乎相同",
    Flag.IMPOSSIBLE_TRAVEL: "两次打卡之间移动速度不可能",
    Flag.CROWDED_COORDINATES: "多名学员坐标完全相同",
    Flag.LATE_SUBMISSION: "离线缓存后迟到上传",
}

PLACEMENTS = frozenset({"inside", "outside", "uncertain"})  # geofence.Placement's values
PHASH_BITS = 64
COORDINATE_DECIMALS = 6  # ~0.1 m: two phones never agree to this by chance; a script does


@dataclass(frozen=True)
class Thresholds:
    """Where a flag starts. Product defaults; a region may tune them (domain/policy.py)."""

    clock_skew_s: int = 300
    poor_accuracy_m: float = 100.0  # flag above this (refusal above a higher policy limit is not ours)
    phash_max_distance: int = 6  # of 64 bits: near-identical (a re-shot photo differs by far more)
    max_speed_kmh: float = 120.0  # faster between consecutive check-ins of one trainee is impossible
    min_travel_m: float = 1000.0  # ignore speed for moves shorter than this (GPS jitter)
    crowd_size: int = 3  # this many trainees with exactly the same coordinates (to 6 decimals)
    late_after_s: int = 600  # received this long after the phone captured it (offline queue)

    def __post_init__(self) -> None:
        for name in ("clock_skew_s", "poor_accuracy_m", "max_speed_kmh", "min_travel_m", "late_after_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
                raise ValueError(f"Thresholds.{name} must be a non-negative number")
        # The near-duplicate search splits a hash into phash_max_distance + 1 blocks of at least
        # one bit each (see _near_pairs), so the distance must leave room for that.
        if not 0 <= self.phash_max_distance < PHASH_BITS:
            raise ValueError(f"Thresholds.phash_max_distance must be 0–{PHASH_BITS - 1}")
        if self.crowd_size < 2:
            raise ValueError("Thresholds.crowd_size must be at least 2 (one trainee is no crowd)")


DEFAULT_THRESHOLDS = Thresholds()


def _require_aware(name: str, value: object) -> None:
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (naive times are ambiguous)")


_PHASH = re.compile(r"[0-9a-fA-F]{16}")


def _phash_int(value: str, name: str = "phash") -> int:
    if not isinstance(value, str) or not _PHASH.fullmatch(value):
        raise ValueError(f"{name} must be 16 hexadecimal characters (a 64-bit perceptual hash)")
    return int(value, 16)


def phash_distance(a: str, b: str) -> int:
    """Hamming distance between two 64-bit perceptual hashes (imagehash's 16-hex `str()`):
    0 for the same photo re-encoded, a few bits for a crop or a screenshot of it."""
    return (_phash_int(a, "a") ^ _phash_int(b, "b")).bit_count()


@dataclass(frozen=True)
class CheckinFacts:
    """One check-in (or sign-out) as the flag rules see it."""

    key: object  # the caller's id for it (check-in id; None for the one being received)
    trainee_id: int
    session_id: int
    received_at: datetime  # server clock, aware UTC: authoritative
    captured_at: datetime  # the phone's clock, aware: evidence only
    offline: bool  # the app says it queued this while offline
    device_id: str
    latitude: float
    longitude: float
    accuracy_m: float
    placement: str  # "inside" | "outside" | "uncertain"
    phash: str | None  # 16 hex characters, or None (no selfie)

    def __post_init__(self) -> None:
        _require_aware("received_at", self.received_at)
        _require_aware("captured_at", self.captured_at)
        if self.placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {sorted(PLACEMENTS)}")
        if self.phash is not None:
            _phash_int(self.phash)
        if not (math.isfinite(self.latitude) and -90 <= self.latitude <= 90
                and math.isfinite(self.longitude) and -180 <= self.longitude <= 180):
            raise ValueError("latitude and longitude must be WGS-84 degrees")
        if not (math.isfinite(self.accuracy_m) and self.accuracy_m >= 0):
            raise ValueError("accuracy_m must be a non-negative number of metres")


# --- the rules, one check-in at a time -----------------------------------------------------


def _order(c: CheckinFacts) -> tuple[datetime, datetime]:
    """Chronological order of one trainee's check-ins: the phone's capture time (an offline one
    belongs where it was taken, not where it arrived), then the server's clock for ties."""
    return c.captured_at, c.received_at


def _spot(c: CheckinFacts) -> tuple[float, float]:
    return round(c.latitude, COORDINATE_DECIMALS), round(c.longitude, COORDINATE_DECIMALS)


def _device(c: CheckinFacts) -> str | None:
    """A blank device id identifies nothing: it must not tie unrelated trainees together."""
    return c.device_id.strip() or None


def _own_flags(c: CheckinFacts, t: Thresholds) -> set[Flag]:
    """The flags a check-in earns on its own: where it was and what its clocks say."""
    flags: set[Flag] = set()
    if c.placement == "outside":
        flags.add(Flag.OUTSIDE_FENCE)
    elif c.placement == "uncertain":
        flags.add(Flag.UNCERTAIN_POSITION)
    if c.accuracy_m > t.poor_accuracy_m:
        flags.add(Flag.POOR_ACCURACY)
    behind = (c.received_at - c.captured_at).total_seconds()  # > 0: the phone's time is earlier
    # A check-in queued offline is legitimately older than its arrival: it is late, not skewed.
    # Nothing excuses a phone clock *ahead* of the server, offline or not.
    if abs(behind) > t.clock_skew_s and (not c.offline or behind < 0):
        flags.add(Flag.CLOCK_SKEW)
    if c.offline and behind > t.late_after_s:
        flags.add(Flag.LATE_SUBMISSION)
    return flags


def _impossible_travel(a: CheckinFacts, b: CheckinFacts, t: Thresholds) -> bool:
    """One trainee at both places in the time between them would have moved faster than any
    road allows. Short moves are GPS jitter; no time at all between two far places is
    impossible however short the distance allowed."""
    metres = geodesic((a.latitude, a.longitude), (b.latitude, b.longitude)).meters
    if metres < t.min_travel_m:
        return False
    seconds = abs((b.captured_at - a.captured_at).total_seconds())
    if seconds == 0:
        return True
    return (metres / 1000) / (seconds / 3600) > t.max_speed_kmh


def _listed(flags: Iterable[Flag]) -> list[Flag]:
    found = set(flags)
    return [flag for flag in Flag if flag in found]


def _is_same_record(a: CheckinFacts, b: CheckinFacts) -> bool:
    return a is b or (a.key is not None and a.key == b.key)


def flags_for(new: CheckinFacts, same_session: list[CheckinFacts], own_history: list[CheckinFacts],
              t: Thresholds = DEFAULT_THRESHOLDS,
              other_selfies: Sequence[tuple[int, str]] = ()) -> list[Flag]:
    """The flags of a check-in as it arrives, in `Flag` order.

    `same_session`: the session's other check-ins (other trainees'; the trainee's own sign-in
    or sign-out may be among them and counts as nobody else). `own_history`: the trainee's
    other check-ins, any session, any order. `other_selfies`: (trainee id, phash) of recent
    selfies of other trainees in the class, beyond this session, to catch a photo passed
    around (the trainee's own are ignored: own_history covers them). The check-in itself, if
    listed (same object or same non-None key), is left out.

    Impossible travel compares with both chronological neighbours, the next one too: an offline
    check-in may arrive after later ones. The arriving check-in carries the flag; `recompute`
    later settles it on the later of the two.
    """
    for other in same_session:
        if other.session_id != new.session_id:
            raise ValueError("same_session holds a check-in of another session")
    for other in own_history:
        if other.trainee_id != new.trainee_id:
            raise ValueError("own_history holds another trainee's check-in")
    session = [o for o in same_session if not _is_same_record(o, new)]
    others = [o for o in session if o.trainee_id != new.trainee_id]
    history = [o for o in own_history if not _is_same_record(o, new)]

    flags = _own_flags(new, t)

    device = _device(new)
    if device is not None and any(_device(o) == device for o in others):
        flags.add(Flag.SHARED_DEVICE)

    if new.phash is not None:
        mine = _phash_int(new.phash)
        near = t.phash_max_distance
        theirs = [o.phash for o in others if o.phash is not None]
        theirs += [phash for trainee_id, phash in other_selfies if trainee_id != new.trainee_id]
        if any((mine ^ _phash_int(p)).bit_count() <= near for p in theirs):
            flags.add(Flag.DUPLICATE_SELFIE)
        if any(o.phash is not None and _order(o) < _order(new)
               and (mine ^ _phash_int(o.phash)).bit_count() <= near for o in history):
            flags.add(Flag.REUSED_SELFIE)

    earlier = [o for o in history if _order(o) <= _order(new)]
    later = [o for o in history if _order(o) > _order(new)]
    neighbours = ([max(earlier, key=_order)] if earlier else []) + ([min(later, key=_order)] if later else [])
    if any(_impossible_travel(o, new, t) for o in neighbours):
        flags.add(Flag.IMPOSSIBLE_TRAVEL)

    spot = _spot(new)
    crowd = {new.trainee_id} | {o.trainee_id for o in session if _spot(o) == spot}
    if len(crowd) >= t.crowd_size:
        flags.add(Flag.CROWDED_COORDINATES)

    return _listed(flags)


# --- the whole class at once -----------------------------------------------------------------


def _blocks(bits: int, count: int) -> list[tuple[int, int]]:
    """(shift, mask) of `count` contiguous blocks covering `bits` bits."""
    edges = [i * bits // count for i in range(count + 1)]
    return [(lo, (1 << (hi - lo)) - 1) for lo, hi in pairwise(edges)]


def _near_pairs(values: list[int], max_distance: int) -> set[tuple[int, int]]:
    """Index pairs (i < j) of distinct hash values within `max_distance` bits of each other.

    Pigeonhole: split the 64 bits into max_distance + 1 blocks; two hashes that differ in at
    most max_distance bits agree exactly on at least one block. So only hashes sharing a block
    are compared, instead of every pair of a class's thousands of selfies.
    """
    blocks = _blocks(PHASH_BITS, max_distance + 1)
    buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, value in enumerate(values):
        for block, (shift, mask) in enumerate(blocks):
            buckets[(block, (value >> shift) & mask)].append(index)
    pairs: set[tuple[int, int]] = set()
    for members in buckets.values():
        for position, i in enumerate(members):
            for j in members[position + 1:]:
                if (i, j) not in pairs and (values[i] ^ values[j]).bit_count() <= max_distance:
                    pairs.add((i, j))
    return pairs


def _selfie_flags(checkins: list[CheckinFacts], t: Thresholds) -> dict[int, set[Flag]]:
    """DUPLICATE_SELFIE on both of two near-identical selfies of different trainees (anywhere in
    the class); REUSED_SELFIE on the later of two of the same trainee's."""
    flags: dict[int, set[Flag]] = defaultdict(set)
    by_value: dict[int, list[int]] = defaultdict(list)  # distinct hash -> check-in indexes
    for index, c in enumerate(checkins):
        if c.phash is not None:
            by_value[_phash_int(c.phash)].append(index)
    values = list(by_value)
    neighbours: dict[int, list[int]] = {v: [v] for v in values}  # each value is near itself
    for i, j in _near_pairs(values, t.phash_max_distance):
        neighbours[values[i]].append(values[j])
        neighbours[values[j]].append(values[i])
    for value, indexes in by_value.items():
        # Per trainee, the earliest selfie near this one (a value is near itself).
        earliest: dict[int, tuple[datetime, datetime]] = {}
        for near in neighbours[value]:
            for k in by_value[near]:
                trainee_id, when = checkins[k].trainee_id, _order(checkins[k])
                if trainee_id not in earliest or when < earliest[trainee_id]:
                    earliest[trainee_id] = when
        for index in indexes:
            c = checkins[index]
            if len(earliest) > 1:  # the trainee's own is always there: any other is someone else's
                flags[index].add(Flag.DUPLICATE_SELFIE)
            if earliest[c.trainee_id] < _order(c):
                flags[index].add(Flag.REUSED_SELFIE)
    return flags


def recompute(checkins: list[CheckinFacts], t: Thresholds = DEFAULT_THRESHOLDS) -> dict[object, list[Flag]]:
    """Every check-in's flags against all the others of the class, keyed by `key` (unique).

    The same rules as `flags_for`, made symmetric now that everything is known: both trainees
    sharing a device in a session get SHARED_DEVICE, both near-identical selfies of different
    trainees get DUPLICATE_SELFIE, the later of two near-identical own selfies gets
    REUSED_SELFIE, and impossible travel flags the later of two consecutive check-ins (the
    earlier was plausible when it was made). Grouped by session and by trainee rather than
    compared pairwise: a class can hold tens of thousands of check-ins.
    """
    keys = [c.key for c in checkins]
    if len(set(keys)) != len(keys):
        raise ValueError("each check-in needs its own key")
    flags: dict[int, set[Flag]] = {index: _own_flags(c, t) for index, c in enumerate(checkins)}

    by_session: dict[int, list[int]] = defaultdict(list)
    by_trainee: dict[int, list[int]] = defaultdict(list)
    for index, c in enumerate(checkins):
        by_session[c.session_id].append(index)
        by_trainee[c.trainee_id].append(index)

    for indexes in by_session.values():
        devices: dict[str, set[int]] = defaultdict(set)
        spots: dict[tuple[float, float], set[int]] = defaultdict(set)
        for index in indexes:
            c = checkins[index]
            if (device := _device(c)) is not None:
                devices[device].add(c.trainee_id)
            spots[_spot(c)].add(c.trainee_id)
        for index in indexes:
            c = checkins[index]
            device = _device(c)
            if device is not None and len(devices[device]) > 1:
                flags[index].add(Flag.SHARED_DEVICE)
            if len(spots[_spot(c)]) >= t.crowd_size:
                flags[index].add(Flag.CROWDED_COORDINATES)

    for index, extra in _selfie_flags(checkins, t).items():
        flags[index] |= extra

    for indexes in by_trainee.values():
        ordered = sorted(indexes, key=lambda k: _order(checkins[k]))  # stable: ties keep input order
        for earlier, later in pairwise(ordered):
            if _impossible_travel(checkins[earlier], checkins[later], t):
                flags[later].add(Flag.IMPOSSIBLE_TRAVEL)

    return {c.key: _listed(flags[index]) for index, c in enumerate(checkins)}


# --- when a check-in counts ------------------------------------------------------------------


class WindowRefused(ValidationFailed):
    code = "CHECKIN_OUTSIDE_WINDOW"
    message = "不在打卡时间内"


@dataclass(frozen=True)
class Window:
    """When a check-in (签到) or sign-out (签退) is accepted, both ends included."""

    opens: datetime
    closes: datetime

    def __post_init__(self) -> None:
        _require_aware("opens", self.opens)
        _require_aware("closes", self.closes)
        if self.closes < self.opens:
            raise ValueError("a window cannot close before it opens")

    def includes(self, moment: datetime) -> bool:
        _require_aware("moment", moment)
        return self.opens <= moment <= self.closes


def _minutes(name: str, value: int) -> timedelta:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative whole number of minutes")
    return timedelta(minutes=value)


def window(starts_at: datetime, ends_at: datetime, before_min: int, after_start_min: int) -> Window:
    """The check-in (签到) window of a session: from `before_min` before it starts to
    `after_start_min` after (region policy `checkins.window_*`, default 30 / 15: arriving later
    is not training time). It never outlasts the session itself."""
    _require_aware("starts_at", starts_at)
    _require_aware("ends_at", ends_at)
    if ends_at <= starts_at:
        raise ValueError("a session must end after it starts")
    closes = min(starts_at + _minutes("after_start_min", after_start_min), ends_at)
    return Window(starts_at - _minutes("before_min", before_min), closes)


def signout_window(ends_at: datetime, before_min: int, after_min: int) -> Window:
    """The sign-out (签退) window around a session's end (policy `checkins.signout_*`, default
    10 before / 30 after)."""
    _require_aware("ends_at", ends_at)
    return Window(ends_at - _minutes("before_min", before_min), ends_at + _minutes("after_min", after_min))


def accepted_time(w: Window, received_at: datetime, captured_at: datetime, offline: bool,
                  max_offline_s: int) -> datetime:
    """When the check-in counts, or WindowRefused.

    The server's clock decides: received inside the window, it counts when received. A phone
    without signal may queue a check-in (offline) and upload it after the window has closed;
    it counts when it was taken if the phone's time for that is inside the window and the upload
    came within `max_offline_s` (policy `checkins.max_offline_hours`). It then carries
    LATE_SUBMISSION if it is late enough for `flags_for` to say so. The phone's clock is never
    trusted to move a check-in *earlier* than its arrival into an open window, nor to accept
    one received before the window opens.
    """
    _require_aware("received_at", received_at)
    _require_aware("captured_at", captured_at)
    if isinstance(max_offline_s, bool) or not isinstance(max_offline_s, int) or max_offline_s < 0:
        raise ValueError("max_offline_s must be a non-negative whole number of seconds")
    if w.includes(received_at):
        return received_at

    def refused(message: str, reason: str) -> WindowRefused:
        return WindowRefused(message, details={"opens": w.opens.isoformat(), "closes": w.closes.isoformat(),
                                               "reason": reason})

    if received_at < w.opens:
        raise refused("尚未到打卡时间", "early")
    if not offline:
        raise refused("打卡时间已过", "late")
    # Here received_at > closes >= captured_at whenever captured_at is inside the window, so a
    # phone clock ahead of the server cannot slip through this branch.
    if not w.includes(captured_at):
        raise refused("离线打卡的拍摄时间不在打卡时间内", "captured_outside_window")
    if (received_at - captured_at).total_seconds() > max_offline_s:
        raise refused("离线打卡上传过晚", "offline_too_long")
    return captured_at
