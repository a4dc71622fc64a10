"""Settings from the environment, with defaults that run on a laptop.

Everything a deployment changes is an environment variable; nothing here reads files
except the instance-folder secret, which is generated once with mode 0600 when absent.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = PROJECT_ROOT / "instance"


class ConfigError(RuntimeError):
    """The environment describes a deployment that must not start."""


def normalise_database_url(url: str) -> str:
    """`postgresql://` and `postgres://` mean the psycopg 3 driver, which is what we install."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _read_or_create_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value)
    return value


@dataclass
class Settings:
    """Resolved configuration; `as_flask()` turns it into Flask config keys."""

    env: str = "development"
    instance_path: Path = DEFAULT_INSTANCE
    database_url: str = ""
    storage_url: str = ""
    keys_dir: Path = DEFAULT_INSTANCE / "keys"
    secret_key: str = ""
    redis_url: str | None = None
    port: int = 8000
    access_token_minutes: int = 15
    refresh_token_days: int = 14
    sms_sender: str = "log"
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: os._Environ | dict | None = None) -> Settings:
        env = dict(os.environ if environ is None else environ)
        instance = Path(env.get("INSTANCE_PATH", DEFAULT_INSTANCE)).resolve()
        app_env = env.get("SKILLVOUCHER_ENV", "development")
        secret = env.get("SECRET_KEY", "")
        secret_file = env.get("SECRET_KEY_FILE")
        if not secret and secret_file:
            secret = Path(secret_file).read_text().strip()
        if not secret:
            if app_env == "production":
                raise ConfigError("SECRET_KEY or SECRET_KEY_FILE must be set in production")
            secret = _read_or_create_secret(instance / "secret_key")
        if app_env == "production" and len(secret) < 32:
            raise ConfigError("SECRET_KEY must be at least 32 characters in production")
        return cls(
            env=app_env,
            instance_path=instance,
            database_url=env.get("DATABASE_URL") or f"sqlite:///{instance / 'skillvoucher.db'}",
            storage_url=env.get("STORAGE_URL") or f"file://{instance / 'storage'}",
            keys_dir=Path(env.get("KEYS_DIR", instance / "keys")).resolve(),
            secret_key=secret,
            redis_url=env.get("REDIS_URL") or None,
            port=int(env.get("PORT", "8000")),
            access_token_minutes=int(env.get("ACCESS_TOKEN_MINUTES", "15")),
            refresh_token_days=int(env.get("REFRESH_TOKEN_DAYS", "14")),
            sms_sender=env.get("SMS_SENDER", "log"),
        )

    def as_flask(self) -> dict:
        return {
            "ENV_NAME": self.env,
            "SECRET_KEY": self.secret_key,
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "STORAGE_URL": self.storage_url,
            "KEYS_DIR": str(self.keys_dir),
            "REDIS_URL": self.redis_url,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            "ACCESS_TOKEN_MINUTES": self.access_token_minutes,
            "REFRESH_TOKEN_DAYS": self.refresh_token_days,
            "SMS_SENDER": self.sms_sender,
            "MAX_CONTENT_LENGTH": 12 * 1024 * 1024,  # a 10 MB class document and its envelope
            "JSON_AS_ASCII": False,
        }
