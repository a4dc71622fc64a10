"""Check-in geofences: datum conversion (GCJ-02 / BD-09 → WGS-84), the INSIDE / OUTSIDE /
UNCERTAIN rule, and validation of the fix a phone sends."""

from __future__ import annotations

import math
import warnings
from decimal import Decimal

import pytest
from geopy.distance import geodesic

from server.domain.errors import ValidationFailed
from server.domain.geofence import (
    DATUM_LABELS,
    Datum,
    Fence,
    Fix,
    InvalidAccuracy,
    InvalidCoordinates,
    Located,
    Placement,
    accuracy_too_poor,
    check_fix,
    from_wgs84,
    locate,
    to_wgs84,
)

# Real places in Shanxi, WGS-84 (latitude, longitude).
SHANXI = {
    "huguan-壶关县": (36.11, 113.21),
    "lin-county-临县": (37.95, 110.99),
    "wenshui-文水县": (37.44, 112.03),
    "taiyuan-太原市": (37.87, 112.55),
    "xinzhou-忻州市": (38.42, 112.73),
}
POINTS = [pytest.param(point, id=name) for name, point in SHANXI.items()]
OBFUSCATED = [pytest.param(Datum.GCJ02, id="gcj02"), pytest.param(Datum.BD09, id="bd09")]
ALL_DATUMS = [pytest.param(datum, id=datum.value) for datum in Datum]

HUGUAN = SHANXI["huguan-壶关县"]
PARIS = (48.8566, 2.3522)


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return geodesic(a, b).meters


def at(origin: tuple[float, float], distance_m: float, bearing: float) -> tuple[float, float]:
    """The point `distance_m` metres from `origin` on `bearing` (degrees from north), WGS-84."""
    point = geodesic(meters=distance_m).destination(origin, bearing)
    return point.latitude, point.longitude


# ---------------------------------------------------------------------------------------------
# Datums


def test_every_datum_has_a_chinese_label():
    assert set(DATUM_LABELS) == set(Datum)
    assert all(label.strip() for label in DATUM_LABELS.values())


@pytest.mark.parametrize("datum", ALL_DATUMS)
@pytest.mark.parametrize("point", POINTS)
def test_round_trip_returns_the_same_spot(point, datum):
    back = to_wgs84(*from_wgs84(*point, datum), datum)
    assert metres(point, back) < 0.5


@pytest.mark.parametrize("point", POINTS)
def test_wgs84_is_the_identity(point):
    assert to_wgs84(*point, Datum.WGS84) == point
    assert from_wgs84(*point, Datum.WGS84) == point


@pytest.mark.parametrize("datum", OBFUSCATED)
@pytest.mark.parametrize("point", POINTS)
def test_a_typed_site_round_trips_too(point, datum):
    """The other way round: a site typed from a map, converted to WGS-84 and shown again."""
    typed = at(point, 300, 60)
    assert metres(typed, from_wgs84(*to_wgs84(*typed, datum), datum)) < 0.5


@pytest.mark.parametrize(("datum", "low_m", "high_m"), [
    pytest.param(Datum.GCJ02, 500, 600, id="gcj02-500-600m"),
    pytest.param(Datum.BD09, 1200, 1400, id="bd09-1.2-1.4km"),
])
@pytest.mark.parametrize("point", POINTS)
def test_offsets_in_shanxi_are_what_make_a_naive_fence_fail(point, datum, low_m, high_m):
    offset = metres(point, from_wgs84(*point, datum))
    assert low_m <= offset <= high_m


# Published test vectors of googollee/eviltransform (python/test.py, TESTS): WGS-84 → GCJ-02.
# prcoords ships no test data of its own. Its README warns that eviltransform's BD-09 parameters
# are wrong, so only the GCJ-02 pairs are used here.
@pytest.mark.parametrize(("wgs", "gcj"), [
    pytest.param((31.1774276, 121.5272106), (31.17530398364597, 121.531541859215), id="shanghai"),
    pytest.param((22.543847, 113.912316), (22.540796131694766, 113.9171764808363), id="shenzhen"),
    pytest.param((39.911954, 116.377817), (39.91334545536069, 116.38404722455657), id="beijing"),
])
def test_published_gcj02_reference_pairs(wgs, gcj):
    assert from_wgs84(*wgs, Datum.GCJ02) == pytest.approx(gcj, abs=1e-9)
    assert metres(to_wgs84(*gcj, Datum.GCJ02), wgs) < 0.5


