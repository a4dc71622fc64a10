"""Phone check-ins: each flag and its near miss, the order flags are listed in, the class-wide
recompute (symmetric, and agreeing with the one-at-a-time rules), and when a check-in counts
(windows, offline queueing, strict timezone-aware times) (SPEC §4)."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum

import pytest
from geopy.distance import geodesic

from server.domain.checkins import (
    FLAG_LABELS,
    CheckinFacts,
    Flag,
    Thresholds,
    Window,
    WindowRefused,
    accepted_time,
    flags_for,
    phash_distance,
    recompute,
    signout_window,
    window,
)
from server.domain.errors import ValidationFailed

CST = timezone(timedelta(hours=8), "CST")  # 北京时间
T0 = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)  # 08:30 in Huguan, a session's start
SITE = (36.11, 113.21)  # 壶关县龙泉镇
SESSION = 10
BASE_HASH = "0f0f0f0f0f0f0f0f"


def spot_of(trainee_id: int) -> tuple[float, float]:
    """A trainee's usual seat: a few metres apart, never the same coordinates by accident."""
    return SITE[0] + trainee_id * 0.00003, SITE[1]


def ck(trainee_id: int = 1, *, at: datetime = T0, **changes) -> CheckinFacts:
    """A clean check-in: inside the fence, good fix, clocks agree, own phone, own seat."""
    latitude, longitude = spot_of(trainee_id)
    facts = CheckinFacts(
        key=None, trainee_id=trainee_id, session_id=SESSION, received_at=at, captured_at=at,
        offline=False, device_id=f"phone-{trainee_id}", latitude=latitude, longitude=longitude,
        accuracy_m=15.0, placement="inside", phash=None,
    )
    return replace(facts, **changes)


def flipped(phash: str, bits: int, *, high: bool = False) -> str:
    """The hash with its lowest (or highest) `bits` bits inverted: exactly `bits` away."""
    mask = (1 << bits) - 1
    return f"{int(phash, 16) ^ (mask << (64 - bits) if high else mask):016x}"


def north_of(point: tuple[float, float], metres: float) -> tuple[float, float]:
    there = geodesic(meters=metres).destination(point, bearing=0)
    return there.latitude, there.longitude


def at_spot(c: CheckinFacts, point: tuple[float, float]) -> CheckinFacts:
    return replace(c, latitude=point[0], longitude=point[1])


def test_every_flag_has_its_chinese_label():
    assert list(FLAG_LABELS) == list(Flag)
    assert FLAG_LABELS[Flag.CLOCK_SKEW] == "手机时间与服务器相差超过 5 分钟"
    assert FLAG_LABELS[Flag.LATE_SUBMISSION] == "离线缓存后迟到上传"


# --- flags a check-in earns on its own ------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({}, [], id="clean"),
        pytest.param({"placement": "outside"}, [Flag.OUTSIDE_FENCE], id="outside-fence"),
        pytest.param({"placement": "uncertain"}, [Flag.UNCERTAIN_POSITION], id="uncertain-position"),
        pytest.param({"accuracy_m": 100.0}, [], id="accuracy-100m-not-poor"),
        pytest.param({"accuracy_m": 100.5}, [Flag.POOR_ACCURACY], id="accuracy-100.5m-poor"),
        pytest.param({"captured_at": T0 - timedelta(seconds=299)}, [], id="phone-299s-behind"),
        pytest.param({"captured_at": T0 - timedelta(seconds=300)}, [], id="phone-300s-behind"),
        pytest.param({"captured_at": T0 - timedelta(seconds=301)}, [Flag.CLOCK_SKEW], id="phone-301s-behind"),
        pytest.param({"captured_at": T0 + timedelta(seconds=299)}, [], id="phone-299s-ahead"),
        pytest.param({"captured_at": T0 + timedelta(seconds=301)}, [Flag.CLOCK_SKEW], id="phone-301s-ahead"),
        pytest.param({"captured_at": T0 - timedelta(seconds=601)}, [Flag.CLOCK_SKEW],
                     id="online-601s-behind-is-skew-not-late"),
        pytest.param({"offline": True, "captured_at": T0 - timedelta(seconds=301)}, [],
                     id="offline-301s-behind-is-no-skew"),
        pytest.param({"offline": True, "captured_at": T0 - timedelta(seconds=600)}, [],
                     id="offline-600s-late-not-flagged"),
        pytest.param({"offline": True, "captured_at": T0 - timedelta(seconds=601)}, [Flag.LATE_SUBMISSION],
                     id="offline-601s-late"),
        pytest.param({"offline": True, "captured_at": T0 - timedelta(hours=11)}, [Flag.LATE_SUBMISSION],
                     id="offline-11h-late"),
        pytest.param({"offline": True, "captured_at": T0 + timedelta(seconds=301)}, [Flag.CLOCK_SKEW],
                     id="offline-does-not-excuse-a-phone-ahead"),
    ],
)
def test_flags_a_check_in_earns_on_its_own(changes, expected):
    assert flags_for(ck(**changes), [], []) == expected


