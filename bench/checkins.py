"""Phone check-ins under load, and the supervision lists over a county of check-ins.

    .venv/bin/python bench/checkins.py                  # every part, SQLite (the embedded default)
    .venv/bin/python bench/checkins.py floor inprocess  # only some parts: floor inprocess load lists
    BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/bench .venv/bin/python bench/checkins.py
    BENCH_PORT=18800 BENCH_TRAINEES=2000 BENCH_CONCURRENCY=50 BENCH_SELFIE_SIZE=1080x1440 \
        .venv/bin/python bench/checkins.py load          # the load part's knobs (their defaults)
    BENCH_RATE=100 .venv/bin/python bench/checkins.py load   # open loop: 100 check-ins/s offered
    WEB_CONCURRENCY=2 GUNICORN_THREADS=4 .venv/bin/python bench/checkins.py load  # other gunicorn shapes
    BENCH_PROFILE=1 BENCH_EXPLAIN=1 .venv/bin/python bench/checkins.py lists  # + cProfile, query plans

Parts:
- floor: the bare Pillow cost of the same selfies, `server.adapters.selfies.process` on each
  (1080 × 1440 phone-like JPEGs of ~160 KB, distinct per trainee), on one core and on two threads,
  as sent (kept, the path they take) and forced through the normalising path (a photo that needs
  shrinking or turning), with the steps of each.
- inprocess: check-ins one after another through the whole Flask stack with the WSGI test client,
  timing the selfie processing and the database transactions of each (on SQLite only the one that
  writes the row holds the write lock), then cProfile of 50 check-ins (BENCH_PROFILE_OUT=file
  keeps the profile).
- load: gunicorn started as `make run` starts it (`.venv/bin/gunicorn -c deploy/gunicorn.conf.py
  server.wsgi:app` with PORT, INSTANCE_PATH, DATABASE_URL and SECRET_KEY), on a database built by
  the migrations with the demo data and BENCH_TRAINEES trainees in classes of 50 whose only session
  has its check-in window open now and for at least 15 more minutes (`session_now`: it starts 25
  minutes from now, late in the evening at 23:29 or at midnight). Every trainee consented
  and holds an access token minted with the app's secret (no argon2 sign-in). BENCH_CONCURRENCY
  client threads (http.client, a new connection per check-in, as each phone opens its own) post
  one multipart check-in per trainee, flat out (closed loop) or at BENCH_RATE per second (open
  loop, latency from each check-in's due time); the first 100 warm the workers up, uncounted.
  Reported: check-ins per second, latency percentiles, non-201 responses, and CPU ms per check-in
  of the gunicorn processes (master and workers, /proc/<pid>/stat), of PostgreSQL and of the client.
- lists: a county (Huguan) of 44 classes × 60 trainees × 40 sessions (20 days, two a day, the last
  today) with a check-in in ~96 % of the cells (~100,000), bulk-inserted; median / p95 of the
  supervisors' lists in-process with the WSGI test client, as bench/api_latency.py.

The database is built by the migrations and loaded with the demo data (bench/common.py); on
PostgreSQL the script refuses any database whose name does not begin with `bench`.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import cProfile
import http.client
import io
import os
import pstats
import random
import runpy
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import checkins_seed as seed  # bench/checkins_seed.py, beside this script
from common import demo_app, percentile
from common import measure as common_measure
from sqlalchemy import event, func, select, text

from server.adapters import selfies
from server.extensions import db
from server.models import Checkin, ClassSession
from server.services import clock, demo

ROOT = Path(__file__).resolve().parent.parent
TRAINEES = int(os.environ.get("BENCH_TRAINEES", "2000"))
CONCURRENCY = int(os.environ.get("BENCH_CONCURRENCY", "50"))
RATE = float(os.environ.get("BENCH_RATE") or 0) or None  # check-ins/s offered; None: flat out
# The load part's upload size; BENCH_SELFIE_SIZE=960x1280 is what a PWA shrinking on the phone would send.
LOAD_SELFIE = tuple(int(v) for v in os.environ.get("BENCH_SELFIE_SIZE", "1080x1440").split("x"))
WARMUP = 100
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "100"))
FLOOR_IMAGES = 200
INPROCESS_TRAINEES = 250  # 200 timed one after another, then 50 under cProfile
LIST_CLASSES = int(os.environ.get("BENCH_LIST_CLASSES", "44"))
LIST_CLASS_SIZE, LIST_DAYS = 60, 20  # 44 × 60 × 40 sessions × 96 % ≈ 101,000
SECRET_KEY = "b" * 48  # bench/common.py's


def selfies_for(count: int, offset: int, size: tuple[int, int] = seed.SELFIE_SIZE) -> list[bytes]:
    with concurrent.futures.ProcessPoolExecutor(2) as pool:
        return list(pool.map(seed.selfie, range(offset, offset + count), [size] * count, chunksize=16))


# --- a check-in request, as a phone sends it ---------------------------------------------------

BOUNDARY = "----skillvoucher-bench-" + secrets.token_hex(8)


def _field(name: str, value: str) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n').encode()


def multipart(trainee: int, image: bytes, rng: random.Random) -> tuple[bytes, bytes]:
    """The body around its `captured_at` field, which is filled in when the request is sent."""
    lat = seed.SITE[0] + rng.uniform(-3e-4, 3e-4)  # within ~35 m of the site's centre
    lon = seed.SITE[1] + rng.uniform(-3e-4, 3e-4)
    head = b"".join(_field(k, v) for k, v in (
        ("kind", "check_in"), ("latitude", f"{lat:.6f}"), ("longitude", f"{lon:.6f}"),
        ("accuracy_m", f"{rng.uniform(5, 40):.1f}")))
    tail = b"".join(_field(k, v) for k, v in (
        ("device_id", f"phone-{trainee:05d}"), ("idempotency_key", secrets.token_hex(16)),
        ("offline", "false")))
    tail += (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="selfie"; '
             f'filename="IMG_{trainee:05d}.jpg"\r\nContent-Type: image/jpeg\r\n\r\n').encode()
    tail += image + f"\r\n--{BOUNDARY}--\r\n".encode()
    return head, tail


def body_now(parts: tuple[bytes, bytes]) -> bytes:
    captured = datetime.now(clock.CHINA).isoformat(timespec="seconds")
    return parts[0] + _field("captured_at", captured) + parts[1]


CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


# --- floor: Pillow alone ------------------------------------------------------------------------


def _timed(images: list[bytes]) -> list[float]:
    samples = []
    for image in images:
        start = time.perf_counter()
        selfies.process(image, "image/jpeg")
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _two_threads(images: list[bytes]) -> float:
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda raw: selfies.process(raw, "image/jpeg"), images))
    return len(images) / (time.perf_counter() - start)


@contextlib.contextmanager
def _always_normalised():
    """Take the normalising path whatever is sent (a full-size camera photo's path)."""
    kept = selfies.KEPT_MAX_BYTES
    selfies.KEPT_MAX_BYTES = 0
    try:
        yield
    finally:
        selfies.KEPT_MAX_BYTES = kept


def _steps(images: list[bytes]) -> dict[str, list[float]]:
    """The steps of both of `process`'s paths on the first 50 (the adapter's own functions)."""
    steps = {"kept: open, header checks, 1/8-scale libjpeg decode": [],
             "kept: cut the metadata segments out": [], "kept: thumbnail (160) + encode + phash": [],
             "normalised: open, header checks, full-size libjpeg decode": [],
             "normalised: shrink to 1280 (bilinear) + EXIF transpose": [],
             "normalised: encode stored JPEG (960 × 1280, q80)": [],
             "normalised: thumbnail (160) + encode + phash": []}
    names = list(steps)

    def thumbnail(image):
        thumb = selfies._shrink(image, selfies.THUMB_LONGEST_SIDE)
        selfies._jpeg(thumb)
        str(selfies.imagehash.phash(thumb))

    for image in images[:50]:
        t = [time.perf_counter()]
        stream = selfies._StrictStream(image)
        with selfies._open(stream, image) as opened:
            opened.draft("RGB", selfies._draft_box(*opened.size, selfies.THUMB_LONGEST_SIDE))
            stream.strict = True
            opened.load()
            t.append(time.perf_counter())
            selfies.strip_metadata(image)
            t.append(time.perf_counter())
            thumbnail(opened)
            t.append(time.perf_counter())
        stream = selfies._StrictStream(image)
        t.append(time.perf_counter())
        with selfies._open(stream, image) as opened:
            opened.draft("RGB", selfies._draft_box(*opened.size, selfies.STORED_LONGEST_SIDE))
            stream.strict = True
            opened.load()
            t.append(time.perf_counter())
            stored = selfies._normalise(opened)
            t.append(time.perf_counter())
            selfies._jpeg(stored)
            t.append(time.perf_counter())
            thumbnail(stored)
            t.append(time.perf_counter())
        spans = [(t[0], t[1]), (t[1], t[2]), (t[2], t[3]),
                 (t[4], t[5]), (t[5], t[6]), (t[6], t[7]), (t[7], t[8])]
        for name, (begin, end) in zip(names, spans, strict=True):
            steps[name].append((end - begin) * 1000)
    return steps


def floor() -> dict:
    images = selfies_for(FLOOR_IMAGES, 900_000)
    for image in images[:5]:
        selfies.process(image, "image/jpeg")
    kept = sum(selfies.process(i, "image/jpeg").kept_as_sent for i in images)
    samples, two_threads = _timed(images), _two_threads(images)
    with _always_normalised():
        normalised, normalised_two = _timed(images), _two_threads(images)
    sizes = [len(i) / 1024 for i in images]
    width, height = seed.SELFIE_SIZE
    print(f"\n== floor: selfies.process on {len(images)} selfies, {width} × {height}, "
          f"{statistics.median(sizes):.0f} KB median ({min(sizes):.0f}–{max(sizes):.0f})"
          f"; {kept} kept as sent")
    for label, values, two in (("as sent (kept)", samples, two_threads),
                               ("forced through the normalising path", normalised, normalised_two)):
        print(f"{label}: one core median {statistics.median(values):.1f} ms, p95 "
              f"{percentile(values, 0.95):.1f} ms, {1000 / statistics.mean(values):.1f} images/s; "
              f"two threads {two:.1f} images/s")
    for name, values in _steps(images).items():
        print(f"  {name:<58} median {statistics.median(values):6.2f} ms")
    return {"median_ms": statistics.median(samples), "per_s": 1000 / statistics.mean(samples)}


# --- inprocess: the Flask stack, one check-in at a time ----------------------------------------


def seeded_load_app(tmp: Path, trainees: int, prefix: str, size: tuple[int, int] = seed.SELFIE_SIZE):
    """The app, classes of 50 whose session is in progress now, tokens and one selfie a trainee."""
    class_size = 50
    classes = -(-trainees // class_size)
    images = selfies_for(classes * class_size, 0, size)
    started = time.perf_counter()
    app = demo_app(tmp)
    timetable = [seed.session_now()]
    opened = seed.open_classes(app, prefix, class_size, classes, timetable, consent=True)
    tokens = seed.mint_tokens(app, [u for o in opened for u, _ in o.trainees])
    rng = random.Random(7)
    jobs = []  # (session id, token, (head, tail))
    for o in opened:
        for user_id, trainee_id in o.trainees:
            jobs.append((o.sessions[0], tokens[user_id], multipart(trainee_id, images[len(jobs)], rng)))
    print(f"seeded {len(jobs)} trainees in {len(opened)} classes in {time.perf_counter() - started:.0f} s; "
          f"their session {timetable[0][0]} {timetable[0][1]:%H:%M}–{timetable[0][2]:%H:%M} (China time)")
    return app, jobs[:trainees]


def inprocess(tmp: Path) -> None:
    app, jobs = seeded_load_app(tmp, INPROCESS_TRAINEES, "1384")
    client = app.test_client()
    timings = {"selfie": []}
    real_process = selfies.process

    def timed_process(raw, media_type):
        start = time.perf_counter()
        try:
            return real_process(raw, media_type)
        finally:
            timings["selfie"].append((time.perf_counter() - start) * 1000)

    transactions: list[float] = []  # this check-in's transactions, begin → commit (or rollback)
    opened_at: dict[int, float] = {}
    with app.app_context():
        engine = db.engine

    def on_begin(conn):
        opened_at[id(conn.connection)] = time.perf_counter()

    def on_end(conn):
        begun = opened_at.pop(id(conn.connection), None)
        if begun is not None:
            transactions.append((time.perf_counter() - begun) * 1000)

    def post(job):
        session_id, token, parts = job
        return client.post(f"/api/v1/sessions/{session_id}/checkins", data=body_now(parts),
                           headers={"Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE})

    selfies.process = timed_process
    event.listen(engine, "begin", on_begin)
    event.listen(engine, "commit", on_end)
    event.listen(engine, "rollback", on_end)
    totals, locks, counts = [], [], []
    profiler = cProfile.Profile()
    try:
        for n, job in enumerate(jobs):
            transactions.clear()
            profiling = n >= 200
            if profiling:
                profiler.enable()
            start = time.perf_counter()
            response = post(job)
            elapsed = (time.perf_counter() - start) * 1000
            if profiling:
                profiler.disable()
            assert response.status_code == 201, response.get_json()
            if not profiling:
                totals.append(elapsed)
                locks.append(sum(transactions))
                counts.append(len(transactions))
    finally:
        selfies.process = real_process
        event.remove(engine, "begin", on_begin)
        event.remove(engine, "commit", on_end)
        event.remove(engine, "rollback", on_end)
    profiled = len(jobs) - len(totals)
    dialect = engine.dialect.name
    selfie_ms = timings["selfie"][:len(totals)]
    rest = [t - s for t, s in zip(totals, selfie_ms, strict=True)]
    print(f"\n== inprocess ({dialect}): {len(totals)} check-ins one after another, WSGI test client")
    print(f"whole request: median {statistics.median(totals):.1f} ms, p95 {percentile(totals, 0.95):.1f} ms; "
          f"selfies.process median {statistics.median(selfie_ms):.1f} ms; "
          f"the rest median {statistics.median(rest):.1f} ms")
    print(f"database transaction(s) per check-in: {statistics.median(counts):.0f}, open (begin → commit) "
          f"median {statistics.median(locks):.1f} ms, p95 {percentile(locks, 0.95):.1f} ms "
          f"({100 * statistics.median(locks) / statistics.median(totals):.0f} % of the request)")
    if os.environ.get("BENCH_PROFILE_OUT"):  # for pstats / snakeviz
        profiler.dump_stats(os.environ["BENCH_PROFILE_OUT"])
    stats = pstats.Stats(profiler)
    wanted = {
        "selfies.process": ("server/adapters/selfies.py", "process"),
        "  decode (ImageFile.load)": ("PIL/ImageFile.py", "load"),
        "  resize": ("PIL/Image.py", "resize"),
        "  JPEG encode (Image.save)": ("PIL/Image.py", "save"),
        "  imagehash.phash": ("imagehash/__init__.py", "phash"),
        "multipart form parsing (werkzeug)": ("werkzeug/wrappers/request.py", "_load_form_data"),
        "access token + user load": ("server/services/auth.py", "principal_from_access_token"),
        "_flags_for_new (3 reads + rules)": ("server/services/checkins.py", "_flags_for_new"),
        "LocalStore.put ×2": ("server/adapters/storage.py", "put"),
        "Session.commit": ("sqlalchemy/orm/session.py", "commit"),
        "_body_digest (sha256 of the selfie)": ("server/services/checkins.py", "_body_digest"),
        "checkin_out + JSON": ("server/api/checkins.py", "checkin_out"),
    }
    whole = next(ct for (f, _, fn), (_, _, _, ct, _) in stats.stats.items()
                 if f.endswith("flask/app.py") and fn == "wsgi_app")
    print(f"cProfile, {profiled} check-ins: Flask.wsgi_app {whole / profiled * 1000:.1f} ms per check-in")
    for label, (suffix, name) in wanted.items():
        ct = sum(v[3] for (f, _, fn), v in stats.stats.items() if f.endswith(suffix) and fn == name)
        print(f"  {label:<40} {ct / profiled * 1000:6.1f} ms  {100 * ct / whole:5.1f} %")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    print(out.getvalue())


# --- load: gunicorn ---------------------------------------------------------------------------


def spare_port() -> int:
    for port in range(int(os.environ.get("BENCH_PORT", "18800")), 19000):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise SystemExit("no spare port in 18800-18999")


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2:].split()  # fields from `state` on: index = field number - 3


def tree_ticks(root: int) -> int:
    """utime + stime (+ children reaped) of a process and all its live descendants, in ticks."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))):
            parents[int(entry.name)] = (int(fields[1]), fields)
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        if pid in parents:
            fields = parents[pid][1]
            total += sum(int(fields[i]) for i in (11, 12, 13, 14))  # utime stime cutime cstime
        todo += [child for child, (ppid, _) in parents.items() if ppid == pid]
    return total


def postmaster() -> int | None:
    try:
        out = subprocess.run(["pgrep", "-o", "-x", "postgres"], capture_output=True, text=True).stdout
    except OSError:
        return None
    return int(out.split()[0]) if out.strip() else None


def machine_busy() -> tuple[int, int]:
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def start_gunicorn(tmp: Path, url: str, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ",
                                                         "WEB_CONCURRENCY", "GUNICORN_THREADS")}
    env.update(PORT=str(port), INSTANCE_PATH=str(tmp), DATABASE_URL=url, SECRET_KEY=SECRET_KEY)
    log = open(tmp / "gunicorn.log", "wb")  # noqa: SIM115 (the server's lifetime)
    server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "deploy/gunicorn.conf.py",
                               "server.wsgi:app"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            if server.poll() is not None:
                raise SystemExit(f"gunicorn exited; see {tmp / 'gunicorn.log'}") from None
            time.sleep(0.1)
    time.sleep(1.0)  # let every worker finish booting
    return server


def run_load(port: int, jobs: list, rate: float | None = None
             ) -> tuple[list[float], dict[int, int], float, list[bytes]]:
    """Post every job from CONCURRENCY client threads. Closed loop (rate None): each thread
    sends its next check-in as soon as the last is answered, so the server runs flat out and
    latency is concurrency / throughput. Open loop: check-in i is due at i / rate seconds (the
    arrivals of a class-start rush), sent by a free thread, with at most CONCURRENCY in flight;
    latency counts from when it was due, so a server falling behind is not hidden."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors: list[bytes] = []
    lock = threading.Lock()
    began = time.perf_counter()

    def one(numbered) -> None:
        index, (session_id, token, parts) = numbered
        body = body_now(parts)
        start = time.perf_counter()
        if rate:
            due = began + index / rate
            if due > start:
                time.sleep(due - start)
            start = due
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        try:
            conn.request("POST", f"/api/v1/sessions/{session_id}/checkins", body=body, headers={
                "Authorization": f"Bearer {token}", "Content-Type": CONTENT_TYPE, "Connection": "close"})
            response = conn.getresponse()
            data = response.read()
            status = response.status
        except OSError as exc:
            status, data = 0, repr(exc).encode()
        finally:
            conn.close()
        elapsed = (time.perf_counter() - start) * 1000
        with lock:
            latencies.append(elapsed)
            statuses[status] = statuses.get(status, 0) + 1
            if status != 201 and len(errors) < 5:
                errors.append(data[:300])

    with concurrent.futures.ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, enumerate(jobs)))
    return latencies, statuses, time.perf_counter() - began, errors


def load(tmp: Path) -> None:
    app, jobs = seeded_load_app(tmp, TRAINEES, "1382", LOAD_SELFIE)
    sizes = [len(parts[1]) / 1024 for _, _, parts in jobs]
    with app.app_context():
        url = db.engine.url.render_as_string(hide_password=False)
        dialect = db.engine.dialect.name
        db.engine.dispose()
    port = spare_port()
    quiet, _ = machine_busy(), time.sleep(5)
    now = machine_busy()
    others = (now[0] - quiet[0]) / max(1, now[1] - quiet[1])  # the machine's load before gunicorn starts
    server = start_gunicorn(tmp, url, port)
    try:
        _, warm_status, _, warm_errors = run_load(port, jobs[:WARMUP])
        assert warm_status == {201: WARMUP}, (warm_status, warm_errors)
        pg = postmaster() if dialect == "postgresql" else None
        ticks = os.sysconf("SC_CLK_TCK")
        before = (tree_ticks(server.pid), tree_ticks(pg) if pg else 0, os.times(), machine_busy())
        latencies, statuses, wall, errors = run_load(port, jobs[WARMUP:], RATE)
        after = (tree_ticks(server.pid), tree_ticks(pg) if pg else 0, os.times(), machine_busy())
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    n = len(latencies)
    server_ms = (after[0] - before[0]) / ticks * 1000 / n
    pg_ms = (after[1] - before[1]) / ticks * 1000 / n
    client_ms = ((after[2].user + after[2].system) - (before[2].user + before[2].system)) * 1000 / n
    busy = (after[3][0] - before[3][0]) / max(1, after[3][1] - before[3][1])
    with app.app_context():
        stored = db.session.scalar(select(func.count()).select_from(Checkin))
        flagged = db.session.scalar(select(func.count()).select_from(Checkin).where(
            Checkin.flagged.is_(True)))
    files = sum(1 for _ in (tmp / "storage" / "selfies").rglob("*.jpg"))
    conf = runpy.run_path(str(ROOT / "deploy/gunicorn.conf.py"))  # as the server read it
    offered = f"offered {RATE:g}/s (open loop)" if RATE else "closed loop"
    print(f"\n== load ({dialect}): gunicorn gthread, {conf['workers']} workers × {conf['threads']} threads; "
          f"{CONCURRENCY} concurrent trainees, {offered}, {n} check-ins timed after {WARMUP} warm-up; "
          f"selfies {LOAD_SELFIE[0]} × {LOAD_SELFIE[1]}, {statistics.median(sizes):.0f} KB median")
    print(f"throughput {n / wall:.1f} check-ins/s over {wall:.1f} s; "
          f"latency ms p50 {percentile(latencies, 0.5):.0f} "
          f"p95 {percentile(latencies, 0.95):.0f} p99 {percentile(latencies, 0.99):.0f} "
          f"max {max(latencies):.0f}; statuses {dict(sorted(statuses.items()))}")
    print(f"CPU per check-in: gunicorn {server_ms:.1f} ms, PostgreSQL {pg_ms:.1f} ms, "
          f"client {client_ms:.1f} ms; "
          f"machine busy {100 * busy:.0f} % of 2 cores (other processes' load before the run: "
          f"{100 * others:.0f} %)")
    print(f"database: {stored} check-ins ({flagged} flagged), {files} selfie files (selfie + thumbnail)")
    for error in errors:
        print("  error:", error)


# --- lists: the supervisors' views over a county ----------------------------------------------


def measure(label: str, call, rounds: int) -> tuple[str, float, float]:
    return common_measure(label, call, rounds, warmup=min(5, rounds))


def lists(tmp: Path) -> None:
    started = time.perf_counter()
    app = demo_app(tmp)
    today = datetime.now(clock.CHINA).date()
    opened = seed.open_classes(app, "1385", LIST_CLASS_SIZE, LIST_CLASSES,
                               seed.past_timetable(LIST_DAYS, today), consent=False)
    inserted = seed.insert_checkins(app, opened, random.Random(11))
    setup = time.perf_counter() - started
    app.extensions["clock"] = lambda: datetime.combine(today, datetime.min.time(), tzinfo=clock.CHINA) + \
        timedelta(hours=17, minutes=30)  # after the day's second session
    client = app.test_client()
    supervisor = {"Authorization": "Bearer " + client.post("/api/v1/auth/login", json={
        "username": "huguan.supervisor", "password": demo.STAFF_PASSWORD}).json["access_token"]}
    institution = {"Authorization": "Bearer " + client.post("/api/v1/auth/login", json={
        "username": "huguan.inst1", "password": demo.STAFF_PASSWORD}).json["access_token"]}
    middle = opened[len(opened) // 2]
    class_id, session_id, (user_id, trainee_id) = middle.class_id, middle.sessions[20], middle.trainees[30]
    trainee = {"Authorization": "Bearer " + seed.mint_tokens(app, [user_id])[user_id]}
    with app.app_context():
        county = db.session.scalar(select(func.count()).select_from(Checkin).where(
            Checkin.region_code == "140427"))
        in_class = db.session.scalar(select(func.count()).select_from(Checkin).where(
            Checkin.class_id == class_id))
        in_session = db.session.scalar(select(func.count()).select_from(Checkin).where(
            Checkin.session_id == session_id))
        of_trainee = db.session.scalar(select(func.count()).select_from(Checkin).where(
            Checkin.trainee_id == trainee_id))
        today_sessions = db.session.scalar(select(func.count()).select_from(ClassSession).where(
            ClassSession.day == today))
        dialect = db.engine.dialect.name
    rounds, export_rounds = ROUNDS, max(5, ROUNDS // 5)
    results = [
        measure(f"GET /classes/<id>/attendance ({LIST_CLASS_SIZE} × {len(middle.sessions)} sessions)",
                lambda: client.get(f"/api/v1/classes/{class_id}/attendance", headers=supervisor), rounds),
        measure(f"GET /sessions/<id>/checkins ({in_session} check-ins)",
                lambda: client.get(f"/api/v1/sessions/{session_id}/checkins", headers=supervisor), rounds),
        measure("GET /sessions/<id>/checkins?flagged_only=true",
                lambda: client.get(f"/api/v1/sessions/{session_id}/checkins?flagged_only=true",
                                   headers=supervisor), rounds),
        measure(f"GET /trainees/<id>/checkins ({of_trainee} check-ins; supervisor)",
                lambda: client.get(f"/api/v1/trainees/{trainee_id}/checkins", headers=supervisor), rounds),
        measure("GET /trainees/<id>/checkins (the trainee)",
                lambda: client.get(f"/api/v1/trainees/{trainee_id}/checkins", headers=trainee), rounds),
        measure(f"GET /supervision/board (today: {today_sessions} sessions; supervisor)",
                lambda: client.get("/api/v1/supervision/board", headers=supervisor), rounds),
        measure("GET /supervision/board (the institution)",
                lambda: client.get("/api/v1/supervision/board", headers=institution), rounds),
        measure(f"GET /classes/<id>/checkins/export.xlsx ({in_class} rows)",
                lambda: client.get(f"/api/v1/classes/{class_id}/checkins/export.xlsx", headers=supervisor),
                export_rounds),
        measure(f"GET /classes/<id>/checkins/export.csv ({in_class} rows)",
                lambda: client.get(f"/api/v1/classes/{class_id}/checkins/export.csv", headers=supervisor),
                export_rounds),
    ]
    print(f"\n== lists ({dialect}): {county} check-ins in the county ({inserted} inserted), "
          f"{len(opened)} classes; setup {setup:.0f} s; rounds {rounds} (exports {export_rounds})")
    print(f"{'request':<70} {'median ms':>10} {'p95 ms':>10}")
    for label, median, p95 in results:
        print(f"{label:<70} {median:>10.2f} {p95:>10.2f}")
    if os.environ.get("BENCH_PROFILE"):
        for label, url in (("attendance matrix", f"/api/v1/classes/{class_id}/attendance"),
                           ("export.xlsx", f"/api/v1/classes/{class_id}/checkins/export.xlsx")):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(5):
                client.get(url, headers=supervisor).get_data()
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(12)
            print(f"\ncProfile of 5 × {label} (by own time):\n{out.getvalue()}")
    if os.environ.get("BENCH_EXPLAIN"):
        explain(app, class_id, session_id, trainee_id, dialect)


def explain(app, class_id: int, session_id: int, trainee_id: int, dialect: str) -> None:
    """The plans of the lists' check-in queries (BENCH_EXPLAIN=1)."""
    queries = {
        "matrix records": f"SELECT * FROM checkins WHERE class_id = {class_id} AND trainee_id IN "
                          f"(SELECT trainee_id FROM checkins WHERE class_id = {class_id} LIMIT 60)",
        "session list": f"SELECT * FROM checkins JOIN trainee_profiles tp ON tp.id = checkins.trainee_id "
                        f"WHERE session_id = {session_id} ORDER BY received_at, checkins.id",
        "timeline": f"SELECT * FROM checkins JOIN class_sessions s ON s.id = checkins.session_id "
                    f"WHERE trainee_id = {trainee_id} AND checkins.class_id IN "
                    f"(SELECT id FROM training_classes WHERE region_code LIKE '140427%') "
                    f"ORDER BY received_at DESC LIMIT 200",
        "export": f"SELECT * FROM checkins JOIN trainee_profiles tp ON tp.id = checkins.trainee_id "
                  f"JOIN class_sessions s ON s.id = checkins.session_id WHERE checkins.class_id = {class_id} "
                  f"ORDER BY s.day, s.starts, checkins.id",
    }
    prefix = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN ANALYZE "
    with app.app_context():
        for label, sql in queries.items():
            print(f"\n-- {label}")
            for row in db.session.execute(text(prefix + sql)):
                print("  ", " | ".join(str(v) for v in row))


PARTS = {"floor": floor, "inprocess": inprocess, "load": load, "lists": lists}


def main() -> None:
    wanted = sys.argv[1:] or list(PARTS)
    unknown = set(wanted) - set(PARTS)
    if unknown:
        raise SystemExit(f"unknown part(s) {sorted(unknown)}; choose from {list(PARTS)}")
    print(f"database: {'PostgreSQL' if os.environ.get('BENCH_DATABASE_URL') else 'SQLite'}; parts: {wanted}")
    for part in wanted:
        if part == "floor":
            floor()
            continue
        with tempfile.TemporaryDirectory(prefix="bench-checkins-") as tmp:
            PARTS[part](Path(tmp))


if __name__ == "__main__":
    main()