def test_outside_china_gcj02_is_wgs84_and_nothing_warns():
    """prcoords' forward transform warns on a foreign point, and its precise inverse would shift
    one by the Chinese offset. The module checks the rectangle itself, so neither happens."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert to_wgs84(*PARIS, Datum.GCJ02) == PARIS
        assert from_wgs84(*PARIS, Datum.GCJ02) == PARIS
        back = to_wgs84(*from_wgs84(*PARIS, Datum.BD09), Datum.BD09)
    assert metres(PARIS, back) < 0.5


def test_datum_may_be_given_as_its_stored_string():
    assert to_wgs84(*HUGUAN, "gcj02") == to_wgs84(*HUGUAN, Datum.GCJ02)
    with pytest.raises(ValueError):
        to_wgs84(*HUGUAN, "cgcs2000")


# ---------------------------------------------------------------------------------------------
# The rule


RADIUS = 200.0
FENCE = Fence(*HUGUAN, radius_m=RADIUS)


@pytest.mark.parametrize(("distance_m", "bearing", "accuracy_m", "expected"), [
    pytest.param(0, 0, 10, Placement.INSIDE, id="centre-acc10-inside"),
    pytest.param(150, 30, 30, Placement.INSIDE, id="d150-acc30-inside-180le200"),
    pytest.param(190, 100, 20, Placement.UNCERTAIN, id="d190-acc20-uncertain-straddles"),
    pytest.param(250, 200, 40, Placement.OUTSIDE, id="d250-acc40-outside-210gt200"),
    pytest.param(230, 290, 40, Placement.UNCERTAIN, id="d230-acc40-uncertain-190le200"),
    pytest.param(RADIUS + 0.01, 45, 0, Placement.OUTSIDE, id="just-over-r-acc0-outside"),
    pytest.param(120, 0, 500, Placement.UNCERTAIN, id="vague-fix-near-centre-uncertain"),
    pytest.param(5000, 180, 500, Placement.OUTSIDE, id="vague-fix-far-away-outside"),
])
def test_locate_table(distance_m, bearing, accuracy_m, expected):
    fix = Fix(*at(HUGUAN, distance_m, bearing), accuracy_m=accuracy_m)
    located = locate(FENCE, fix)
    assert located == Located(distance_m=pytest.approx(distance_m, abs=1e-6), placement=expected,
                              accuracy_m=accuracy_m)


def test_exactly_on_the_edge_with_accuracy_zero_is_inside():
    spot = at(HUGUAN, RADIUS, 45)
    edge = metres(HUGUAN, spot)  # the radius is the measured distance, so d == r exactly
    assert locate(Fence(*HUGUAN, radius_m=edge), Fix(*spot, 0)).placement is Placement.INSIDE


def test_circle_touching_the_edge_from_inside_is_inside():
    spot = at(HUGUAN, 170, 10)
    d = metres(HUGUAN, spot)
    assert locate(Fence(*HUGUAN, radius_m=d + 30), Fix(*spot, 30)).placement is Placement.INSIDE


def test_circle_touching_the_edge_from_outside_is_still_uncertain():
    spot = at(HUGUAN, 240, 10)
    d = metres(HUGUAN, spot)
    assert locate(Fence(*HUGUAN, radius_m=d - 40), Fix(*spot, 40)).placement is Placement.UNCERTAIN


# ---------------------------------------------------------------------------------------------
# The whole point: the site typed from a Chinese map, the trainee standing at the real spot


@pytest.mark.parametrize("datum", OBFUSCATED)
@pytest.mark.parametrize("real_spot", POINTS)
def test_honest_trainee_is_inside_only_when_the_site_datum_is_honoured(real_spot, datum):
    typed = from_wgs84(*real_spot, datum)  # what the institution picked on Amap / Baidu
    trainee = check_fix(*real_spot, 15)  # the phone's GPS at the real spot

    converted = Fence(*to_wgs84(*typed, datum), radius_m=RADIUS)
    assert locate(converted, trainee).placement is Placement.INSIDE

    naive = Fence(*typed, radius_m=RADIUS)  # the site wrongly taken as WGS-84
    assert locate(naive, trainee).placement is Placement.OUTSIDE


@pytest.mark.parametrize("datum", OBFUSCATED)
@pytest.mark.parametrize("bearing", [0, 90, 180, 270])
def test_trainee_anywhere_in_the_fence_is_inside_after_conversion(datum, bearing):
    typed = from_wgs84(*HUGUAN, datum)
    fence = Fence(*to_wgs84(*typed, datum), radius_m=RADIUS)
    trainee = Fix(*at(HUGUAN, 150, bearing), accuracy_m=15)
    assert locate(fence, trainee).placement is Placement.INSIDE


# ---------------------------------------------------------------------------------------------
# Accuracy limit


@pytest.mark.parametrize(("accuracy_m", "limit_m", "too_poor"), [
    pytest.param(10, 50, False, id="good"),
    pytest.param(50, 50, False, id="at-limit-passes"),
    pytest.param(50.01, 50, True, id="just-over-limit"),
    pytest.param(0, 0, False, id="zero-at-zero"),
    pytest.param(1500, 100, True, id="cell-tower-fix"),
])
def test_accuracy_too_poor(accuracy_m, limit_m, too_poor):
    assert accuracy_too_poor(Fix(*HUGUAN, accuracy_m), limit_m) is too_poor


# ---------------------------------------------------------------------------------------------
# Validating what the phone sent


class Opaque:
    pass


@pytest.mark.parametrize(("latitude", "longitude"), [
    pytest.param(math.nan, 113.21, id="lat-nan"),
    pytest.param(36.11, math.nan, id="lng-nan"),
    pytest.param(math.inf, 113.21, id="lat-inf"),
    pytest.param(36.11, -math.inf, id="lng-minus-inf"),
    pytest.param(None, 113.21, id="lat-none"),
    pytest.param(36.11, None, id="lng-none"),
    pytest.param("36.11", 113.21, id="lat-string"),
    pytest.param(36.11, "113.21", id="lng-string"),
    pytest.param("", "", id="empty-strings"),
    pytest.param(True, 113.21, id="lat-bool"),
    pytest.param([36.11], 113.21, id="lat-list"),
    pytest.param(Opaque(), 113.21, id="lat-object"),
    pytest.param(10**400, 113.21, id="lat-int-too-big-for-float"),
    pytest.param(Decimal("NaN"), 113.21, id="lat-decimal-nan"),
    pytest.param(Decimal("sNaN"), 113.21, id="lat-decimal-snan"),
    pytest.param(90.000001, 113.21, id="lat-over-90"),
    pytest.param(-90.5, 113.21, id="lat-under-minus-90"),
    pytest.param(36.11, 180.5, id="lng-over-180"),
    pytest.param(36.11, -181, id="lng-under-minus-180"),
    pytest.param(113.21, 36.11, id="swapped-lat-over-90"),
    pytest.param(0, 0, id="null-island-int"),
    pytest.param(0.0, -0.0, id="null-island-float"),
])
def test_bad_coordinates_are_refused(latitude, longitude):
    with pytest.raises(InvalidCoordinates) as caught:
        check_fix(latitude, longitude, 15)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.code == "INVALID_COORDINATES"
    assert caught.value.message
    assert caught.value.details["field"] in {"latitude", "longitude"}


@pytest.mark.parametrize("accuracy_m", [
    pytest.param(-1, id="negative"),
    pytest.param(-0.001, id="slightly-negative"),
    pytest.param(math.nan, id="nan"),
    pytest.param(math.inf, id="inf"),
    pytest.param(None, id="none"),
    pytest.param("15", id="string"),
    pytest.param(False, id="bool"),
    pytest.param(10**400, id="int-too-big-for-float"),
])
def test_bad_accuracy_is_refused(accuracy_m):
    with pytest.raises(InvalidAccuracy) as caught:
        check_fix(*HUGUAN, accuracy_m)
    assert isinstance(caught.value, ValidationFailed)
    assert caught.value.code == "INVALID_ACCURACY"
    assert caught.value.message
    assert caught.value.details == {"field": "accuracy_m"}


@pytest.mark.parametrize(("latitude", "longitude", "accuracy_m"), [
    pytest.param(36.11, 113.21, 15, id="ordinary"),
    pytest.param(36, 113, 0, id="ints-and-accuracy-zero"),
    pytest.param(90, 180, 5, id="upper-bounds"),
    pytest.param(-90, -180, 5, id="lower-bounds"),
    pytest.param(0, 113.21, 5, id="equator-not-null-island"),
    pytest.param(36.11, 0, 5, id="greenwich-not-null-island"),
    pytest.param(Decimal("36.11"), Decimal("113.21"), Decimal("15.5"), id="decimals"),
    pytest.param(36.11, 113.21, 25_000.0, id="huge-accuracy-is-policys-business"),
])
def test_good_fixes_pass_as_floats(latitude, longitude, accuracy_m):
    fix = check_fix(latitude, longitude, accuracy_m)
    assert fix == Fix(float(latitude), float(longitude), float(accuracy_m))
    assert all(type(value) is float for value in (fix.latitude, fix.longitude, fix.accuracy_m))