def test_clock_skew_compares_instants_not_wall_clocks():
    """The phone reports Beijing time, the server UTC: the same instant is no skew."""
    assert flags_for(ck(captured_at=T0.astimezone(CST)), [], []) == []


def test_thresholds_can_be_tuned():
    strict = Thresholds(clock_skew_s=60, poor_accuracy_m=30.0)
    c = ck(captured_at=T0 - timedelta(seconds=61), accuracy_m=31.0)
    assert flags_for(c, [], []) == []
    assert flags_for(c, [], [], strict) == [Flag.POOR_ACCURACY, Flag.CLOCK_SKEW]


class Placement(StrEnum):  # what domain/geofence.py hands over, without importing it
    INSIDE = "inside"
    OUTSIDE = "outside"
    UNCERTAIN = "uncertain"


def test_a_placement_enum_with_the_same_values_is_understood():
    assert flags_for(ck(placement=Placement.OUTSIDE), [], []) == [Flag.OUTSIDE_FENCE]


# --- flags from the rest of the session -------------------------------------------------------


@pytest.mark.parametrize(
    ("same_session", "own_history", "shared"),
    [
        pytest.param([ck(2, device_id="phone-1")], [], True, id="another-trainee-same-device"),
        pytest.param([ck(2, device_id="phone-2")], [], False, id="another-trainee-own-device"),
        pytest.param([ck(2, device_id=" phone-1 ")], [], True, id="same-device-padded"),
        pytest.param([], [ck(1, session_id=SESSION - 1), ck(1, session_id=SESSION - 2)], False,
                     id="own-history-same-device-twice"),
        pytest.param([ck(1, at=T0 + timedelta(hours=3))], [], False, id="own-sign-out-same-device"),
    ],
)
def test_shared_device(same_session, own_history, shared):
    assert (Flag.SHARED_DEVICE in flags_for(ck(1), same_session, own_history)) is shared


def test_a_blank_device_id_ties_nobody_together():
    assert flags_for(ck(1, device_id=""), [ck(2, device_id="")], []) == []
    assert flags_for(ck(1, device_id="  "), [ck(2, device_id=" ")], []) == []


@pytest.mark.parametrize(
    ("trainees", "expected"),
    [
        pytest.param([2], [], id="2-trainees-same-spot"),
        pytest.param([2, 3], [Flag.CROWDED_COORDINATES], id="3-trainees-same-spot"),
        pytest.param([2, 2], [], id="2-trainees-one-twice"),
        pytest.param([2, 3, 4], [Flag.CROWDED_COORDINATES], id="4-trainees-same-spot"),
    ],
)
def test_crowded_coordinates(trainees, expected):
    others = [at_spot(ck(t, at=T0 + timedelta(minutes=i)), spot_of(1)) for i, t in enumerate(trainees)]
    assert flags_for(ck(1), others, []) == expected


@pytest.mark.parametrize(
    ("latitudes", "crowded"),
    [
        pytest.param([36.1100001, 36.1100002, 36.1100004], True, id="differ-in-7th-decimal"),
        pytest.param([36.110001, 36.110002, 36.110001], False, id="differ-in-6th-decimal"),
    ],
)
def test_crowded_coordinates_are_compared_to_6_decimals(latitudes, crowded):
    mine, *theirs = [at_spot(ck(t), (lat, SITE[1])) for t, lat in enumerate(latitudes, start=1)]
    assert (Flag.CROWDED_COORDINATES in flags_for(mine, theirs, [])) is crowded


