"""gunicorn settings for SkillVoucher (used by `make run`; production overrides by environment).

The work is short database-bound requests plus some image handling, so several processes with
a few threads each: 2 × cores processes by default, 2 threads each. Threads of one process share
its GIL, and handing it between four busy threads cost ~5 ms of CPU per check-in; more
processes with fewer threads measured 118–124 check-ins/s against 82–92 on the 2-core reference
machine (bench/RESULTS.md). gthread still lets a process serve a second request while one
waits on the database, and the timeout is generous enough for an 8 MB body at 1 Mbit/s.
"""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count()))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = 90
graceful_timeout = 30
keepalive = 5
max_requests = 2000  # recycle workers now and then to cap slow leaks
max_requests_jitter = 200
limit_request_field_size = 16384
accesslog = "-"
errorlog = "-"
# Access log without query strings: they may carry names or numbers we must not log.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
