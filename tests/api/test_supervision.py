"""Remote supervision through the API: the day's board, a class's attendance matrix (with
Wenshui's e-voucher sign-in, 003 三(四)), a session's check-ins, a trainee's timeline, the CSV and
XLSX exports, and who may read which."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta

import openpyxl
import pytest

from server.domain.access import Role
from server.domain.identity import mask_id_number
from server.services import clock as server_clock
from tests.api.checkin_world import at_start, check_in, offset, open_class
from tests.factories import login, make_org, make_staff

BOARD = "/api/v1/supervision/board"
LABELS = {"present": "有效", "flagged": "存疑待核", "rejected": "核实无效", "incomplete": "不完整",
          "absent": "缺勤", "upcoming": "未开始"}
EXPORT_HEADERS = ["日期", "课时开始", "姓名", "身份证号码", "类型", "打卡时间", "距场地（米）",
                  "定位精度（米）", "位置判定", "疑点", "核实结论", "核实意见", "离线补传"]


@pytest.fixture
def world(client, ctx, clock):
    return open_class(client, clock)


# --- helpers ---------------------------------------------------------------------------------


def error(response) -> tuple[int, str | None]:
    return response.status_code, (response.json or {}).get("error", {}).get("code")


def attend(client, world, n: int, index: int, **changes) -> dict:
    """Trainee n checks in at session `index` honestly: their own phone, their own photo, their own
    spot in the classroom (so no shared-device, duplicate-photo or crowd flag by accident)."""
    args = {"position": offset(5 + 4 * n, 37 * n), "device": f"phone-{n}", "seed": 1000 + 100 * n + index}
    response = check_in(client, world.headers.trainees[n], world.sessions[index].id, **(args | changes))
    assert response.status_code == 201, response.json
    return response.json


def at_end(clock, session, minutes: int) -> datetime:
    when = datetime.combine(session.day, session.ends, tzinfo=server_clock.CHINA) + timedelta(minutes=minutes)
    clock.set(when)
    return when


def review(client, world, checkin_id: int, decision: str, reason: str = "已电话核实") -> None:
    response = client.post(f"/api/v1/checkins/{checkin_id}/review", headers=world.headers.supervisor,
                           json={"decision": decision, "reason": reason})
    assert response.status_code == 200, response.json


def staff(client, role: Role, region_code: str = "140427") -> dict:
    org = make_org(region_code=region_code) if role is Role.INSTITUTION_OPERATOR else None
    return login(client, username=make_staff(role, org, region_code=region_code).username)


def board(client, headers, day: date | None = None):
    return client.get(BOARD, headers=headers, query_string={"day": day.isoformat()} if day else {})


def matrix(client, headers, class_id: int, **query):
    return client.get(f"/api/v1/classes/{class_id}/attendance", headers=headers, query_string=query)


def cells(body: dict) -> dict[tuple[int, int], dict]:
    return {(row["trainee"]["id"], cell["session_id"]): cell for row in body["rows"] for cell in row["cells"]}


def status(client, world, n: int, index: int = 0, headers=None) -> str:
    body = matrix(client, headers or world.headers.supervisor, world.class_id).json
    cell = cells(body)[(world.people[n].id, world.sessions[index].id)]
    assert cell["label"] == LABELS[cell["status"]]
    return cell["status"]


def voucher_token(client, world, n: int) -> str:
    response = client.get(f"/api/v1/vouchers/{world.vouchers[n].id}/token", headers=world.headers.trainees[n])
    assert response.status_code == 200, response.json
    return response.json["token"]


def voucher_signin(client, world, index: int, token: str):
    return client.post(f"/api/v1/sessions/{world.sessions[index].id}/voucher-signins",
                       headers=world.headers.institution, json={"token": token})


# --- the board --------------------------------------------------------------------------------


def test_the_board_shows_the_days_sessions_with_their_counts(client, world, clock):
    first, second = world.sessions[0], world.sessions[1]
    attend(client, world, 0, 0)
    attend(client, world, 1, 0, position=offset(1000, 45))  # flagged: outside the fence
    at_end(clock, first, -5)
    attend(client, world, 0, 0, kind="sign_out", seed=5000)  # a sign-out is not a second arrival
    day = first.day

    response = board(client, world.headers.supervisor, day)
    assert response.status_code == 200, response.json
    items = response.json["items"]
    assert [(i["session"]["id"], i["expected"], i["checked_in"], i["flagged"]) for i in items] == [
        (first.id, 3, 2, 1), (second.id, 3, 0, 0)]
    institution = client.get(f"/api/v1/classes/{world.class_id}", headers=world.headers.supervisor).json
    assert items[0]["institution"] == institution["institution"]["name"]
    assert items[0]["region_code"] == "140427"
    assert items[0]["session"]["class_id"] == world.class_id
    assert items[0]["session"]["class_name"] == institution["name"]
    assert items[0]["session"]["day"] == day.isoformat()
    assert (items[0]["session"]["starts"], items[0]["session"]["ends"]) == ("08:30:00", "11:30:00")

    assert board(client, world.headers.supervisor).json == response.json  # today, by the app's clock
    tomorrow = board(client, world.headers.supervisor, day + timedelta(days=1)).json["items"]
    assert [(i["expected"], i["checked_in"], i["flagged"]) for i in tomorrow] == [(3, 0, 0), (3, 0, 0)]
    assert board(client, world.headers.supervisor, day - timedelta(days=1)).json["items"] == []
    bad_day = client.get(BOARD, headers=world.headers.supervisor, query_string={"day": "10/03/2026"})
    assert bad_day.status_code == 422


def test_the_board_is_scoped_like_classes(client, world):
    attend(client, world, 0, 0)
    day = world.sessions[0].day
    expected = [(i["session"]["id"], i["checked_in"]) for i in board(client, world.headers.supervisor, day)
                .json["items"]]
    assert expected == [(world.sessions[0].id, 1), (world.sessions[1].id, 0)]

    own = board(client, world.headers.institution, day)
    assert own.status_code == 200
    assert [(i["session"]["id"], i["checked_in"]) for i in own.json["items"]] == expected
    assert board(client, staff(client, Role.INSTITUTION_OPERATOR), day).json["items"] == []
    assert board(client, staff(client, Role.BUREAU_SUPERVISOR, "141121"), day).json["items"] == []
    finance = board(client, staff(client, Role.FINANCE), day)  # finance is staff: it reads the board
    assert finance.status_code == 200
    assert [(i["session"]["id"], i["checked_in"]) for i in finance.json["items"]] == expected


# --- the attendance matrix ---------------------------------------------------------------------


def test_the_matrix_shows_each_trainee_in_each_session(client, ctx, clock):
    world = open_class(client, clock, trainees=4)
    s0 = world.sessions[0]
    attend(client, world, 0, 0)  # clean
    flagged = attend(client, world, 1, 0, position=offset(1000, 45))
    rejected = attend(client, world, 2, 0, position=offset(1000, 90))
    # trainee 3 does not come

    before = matrix(client, world.headers.supervisor, world.class_id)
    assert before.status_code == 200, before.json
    body = before.json
    assert body["class_id"] == world.class_id and body["total_trainees"] == 4
    assert [s["id"] for s in body["sessions"]] == [s.id for s in world.sessions]
    assert [row["trainee"]["id"] for row in body["rows"]] == [p.id for p in world.people]
    assert [row["voucher_id"] for row in body["rows"]] == [v.id for v in world.vouchers]
    session_ids = [s.id for s in world.sessions]
    assert all([c["session_id"] for c in row["cells"]] == session_ids for row in body["rows"])
    found = cells(body)
    assert found[(world.people[3].id, s0.id)]["status"] == "upcoming"  # it has not started yet

    review(client, world, rejected["id"], "rejected", "人不在场")
    at_start(clock, s0, 20)
    found = cells(matrix(client, world.headers.supervisor, world.class_id).json)
    first = [(found[(p.id, s0.id)]["status"], found[(p.id, s0.id)]["label"], found[(p.id, s0.id)]["flags"])
             for p in world.people]
    assert first == [("present", "有效", []), ("flagged", "存疑待核", ["outside_fence"]),
                     ("rejected", "核实无效", ["outside_fence"]), ("absent", "缺勤", [])]
    later = {(found[(p.id, s.id)]["status"], found[(p.id, s.id)]["label"])
             for p in world.people for s in world.sessions[1:]}
    assert later == {("upcoming", "未开始")}

    review(client, world, flagged["id"], "accepted", "在实训楼另一侧")
    assert status(client, world, 1) == "present"


def test_the_matrix_pages_by_trainee(client, ctx, clock):
    world = open_class(client, clock, trainees=4)
    ids = [p.id for p in world.people]
    pages = [matrix(client, world.headers.supervisor, world.class_id, limit=2, offset=offset_).json
             for offset_ in (0, 2, 4)]
    assert [[row["trainee"]["id"] for row in page["rows"]] for page in pages] == [ids[:2], ids[2:], []]
    assert {page["total_trainees"] for page in pages} == {4}
    assert all(len(row["cells"]) == len(world.sessions) for page in pages for row in page["rows"])
    for bad in ({"limit": 0}, {"limit": 501}, {"offset": -1}):
        assert matrix(client, world.headers.supervisor, world.class_id, **bad).status_code == 422


def test_the_matrix_masks_id_numbers_for_the_institution(client, world):
    full = {row["trainee"]["id"]: row["trainee"]["id_number"]
            for row in matrix(client, world.headers.supervisor, world.class_id).json["rows"]}
    masked = {row["trainee"]["id"]: row["trainee"]["id_number"]
              for row in matrix(client, world.headers.institution, world.class_id).json["rows"]}
    assert full == {p.id: p.id_number for p in world.people}
    assert masked == {p.id: mask_id_number(p.id_number) for p in world.people}
    assert error(matrix(client, staff(client, Role.INSTITUTION_OPERATOR), world.class_id))[0] == 404
    assert error(matrix(client, staff(client, Role.BUREAU_SUPERVISOR, "141121"), world.class_id))[0] == 404


# --- Wenshui: the trainee's check-in and the institution's e-voucher sign-in (003 三(四)) --------


def test_wenshui_asks_for_the_voucher_sign_in_as_well(client, ctx, clock):
    other = open_class(client, clock, trainees=1, region_code="141121")
    world = open_class(client, clock, trainees=2, region_code="141121")
    attend(client, world, 0, 0)
    assert status(client, world, 0) == "incomplete"
    assert status(client, world, 0, headers=world.headers.institution) == "incomplete"

    signed = voucher_signin(client, world, 0, voucher_token(client, world, 0))
    assert signed.status_code == 201, signed.json
    assert signed.json["session_id"] == world.sessions[0].id
    assert signed.json["trainee_id"] == world.people[0].id
    assert signed.json["voucher_id"] == world.vouchers[0].id
    assert status(client, world, 0) == "present"
    assert status(client, world, 0, 1) == "upcoming"  # one session's sign-in is not the next one's

    again = voucher_signin(client, world, 0, voucher_token(client, world, 0))
    assert error(again) == (409, "VOUCHER_SIGNIN_DUPLICATE")
    foreign = voucher_signin(client, world, 0, voucher_token(client, other, 0))  # bound to another class
    assert error(foreign) == (422, "VOUCHER_NOT_IN_CLASS")


def test_in_huguan_the_check_in_alone_is_present(client, world):
    attend(client, world, 0, 0)
    assert status(client, world, 0) == "present"


def test_the_voucher_sign_in_counts_for_a_trainee_without_selfie_consent(client, world, clock):
    """Without face consent, the trainee is signed in by the institution scanning their voucher:
    the non-face alternative (README "Consent first"; the FACE_CONSENT_REQUIRED message says so).
    That sign-in must count in the matrix, or the trainee who refused selfies is absent."""
    trainee = world.headers.trainees[1]
    assert client.put("/api/v1/me/face-consent", headers=trainee, json={"give": False}).status_code == 200
    assert error(check_in(client, trainee, world.sessions[0].id)) == (409, "FACE_CONSENT_REQUIRED")
    signed = voucher_signin(client, world, 0, voucher_token(client, world, 1))
    assert signed.status_code == 201, signed.json
    at_start(clock, world.sessions[0], 20)
    assert status(client, world, 1) == "present"


# --- a session's check-ins --------------------------------------------------------------------


def session_checkins(client, headers, session_id: int, **query):
    return client.get(f"/api/v1/sessions/{session_id}/checkins", headers=headers, query_string=query)


def test_a_sessions_check_ins_filter_by_flag(client, world):
    s0 = world.sessions[0].id
    clean = attend(client, world, 0, 0, device="shared-phone")
    shared = attend(client, world, 1, 0, device="shared-phone")
    outside = attend(client, world, 2, 0, position=offset(1000, 45))
    assert (clean["flags"], shared["flags"], outside["flags"]) == ([], ["shared_device"], ["outside_fence"])

    def ids(**query):
        response = session_checkins(client, world.headers.supervisor, s0, **query)
        assert response.status_code == 200, response.json
        return response.json["total"], [item["checkin"]["id"] for item in response.json["items"]]

    assert ids() == (3, [clean["id"], shared["id"], outside["id"]])
    assert ids(flag="shared_device") == (1, [shared["id"]])
    assert ids(flag="outside_fence") == (1, [outside["id"]])
    assert ids(flag="reused_selfie") == (0, [])
    assert ids(flagged_only="true") == (2, [shared["id"], outside["id"]])
    assert ids(limit=1, offset=1) == (3, [shared["id"]])
    assert ids(flagged_only="true", limit=1, offset=1) == (2, [outside["id"]])

    body = session_checkins(client, world.headers.supervisor, s0, flag="shared_device").json
    assert body["session"]["id"] == s0 and body["session"]["class_id"] == world.class_id
    item = body["items"][0]
    assert item["checkin"]["flag_labels"] == ["同一设备在同一课时为多人打卡"]
    assert item["trainee"] == {"id": world.people[1].id, "real_name": "学员1",
                               "id_number": world.people[1].id_number}


def test_a_sessions_check_ins_mask_id_numbers_for_the_institution(client, world):
    s0 = world.sessions[0].id
    for n in range(3):
        attend(client, world, n, 0)
    bureau = session_checkins(client, world.headers.supervisor, s0).json["items"]
    own = session_checkins(client, world.headers.institution, s0).json["items"]
    assert [i["trainee"]["id_number"] for i in bureau] == [p.id_number for p in world.people]
    assert [i["trainee"]["id_number"] for i in own] == [mask_id_number(p.id_number) for p in world.people]
    assert all("*" in i["trainee"]["id_number"] for i in own)


def test_a_sessions_check_ins_are_scoped(client, world):
    s0 = world.sessions[0].id
    attend(client, world, 0, 0)
    assert session_checkins(client, world.headers.trainees[0], s0).status_code == 403
    assert error(session_checkins(client, staff(client, Role.INSTITUTION_OPERATOR), s0))[0] == 404
    assert error(session_checkins(client, staff(client, Role.BUREAU_SUPERVISOR, "141121"), s0))[0] == 404
    unknown = session_checkins(client, world.headers.supervisor, world.sessions[-1].id + 1000)
    assert error(unknown) == (404, "SESSION_NOT_FOUND")


# --- a trainee's timeline ---------------------------------------------------------------------


def timeline(client, headers, trainee_id: int, **query):
    return client.get(f"/api/v1/trainees/{trainee_id}/checkins", headers=headers, query_string=query)


def test_a_trainees_timeline_is_newest_first(client, world, clock):
    for index in (0, 1, 2):  # Tuesday morning, Tuesday afternoon, Wednesday morning
        at_start(clock, world.sessions[index])
        attend(client, world, 0, index)
    attend(client, world, 1, 2)  # someone else's
    me = world.people[0]
    newest_first = [world.sessions[i].id for i in (2, 1, 0)]

    own = timeline(client, world.headers.trainees[0], me.id)
    assert own.status_code == 200, own.json
    assert own.json["total"] == 3 and own.json["trainee"]["id"] == me.id
    assert [i["session"]["id"] for i in own.json["items"]] == newest_first
    assert all(i["checkin"]["trainee_id"] == me.id for i in own.json["items"])
    received = [i["checkin"]["received_at"] for i in own.json["items"]]
    assert received == sorted(received, reverse=True)

    bureau = timeline(client, world.headers.supervisor, me.id)
    assert bureau.status_code == 200
    assert [i["session"]["id"] for i in bureau.json["items"]] == newest_first
    assert bureau.json["trainee"]["id_number"] == me.id_number
    institution = timeline(client, world.headers.institution, me.id)
    assert [i["session"]["id"] for i in institution.json["items"]] == newest_first

    page = timeline(client, world.headers.supervisor, me.id, limit=1, offset=1)
    assert page.json["total"] == 3 and [i["session"]["id"] for i in page.json["items"]] == newest_first[1:2]


def test_a_trainees_timeline_is_private(client, world):
    attend(client, world, 0, 0)
    me = world.people[0].id
    assert timeline(client, world.headers.trainees[1], me).status_code == 404
    assert timeline(client, staff(client, Role.INSTITUTION_OPERATOR), me).status_code == 404
    assert timeline(client, staff(client, Role.BUREAU_SUPERVISOR, "141121"), me).status_code == 404


# --- exports ----------------------------------------------------------------------------------


def export(client, headers, class_id: int, fmt: str):
    return client.get(f"/api/v1/classes/{class_id}/checkins/export.{fmt}", headers=headers)


def csv_rows(response) -> list[list[str]]:
    assert response.data.startswith(b"\xef\xbb\xbf")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"), newline="")))


def xlsx_rows(response) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(response.data)).worksheets[0]
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture
def exported(client, world, clock):
    """Tuesday 08:30: trainee 0 clean (and signs out), trainee 1 outside with a poor fix and
    rejected, trainee 2 uploads from an offline queue two hours late."""
    s0 = world.sessions[0]
    attend(client, world, 0, 0, position=offset(20, 0), accuracy=10)
    outside = attend(client, world, 1, 0, position=offset(1000, 45), accuracy=150)
    review(client, world, outside["id"], "rejected", "人不在培训场地")
    captured = at_start(clock, s0, 5)
    at_start(clock, s0, 15 + 120)
    attend(client, world, 2, 0, captured=captured, offline=True)
    at_end(clock, s0, -5)
    attend(client, world, 0, 0, kind="sign_out", position=offset(20, 0), accuracy=10, seed=5000)
    return world


def test_the_csv_export_lists_every_check_in_in_chinese(client, exported):
    world = exported
    response = export(client, world.headers.supervisor, world.class_id, "csv")
    assert response.status_code == 200, response.json
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = csv_rows(response)
    assert rows[0] == EXPORT_HEADERS
    ids = [p.id_number for p in world.people]
    day = "2026-03-10", "08:30"
    assert rows[1:] == [
        [*day, "学员0", ids[0], "签到", "2026-03-10 08:25", "20", "10", "场地内", "", "", "", ""],
        [*day, "学员1", ids[1], "签到", "2026-03-10 08:25", "1000", "150", "场地外",
         "不在培训场地范围内、定位精度差", "核实无效", "人不在培训场地", ""],
        [*day, "学员2", ids[2], "签到", "2026-03-10 08:35", "13", "15", "场地内", "离线缓存后迟到上传",
         "", "", "是"],
        [*day, "学员0", ids[0], "签退", "2026-03-10 11:25", "20", "10", "场地内", "", "", "", ""],
    ]


def test_the_institutions_export_masks_id_numbers(client, exported):
    world = exported
    rows = csv_rows(export(client, world.headers.institution, world.class_id, "csv"))
    assert [row[3] for row in rows[1:]] == [mask_id_number(world.people[n].id_number) for n in (0, 1, 2, 0)]


def test_the_xlsx_export_matches(client, exported):
    world = exported
    response = export(client, world.headers.supervisor, world.class_id, "xlsx")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    rows = xlsx_rows(response)
    assert rows[0] == EXPORT_HEADERS
    assert len(rows) == 5
    assert [row[2] for row in rows[1:]] == ["学员0", "学员1", "学员2", "学员0"]
    assert [row[4] for row in rows[1:]] == ["签到", "签到", "签到", "签退"]
    assert rows[2][9] == "不在培训场地范围内、定位精度差" and rows[2][10] == "核实无效"
    assert rows[3][9] == "离线缓存后迟到上传" and rows[3][12] == "是"
    assert rows[1][0].date() == date(2026, 3, 10)
    assert rows[3][5] == datetime(2026, 3, 10, 8, 35)  # counted when it was taken, China time
    assert rows[2][6] == 1000 and rows[2][7] == 150


def test_exports_are_for_staff_of_the_class(client, exported):
    world = exported
    assert export(client, world.headers.trainees[0], world.class_id, "csv").status_code == 403
    outsider = staff(client, Role.BUREAU_SUPERVISOR, "141121")
    assert export(client, outsider, world.class_id, "csv").status_code == 404
    assert export(client, staff(client, Role.INSTITUTION_OPERATOR), world.class_id, "xlsx").status_code == 404
    unsupported = export(client, world.headers.supervisor, world.class_id, "pdf")
    assert error(unsupported) == (404, "UNSUPPORTED_FORMAT")


# --- roles --------------------------------------------------------------------------------------


def test_trainees_read_no_supervision_view(client, world):
    trainee = world.headers.trainees[0]
    assert board(client, trainee).status_code == 403
    assert matrix(client, trainee, world.class_id).status_code == 403
    assert session_checkins(client, trainee, world.sessions[0].id).status_code == 403


def test_finance_reads_the_board_and_the_matrix(client, world):
    attend(client, world, 0, 0)
    finance = staff(client, Role.FINANCE)
    rows = board(client, finance).json["items"]
    assert [(r["session"]["id"], r["expected"], r["checked_in"]) for r in rows] == [
        (world.sessions[0].id, 3, 1), (world.sessions[1].id, 3, 0)]
    grid = matrix(client, finance, world.class_id)
    assert grid.status_code == 200 and grid.json["total_trainees"] == 3
    assert cells(grid.json)[(world.people[0].id, world.sessions[0].id)]["status"] == "present"


def test_a_revoked_trainee_is_no_longer_expected(client, world, clock):
    """A voucher revoked during training (fraud found) keeps its class, but its trainee is no
    longer counted as expected on the board nor listed in the matrix."""
    revoked = client.post(f"/api/v1/vouchers/{world.vouchers[2].id}/revoke", headers=world.headers.reviewer,
                          json={"reason": "冒名顶替"})
    assert revoked.status_code == 200, revoked.json
    items = board(client, world.headers.supervisor, world.sessions[0].day).json["items"]
    assert {i["expected"] for i in items} == {2}
    matrix = client.get(f"/api/v1/classes/{world.class_id}/attendance", headers=world.headers.supervisor).json
    assert matrix["total_trainees"] == 2
    assert world.people[2].id not in {row["trainee"]["id"] for row in matrix["rows"]}