def test_check_ins_of_another_session_are_refused_as_same_session():
    with pytest.raises(ValueError, match="another session"):
        flags_for(ck(1), [ck(2, session_id=SESSION + 1)], [])


def test_another_trainees_check_ins_are_refused_as_own_history():
    with pytest.raises(ValueError, match="another trainee"):
        flags_for(ck(1), [], [ck(2)])


# --- selfies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bits", "duplicate"),
    [pytest.param(0, True, id="identical"), pytest.param(6, True, id="6-bits-apart"),
     pytest.param(7, False, id="7-bits-apart")],
)
def test_duplicate_selfie_in_the_same_session(bits, duplicate):
    mine = ck(1, phash=BASE_HASH)
    theirs = ck(2, phash=flipped(BASE_HASH, bits))
    assert (Flag.DUPLICATE_SELFIE in flags_for(mine, [theirs], [])) is duplicate


@pytest.mark.parametrize(
    ("other_selfies", "duplicate"),
    [
        pytest.param([(2, flipped(BASE_HASH, 6))], True, id="another-trainee-6-bits"),
        pytest.param([(2, flipped(BASE_HASH, 7))], False, id="another-trainee-7-bits"),
        pytest.param([(1, BASE_HASH)], False, id="own-selfie-is-not-someone-elses"),
        pytest.param([(3, "ffffffffffffffff"), (2, flipped(BASE_HASH, 2).upper())], True,
                     id="any-of-several-upper-case"),
    ],
)
def test_duplicate_selfie_passed_around_the_class(other_selfies, duplicate):
    mine = ck(1, phash=BASE_HASH)
    assert (Flag.DUPLICATE_SELFIE in flags_for(mine, [], [], other_selfies=other_selfies)) is duplicate


def test_no_selfie_no_selfie_flags():
    """A check-in without a selfie (face consent withdrawn): nothing to compare."""
    earlier = ck(1, at=T0 - timedelta(days=1), session_id=SESSION - 1, phash=BASE_HASH)
    flags = flags_for(ck(1), [ck(2, phash=BASE_HASH)], [earlier], other_selfies=[(3, BASE_HASH)])
    assert flags == []


@pytest.mark.parametrize(
    ("history_hash", "captured", "reused"),
    [
        pytest.param(flipped(BASE_HASH, 6), T0 - timedelta(days=1), True, id="earlier-6-bits"),
        pytest.param(flipped(BASE_HASH, 7), T0 - timedelta(days=1), False, id="earlier-7-bits"),
        pytest.param(BASE_HASH, T0 + timedelta(days=1), False, id="later-identical"),
        pytest.param(BASE_HASH, T0 - timedelta(hours=3), True, id="same-session-sign-in-reused"),
    ],
)
def test_reused_selfie(history_hash, captured, reused):
    mine = ck(1, phash=BASE_HASH)
    history = [ck(1, at=captured, session_id=SESSION - 1, phash=history_hash)]
    flags = flags_for(mine, [], history)
    assert (Flag.REUSED_SELFIE in flags) is reused
    assert Flag.DUPLICATE_SELFIE not in flags  # one's own photo is never someone else's


def test_reused_selfie_orders_by_the_phones_capture_time():
    """An offline check-in that arrives late is still the earlier photo."""
    queued = ck(1, session_id=SESSION - 1, captured_at=T0 - timedelta(hours=2),
                received_at=T0 + timedelta(hours=1), offline=True, phash=BASE_HASH)
    assert Flag.REUSED_SELFIE in flags_for(ck(1, phash=BASE_HASH), [], [queued])


# --- impossible travel ------------------------------------------------------------------------

FAR_KM = 50.0


