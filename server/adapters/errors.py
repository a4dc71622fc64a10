"""What adapters raise when input is not acceptable; services map `reason` to a DomainError."""


class Rejected(Exception):
    """The input was refused. `reason` is a stable short code (e.g. "expired", "format")."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
