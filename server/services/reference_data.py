"""Loading the reference data shipped in server/data/ (idempotent: upsert by code)."""

from __future__ import annotations

import json
from pathlib import Path

from server.domain.regions import level_of, parent_code
from server.extensions import db
from server.models import Occupation, Region

DATA_DIR = Path(__file__).resolve().parent.parent / "data"


def _read(name: str) -> dict:
    return json.loads((DATA_DIR / name).read_text(encoding="utf-8"))


def load_regions() -> int:
    rows = sorted(_read("regions.json")["regions"], key=lambda r: (len(r["code"]), r["code"]))
    for row in rows:
        region = db.session.get(Region, row["code"]) or Region(code=row["code"])
        region.name = row["name"]
        region.level = level_of(row["code"])
        region.parent_code = parent_code(row["code"])
        db.session.add(region)
        db.session.flush()  # parents before children, for the foreign key
    return len(rows)


def load_occupations() -> int:
    rows = _read("occupations.json")["occupations"]
    for row in rows:
        occupation = db.session.get(Occupation, row["code"]) or Occupation(code=row["code"])
        occupation.name = row["name"]
        occupation.levels = list(row["levels"])
        db.session.add(occupation)
    return len(rows)


def load_reference_data() -> dict[str, int]:
    counts = {"regions": load_regions(), "occupations": load_occupations()}
    db.session.commit()
    return counts