def trip(speed_kmh: float, metres: float = FAR_KM * 1000) -> tuple[CheckinFacts, CheckinFacts]:
    """Yesterday-style pair: at the site, then `metres` north as fast as `speed_kmh` allows."""
    start = ck(1, session_id=SESSION - 1, at=T0 - timedelta(hours=2))
    elapsed = timedelta(hours=(metres / 1000) / speed_kmh)
    end = at_spot(ck(1, at=start.captured_at + elapsed), north_of(spot_of(1), metres))
    return start, end


@pytest.mark.parametrize(
    ("speed_kmh", "metres", "impossible"),
    [
        pytest.param(119, FAR_KM * 1000, False, id="119-kmh"),
        pytest.param(121, FAR_KM * 1000, True, id="121-kmh"),
        pytest.param(3600, 999, False, id="999m-in-1s-is-jitter"),
        pytest.param(3600, 1001, True, id="1001m-in-1s"),
    ],
)
def test_impossible_travel_from_the_previous_check_in(speed_kmh, metres, impossible):
    start, end = trip(speed_kmh, metres)
    assert (Flag.IMPOSSIBLE_TRAVEL in flags_for(end, [], [start])) is impossible


def test_two_far_places_at_the_same_moment_are_impossible():
    start, end = trip(121)
    end = replace(end, captured_at=start.captured_at, received_at=start.received_at)
    assert Flag.IMPOSSIBLE_TRAVEL in flags_for(end, [], [start])


def test_two_near_places_at_the_same_moment_are_jitter():
    start, end = trip(121, metres=999)
    end = replace(end, captured_at=start.captured_at)
    assert flags_for(end, [], [start]) == []


def test_impossible_travel_to_the_next_check_in():
    """An offline check-in that arrives after a later one is compared with that one too."""
    start, end = trip(121)
    queued = replace(start, offline=True, received_at=end.received_at + timedelta(minutes=1))
    assert Flag.IMPOSSIBLE_TRAVEL in flags_for(queued, [], [end])


def test_only_the_chronological_neighbours_are_compared():
    """Far away a week ago, and back at the site since: the week-old one is not adjacent."""
    far = at_spot(ck(1, session_id=1, at=T0 - timedelta(days=7)), north_of(SITE, 300_000))
    yesterday = ck(1, session_id=SESSION - 1, at=T0 - timedelta(days=1))
    today = replace(ck(1), captured_at=T0, received_at=T0)
    assert flags_for(today, [], [far, yesterday]) == []
    # …whereas a trip home at lunch, 300 km away, 2 hours before, is impossible.
    lunch = at_spot(ck(1, session_id=SESSION - 1, at=T0 - timedelta(hours=2)), north_of(SITE, 300_000))
    assert flags_for(today, [], [far, yesterday, lunch]) == [Flag.IMPOSSIBLE_TRAVEL]


def test_own_history_order_does_not_matter():
    start, end = trip(121)
    later = ck(1, session_id=SESSION + 1, at=end.captured_at + timedelta(days=1))
    history = [later, start]
    assert flags_for(end, [], history) == flags_for(end, [], history[::-1]) == [Flag.IMPOSSIBLE_TRAVEL]


# --- the list itself --------------------------------------------------------------------------


def test_flags_come_in_declaration_order_without_duplicates():
    shared = ck(2, device_id="phone-1", phash=BASE_HASH)
    crowd = [at_spot(shared, spot_of(1)), at_spot(ck(3, phash=flipped(BASE_HASH, 1)), spot_of(1))]
    earlier_far, _ = trip(121)
    earlier_far = at_spot(replace(earlier_far, phash=BASE_HASH, captured_at=T0 - timedelta(minutes=30)),
                          north_of(SITE, 200_000))
    mine = ck(1, placement="outside", accuracy_m=400.0, captured_at=T0 + timedelta(minutes=10),
              phash=BASE_HASH)
    flags = flags_for(mine, crowd, [earlier_far], other_selfies=[(2, BASE_HASH), (4, BASE_HASH)])
    assert flags == [
        Flag.OUTSIDE_FENCE, Flag.POOR_ACCURACY, Flag.CLOCK_SKEW, Flag.SHARED_DEVICE, Flag.DUPLICATE_SELFIE,
        Flag.REUSED_SELFIE, Flag.IMPOSSIBLE_TRAVEL, Flag.CROWDED_COORDINATES,
    ]
    assert len(flags) == len(set(flags))
    assert [f for f in Flag if f in flags] == flags


