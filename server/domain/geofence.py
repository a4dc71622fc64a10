"""Check-in geofences (签到电子围栏): is the trainee's phone at the class site?

Trainees check in by phone at every training session, and the server compares the phone's
position with the class site's fence, a circle of `radius_m` metres around the site.

Datums (坐标系). Phones' GPS and browsers report WGS-84. Site positions, though, are
usually picked on Chinese web maps, and those show obfuscated coordinates: GCJ-02 (高德、腾讯地图)
or BD-09 (百度地图). In Shanxi GCJ-02 lies about 530–590 m from WGS-84 and BD-09 about
1.3–1.4 km, more than any sensible fence radius. Measured naively, every honest trainee would be
refused. So a site is stored with the datum it was typed in, and converted to WGS-84
(`to_wgs84`) before it becomes a `Fence`. The conversions are prcoords' (public domain). GCJ-02 →
WGS-84 uses its precise iterative inverse: a round trip returns within millimetres in Shanxi.

prcoords decides "in China" with a rough rectangle (lat 0.83–55.83, lng 72.00–137.83). Outside
that rectangle GCJ-02 equals WGS-84. Its forward transform handles this but warns. Its precise
inverses ignore the check, so they would shift a foreign point by the Chinese offset. We
therefore make that check ourselves. BD-09's own shift is applied everywhere, as prcoords does.

The rule (`locate`). Let d be the geodesic distance in metres on the WGS-84 ellipsoid
(geopy.distance.geodesic) between the fix and the fence centre, r the fence radius, and a the
accuracy the phone reports (the radius of its confidence circle around the fix):

    INSIDE     when d + a ≤ r   (the whole accuracy circle lies in the fence)
    OUTSIDE    when d − a > r   (the whole accuracy circle lies outside the fence)
    UNCERTAIN  otherwise        (the circle straddles the fence's edge)

A fix exactly on the edge with a = 0 is INSIDE. The rule takes `a` exactly as the phone
reports it. Android defines it as the 68 % circle (one standard deviation), and iOS's figure is
about the same. The W3C Geolocation API (browsers, H5 pages inside apps) defines a 95 % circle,
so a browser fix gets a wider, more cautious circle. The rule stays the same either way.

What UNCERTAIN means (accept, ask again, or refer to a person) is policy, not geometry, and
lives elsewhere. So does the limit above which a fix is too vague to judge at all. This module
only gives that policy `accuracy_too_poor`.

`check_fix` validates what the phone sent. It rejects (0, 0) ("null island"), which some phones
report when they have no fix at all: a place in the Gulf of Guinea is never a Shanxi classroom.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

import prcoords
from geopy.distance import geodesic

from server.domain.errors import ValidationFailed


class Datum(StrEnum):
    WGS84 = "wgs84"  # GPS、手机定位；天地图（CGCS2000，与 WGS-84 相差厘米级）
    GCJ02 = "gcj02"  # 国测局坐标（"火星坐标"）：高德、腾讯地图
    BD09 = "bd09"  # 百度坐标：在 GCJ-02 上再加偏移


DATUM_LABELS = {
    Datum.WGS84: "WGS-84（GPS 定位、天地图）",
    Datum.GCJ02: "GCJ-02（高德地图、腾讯地图）",
    Datum.BD09: "BD-09（百度地图）",
}


class Placement(StrEnum):
    INSIDE = "inside"  # 在打卡范围内
    OUTSIDE = "outside"  # 在打卡范围外
    UNCERTAIN = "uncertain"  # 定位误差圈跨越围栏边界，无法判定


@dataclass(frozen=True)
class Fence:
    """A class site's check-in circle, centre in WGS-84 (convert with `to_wgs84` first)."""

    latitude: float
    longitude: float
    radius_m: float


@dataclass(frozen=True)
class Fix:
    """A position as the phone reported it: WGS-84, with its accuracy radius in metres."""

    latitude: float
    longitude: float
    accuracy_m: float


@dataclass(frozen=True)
class Located:
    """Where a fix stands relative to a fence. `accuracy_m` is the fix's, kept for the record."""

    distance_m: float
    placement: Placement
    accuracy_m: float


class InvalidCoordinates(ValidationFailed):
    code = "INVALID_COORDINATES"
    message = "定位坐标无效，请开启定位后重试"


