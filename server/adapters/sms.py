"""SMS senders. The default writes the code to the server log (development and demos);
a production deployment plugs in its carrier's gateway by naming a class in SMS_SENDER."""

from __future__ import annotations

import importlib
import logging
from typing import Protocol

from server.domain.identity import mask_mobile

log = logging.getLogger("skillvoucher.sms")


class SmsSender(Protocol):
    def send_code(self, mobile: str, code: str) -> None: ...


class LogSmsSender:
    """Writes the code to the log instead of sending it. Never use in production."""

    def send_code(self, mobile: str, code: str) -> None:
        log.warning("SMS code for %s: %s (log sender: not actually sent)", mask_mobile(mobile), code)


class RecordingSmsSender:
    """Keeps sent codes in memory, for tests and local scripting."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_code(self, mobile: str, code: str) -> None:
        self.sent.append((mobile, code))


def sender_from_setting(setting: str) -> SmsSender:
    """`log`, `memory`, or a dotted path `package.module:ClassName` constructed with no arguments."""
    if setting == "log":
        return LogSmsSender()
    if setting == "memory":
        return RecordingSmsSender()
    module_name, _, class_name = setting.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