def test_the_check_in_itself_is_left_out_when_listed():
    """Re-judging a stored check-in: finding itself in the lists is not a duplicate or a crowd."""
    stored = ck(1, key=41, phash=BASE_HASH)
    crowd = [at_spot(ck(2), spot_of(1))]
    assert flags_for(stored, [stored, *crowd], [stored]) == []


# --- the class-wide recompute ----------------------------------------------------------------


def test_recompute_flags_both_trainees_sharing_a_device():
    flags = recompute([ck(1, key="a", device_id="x"), ck(2, key="b", device_id="x"), ck(3, key="c")])
    assert flags == {"a": [Flag.SHARED_DEVICE], "b": [Flag.SHARED_DEVICE], "c": []}


def test_recompute_does_not_call_a_device_shared_across_sessions():
    flags = recompute([ck(1, key="a", device_id="x"), ck(2, key="b", device_id="x", session_id=SESSION + 1)])
    assert flags == {"a": [], "b": []}


def test_recompute_flags_both_near_identical_selfies_across_sessions():
    flags = recompute([
        ck(1, key="a", phash=BASE_HASH),
        ck(2, key="b", session_id=SESSION + 1, at=T0 + timedelta(days=1), phash=flipped(BASE_HASH, 6)),
        ck(3, key="c", phash=flipped(BASE_HASH, 7, high=True)),  # 7 from a, 13 from b
    ])
    assert flags == {"a": [Flag.DUPLICATE_SELFIE], "b": [Flag.DUPLICATE_SELFIE], "c": []}


@pytest.mark.parametrize("reverse", [False, True], ids=["given-in-order", "given-reversed"])
def test_recompute_flags_the_later_of_two_own_selfies(reverse):
    checkins = [
        ck(1, key="monday", phash=BASE_HASH),
        ck(1, key="tuesday", session_id=SESSION + 1, at=T0 + timedelta(days=1), phash=flipped(BASE_HASH, 3)),
    ]
    flags = recompute(checkins[::-1] if reverse else checkins)
    assert flags == {"monday": [], "tuesday": [Flag.REUSED_SELFIE]}


@pytest.mark.parametrize("reverse", [False, True], ids=["given-in-order", "given-reversed"])
def test_recompute_flags_the_later_of_an_impossible_trip(reverse):
    start, end = trip(121)
    checkins = [replace(start, key="there"), replace(end, key="back")]
    flags = recompute(checkins[::-1] if reverse else checkins)
    assert flags == {"there": [], "back": [Flag.IMPOSSIBLE_TRAVEL]}


def test_recompute_flags_every_trainee_of_a_crowd():
    same = [at_spot(ck(t, key=t), spot_of(1)) for t in (1, 2, 3)]
    assert recompute([*same, ck(4, key=4)]) == {1: [Flag.CROWDED_COORDINATES], 2: [Flag.CROWDED_COORDINATES],
                                                 3: [Flag.CROWDED_COORDINATES], 4: []}


def test_recompute_keeps_the_flags_a_check_in_earns_on_its_own():
    queued = ck(1, key="a", placement="uncertain", offline=True, captured_at=T0 - timedelta(hours=1))
    flags = recompute([queued])
    assert flags == {"a": [Flag.UNCERTAIN_POSITION, Flag.LATE_SUBMISSION]}


def test_recompute_of_nothing_is_nothing():
    assert recompute([]) == {}


def test_recompute_needs_unique_keys():
    with pytest.raises(ValueError, match="key"):
        recompute([ck(1, key=7), ck(2, key=7)])