class InvalidAccuracy(ValidationFailed):
    code = "INVALID_ACCURACY"
    message = "定位精度无效，请重新定位"


# ---------------------------------------------------------------------------------------------
# Datum conversion


def _in_china(latitude: float, longitude: float) -> bool:
    """prcoords' own rectangle. It is checked here so that prcoords is never asked about a
    foreign point: its forward transform would warn, and its inverses would shift it."""
    return prcoords.sanity_in_china_p(prcoords.Coords(latitude, longitude))


def _pair(coords: prcoords.Coords) -> tuple[float, float]:
    return float(coords.lat), float(coords.lon)


def _wgs_to_gcj(latitude: float, longitude: float) -> tuple[float, float]:
    if not _in_china(latitude, longitude):
        return latitude, longitude
    return _pair(prcoords.wgs_gcj(prcoords.Coords(latitude, longitude), False))


def _gcj_to_wgs(latitude: float, longitude: float) -> tuple[float, float]:
    if not _in_china(latitude, longitude):
        return latitude, longitude
    return _pair(prcoords.gcj_wgs_bored(prcoords.Coords(latitude, longitude)))


def to_wgs84(latitude: float, longitude: float, datum: Datum) -> tuple[float, float]:
    """(latitude, longitude) typed in `datum`, as WGS-84. Uses the precise (iterative) inverses."""
    datum = Datum(datum)
    if datum is Datum.WGS84:
        return float(latitude), float(longitude)
    if datum is Datum.BD09:
        latitude, longitude = _pair(prcoords.bd_gcj_bored(prcoords.Coords(latitude, longitude)))
    return _gcj_to_wgs(float(latitude), float(longitude))


def from_wgs84(latitude: float, longitude: float, datum: Datum) -> tuple[float, float]:
    """A WGS-84 position as a map in `datum` would show it. For tests and demonstration data:
    the application itself only ever converts towards WGS-84."""
    datum = Datum(datum)
    if datum is Datum.WGS84:
        return float(latitude), float(longitude)
    gcj = _wgs_to_gcj(float(latitude), float(longitude))
    if datum is Datum.GCJ02:
        return gcj
    return _pair(prcoords.gcj_bd(prcoords.Coords(*gcj)))


# ---------------------------------------------------------------------------------------------
# Fixes and fences


def _finite(value: object) -> float | None:
    """`value` as a finite float, or None when it is not a number (bool, str, None, …) or is
    NaN or infinite. JSON can only carry a number or a string here, and a string is refused:
    a client that sends "37.8" has a bug worth seeing."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | Decimal):
        return None
    try:
        number = float(value)
    except (ValueError, OverflowError):  # Decimal("sNaN"); an int too large for a float
        return None
    return number if math.isfinite(number) else None


def check_fix(latitude: object, longitude: object, accuracy_m: object) -> Fix:
    """The fix the phone sent, validated. Raises InvalidCoordinates or InvalidAccuracy."""
    lat, lng = _finite(latitude), _finite(longitude)
    if lat is None or not -90 <= lat <= 90:
        raise InvalidCoordinates(details={"field": "latitude"})
    if lng is None or not -180 <= lng <= 180:
        raise InvalidCoordinates(details={"field": "longitude"})
    if lat == 0 and lng == 0:
        raise InvalidCoordinates("未能获取定位（坐标为 0,0），请到开阔处重新定位",
                                 details={"field": "latitude"})
    accuracy = _finite(accuracy_m)
    if accuracy is None or accuracy < 0:  # iOS reports a negative accuracy for an invalid fix
        raise InvalidAccuracy(details={"field": "accuracy_m"})
    return Fix(lat, lng, accuracy)


def locate(fence: Fence, fix: Fix) -> Located:
    """Where `fix` stands relative to `fence`, by the rule in the module docstring."""
    d = geodesic((fence.latitude, fence.longitude), (fix.latitude, fix.longitude)).meters
    r, a = fence.radius_m, fix.accuracy_m
    if d + a <= r:
        placement = Placement.INSIDE
    elif d - a > r:
        placement = Placement.OUTSIDE
    else:
        placement = Placement.UNCERTAIN
    return Located(distance_m=d, placement=placement, accuracy_m=a)


def accuracy_too_poor(fix: Fix, limit_m: float) -> bool:
    """True when the fix is vaguer than the policy's limit (strictly greater; the limit passes)."""
    return fix.accuracy_m > limit_m
