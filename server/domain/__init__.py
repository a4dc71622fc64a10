"""The rulebook: pure Python, no Flask, SQLAlchemy or I/O (enforced by import-linter)."""