def random_class(seed: int, trainees: int = 16, sessions: int = 8) -> list[CheckinFacts]:
    """A class where every kind of coincidence happens: a few phones passed around, photos that
    are variations of a few originals, seats shared exactly, and occasional trips far away."""
    rng = random.Random(seed)
    originals = [f"{rng.getrandbits(64):016x}" for _ in range(4)]
    seats = [spot_of(100 + i) for i in range(2)]
    checkins = []
    for session in range(sessions):
        start = T0 + timedelta(days=session // 2, hours=2 * (session % 2))
        for trainee in range(1, trainees + 1):
            if rng.random() < 0.2:
                continue  # absent
            captured = start + timedelta(seconds=rng.randint(-1800, 900))
            phash = None if rng.random() < 0.1 else flipped(rng.choice(originals), rng.randint(0, 12))
            if rng.random() < 0.35:
                position = rng.choice(seats)
            elif rng.random() < 0.1:
                position = north_of(SITE, rng.choice([rng.uniform(500, 1500), rng.uniform(300_000, 800_000)]))
            else:
                position = spot_of(trainee)
            checkins.append(CheckinFacts(
                key=(session, trainee), trainee_id=trainee, session_id=session,
                received_at=captured + timedelta(seconds=rng.choice([0, 5, 400, 3600])),
                captured_at=captured, offline=rng.random() < 0.2,
                device_id=rng.choice([f"phone-{trainee}"] * 5 + ["shared-1", "shared-2", ""]),
                latitude=position[0], longitude=position[1], accuracy_m=rng.choice([10.0, 80.0, 150.0]),
                placement=rng.choice(["inside"] * 6 + ["outside", "uncertain"]), phash=phash,
            ))
    rng.shuffle(checkins)
    return checkins


@pytest.mark.parametrize("seed", [1, 2, 3, 2026], ids=lambda s: f"seed-{s}")
def test_recompute_agrees_with_judging_each_check_in_against_all_the_others(seed):
    """The grouped, indexed recompute and the plain one-at-a-time rules give the same flags;
    for travel, recompute flags only the later of a pair, so its flags are a subset."""
    checkins = random_class(seed)
    recomputed = recompute(checkins)
    seen = set()
    for c in checkins:
        others = [o for o in checkins if o is not c]
        one = flags_for(
            c,
            [o for o in others if o.session_id == c.session_id],
            [o for o in others if o.trainee_id == c.trainee_id],
            other_selfies=[(o.trainee_id, o.phash) for o in others if o.phash is not None],
        )
        travel = Flag.IMPOSSIBLE_TRAVEL
        assert [f for f in recomputed[c.key] if f is not travel] == [f for f in one if f is not travel]
        assert travel not in recomputed[c.key] or travel in one
        seen.update(recomputed[c.key])
    # The class is rich enough to exercise every rule.
    assert seen == set(Flag)


def test_recompute_covers_a_large_class():
    """200 trainees × 60 sessions, many photos alike: every check-in gets its flags (the time it
    takes is measured in bench/, not asserted here)."""
    rng = random.Random(7)
    originals = [f"{rng.getrandbits(64):016x}" for _ in range(50)]
    checkins = [
        ck(t, key=(s, t), session_id=s, at=T0 + timedelta(hours=4 * s),
           phash=flipped(rng.choice(originals), rng.randint(0, 10)))
        for s in range(60) for t in range(1, 201)
    ]
    flags = recompute(checkins)
    assert len(flags) == 12_000
    assert sum(Flag.DUPLICATE_SELFIE in found for found in flags.values()) > 0


# --- perceptual hashes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        pytest.param(BASE_HASH, BASE_HASH, 0, id="same"),
        pytest.param(BASE_HASH, BASE_HASH.upper(), 0, id="case-insensitive"),
        pytest.param("0000000000000000", "ffffffffffffffff", 64, id="opposite"),
        pytest.param(BASE_HASH, flipped(BASE_HASH, 7), 7, id="seven-bits"),
        pytest.param("8000000000000000", "0000000000000001", 2, id="first-and-last-bit"),
    ],
)
def test_phash_distance(a, b, distance):
    assert phash_distance(a, b) == distance == phash_distance(b, a)


@pytest.mark.parametrize(
    "bad",
    [pytest.param("0f0f0f0f0f0f0f0", id="15-chars"), pytest.param("0f0f0f0f0f0f0f0f0", id="17-chars"),
     pytest.param("0f0f0f0f0f0f0f0g", id="not-hex"),
     pytest.param("0f0f0f0f0f0f0f0f\n", id="trailing-newline"), pytest.param("", id="empty")],
)
def test_phash_distance_refuses_what_is_not_a_64_bit_hash(bad):
    with pytest.raises(ValueError, match="16 hexadecimal"):
        phash_distance(BASE_HASH, bad)


# --- strict facts -----------------------------------------------------------------------------

NAIVE = datetime(2026, 3, 2, 8, 30)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        pytest.param({"received_at": NAIVE}, "timezone-aware", id="naive-received-at"),
        pytest.param({"captured_at": NAIVE}, "timezone-aware", id="naive-captured-at"),
        pytest.param({"captured_at": "2026-03-02T08:30:00+08:00"}, "datetime", id="string-time"),
        pytest.param({"placement": "nearby"}, "placement", id="unknown-placement"),
        pytest.param({"phash": "not-a-hash"}, "16 hexadecimal", id="bad-phash"),
        pytest.param({"latitude": 113.21, "longitude": 36.11 + 180}, "WGS-84", id="latitude-out-of-range"),
        pytest.param({"longitude": float("nan")}, "WGS-84", id="longitude-nan"),
        pytest.param({"accuracy_m": -1.0}, "accuracy_m", id="negative-accuracy"),
        pytest.param({"accuracy_m": float("inf")}, "accuracy_m", id="infinite-accuracy"),
    ],
)
def test_check_in_facts_are_refused_when_wrong(changes, says):
    with pytest.raises(ValueError, match=says):
        ck(**changes)


@pytest.mark.parametrize(
    "changes",
    [pytest.param({"crowd_size": 1}, id="crowd-of-one"),
     pytest.param({"phash_max_distance": 64}, id="phash-64"),
     pytest.param({"phash_max_distance": -1}, id="phash-negative"),
     pytest.param({"clock_skew_s": -1}, id="negative-skew"),
     pytest.param({"max_speed_kmh": float("nan")}, id="nan-speed")],
)
def test_thresholds_are_refused_when_meaningless(changes):
    with pytest.raises(ValueError, match="Thresholds"):
        Thresholds(**changes)


# --- windows ----------------------------------------------------------------------------------

STARTS = datetime(2026, 3, 2, 8, 30, tzinfo=CST)
ENDS = datetime(2026, 3, 2, 11, 30, tzinfo=CST)
CHECKIN = window(STARTS, ENDS, 30, 15)
SECOND = timedelta(seconds=1)
TWELVE_HOURS = 12 * 3600


def test_the_check_in_window_runs_from_before_the_start_to_after_it():
    expected = Window(datetime(2026, 3, 2, 8, 0, tzinfo=CST), datetime(2026, 3, 2, 8, 45, tzinfo=CST))
    assert expected == CHECKIN


def test_the_check_in_window_never_outlasts_the_session():
    short = window(STARTS, STARTS + timedelta(minutes=10), 30, 15)
    assert short.closes == STARTS + timedelta(minutes=10)


def test_the_sign_out_window_is_around_the_end():
    assert signout_window(ENDS, 10, 30) == Window(datetime(2026, 3, 2, 11, 20, tzinfo=CST),
                                                  datetime(2026, 3, 2, 12, 0, tzinfo=CST))


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: window(NAIVE, ENDS, 30, 15), id="window-naive-start"),
        pytest.param(lambda: window(STARTS, NAIVE.replace(hour=11), 30, 15), id="window-naive-end"),
        pytest.param(lambda: signout_window(NAIVE, 10, 30), id="signout-naive-end"),
        pytest.param(lambda: Window(NAIVE, ENDS), id="window-naive-opens"),
        pytest.param(lambda: Window(STARTS, NAIVE.replace(hour=11)), id="window-naive-closes"),
        pytest.param(lambda: accepted_time(CHECKIN, NAIVE, STARTS, False, TWELVE_HOURS), id="naive-received"),
        pytest.param(lambda: accepted_time(CHECKIN, STARTS, NAIVE, True, TWELVE_HOURS), id="naive-captured"),
    ],
)
def test_naive_times_are_refused(call):
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: window(STARTS, STARTS, 30, 15), id="session-of-no-time"),
        pytest.param(lambda: window(STARTS, ENDS, -1, 15), id="negative-before"),
        pytest.param(lambda: window(STARTS, ENDS, 30, 1.5), id="fractional-after"),
        pytest.param(lambda: signout_window(ENDS, 10, -30), id="negative-after"),
        pytest.param(lambda: Window(ENDS, STARTS), id="closes-before-opens"),
        pytest.param(lambda: accepted_time(CHECKIN, STARTS, STARTS, True, -1), id="negative-max-offline"),
    ],
)
def test_meaningless_windows_are_refused(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize(
    "received",
    [
        pytest.param(CHECKIN.opens, id="exactly-at-opens"),
        pytest.param(STARTS, id="at-the-start"),
        pytest.param(CHECKIN.closes, id="exactly-at-closes"),
        pytest.param(CHECKIN.closes.astimezone(UTC), id="at-closes-in-utc"),
    ],
)
def test_received_inside_the_window_counts_when_received(received):
    phone = received - timedelta(minutes=3)  # the phone's clock never moves it
    assert accepted_time(CHECKIN, received, phone, False, TWELVE_HOURS) == received
    assert accepted_time(CHECKIN, received, phone, True, TWELVE_HOURS) == received


@pytest.mark.parametrize(
    ("received", "captured", "offline", "reason"),
    [
        pytest.param(CHECKIN.opens - SECOND, CHECKIN.opens - SECOND, False, "early", id="1s-before-opens"),
        pytest.param(CHECKIN.opens - SECOND, CHECKIN.opens, True, "early", id="offline-1s-before-opens"),
        pytest.param(CHECKIN.closes + SECOND, CHECKIN.closes + SECOND, False, "late", id="1s-after-closes"),
        pytest.param(CHECKIN.closes + SECOND, CHECKIN.closes, False, "late",
                     id="not-offline-captured-inside-refused-after-close"),
        pytest.param(CHECKIN.closes + timedelta(hours=1), CHECKIN.opens - SECOND, True,
                     "captured_outside_window", id="offline-captured-before-opens"),
        pytest.param(CHECKIN.closes + timedelta(hours=1), CHECKIN.closes + SECOND, True,
                     "captured_outside_window", id="offline-captured-after-closes"),
        pytest.param(CHECKIN.closes + timedelta(seconds=TWELVE_HOURS + 1), CHECKIN.closes, True,
                     "offline_too_long", id="offline-12h-and-1s"),
    ],
)
def test_outside_the_window_is_refused_with_the_window(received, captured, offline, reason):
    with pytest.raises(WindowRefused) as refused:
        accepted_time(CHECKIN, received, captured, offline, TWELVE_HOURS)
    assert isinstance(refused.value, ValidationFailed)
    assert refused.value.code == "CHECKIN_OUTSIDE_WINDOW"
    assert refused.value.details == {
        "opens": "2026-03-02T08:00:00+08:00", "closes": "2026-03-02T08:45:00+08:00", "reason": reason,
    }


@pytest.mark.parametrize(
    ("captured", "received"),
    [
        pytest.param(CHECKIN.opens, CHECKIN.closes + SECOND, id="captured-at-opens"),
        pytest.param(STARTS, STARTS + timedelta(hours=5), id="captured-at-start-5h-later"),
        pytest.param(CHECKIN.closes, CHECKIN.closes + timedelta(seconds=TWELVE_HOURS),
                     id="exactly-12h-later"),
    ],
)
def test_a_check_in_queued_offline_counts_when_it_was_taken(captured, received):
    assert accepted_time(CHECKIN, received, captured, True, TWELVE_HOURS) == captured


def test_a_late_offline_check_in_is_accepted_and_flagged_late_not_skewed():
    captured, received = STARTS + timedelta(minutes=5), STARTS + timedelta(hours=3)
    counted = accepted_time(CHECKIN, received, captured, True, TWELVE_HOURS)
    assert counted == captured
    facts = ck(received_at=received.astimezone(UTC), captured_at=captured, offline=True)
    assert flags_for(facts, [], []) == [Flag.LATE_SUBMISSION]
