"""`flask --app server.wsgi <command>`: operational commands."""

from __future__ import annotations

import click
from flask import Flask


def register_commands(app: Flask) -> None:
    @app.cli.command("seed-demo")
    def seed_demo() -> None:
        """Load reference data and the demo regions' organisations, staff and trainees (idempotent)."""
        from server.services import demo

        summary = demo.load_demo()
        click.echo(demo.describe(summary))

    @app.cli.command("seed-reference")
    def seed_reference() -> None:
        """Load regions and the occupation catalogue (idempotent)."""
        from server.services import reference_data

        counts = reference_data.load_reference_data()
        click.echo(f"regions: {counts['regions']}, occupations: {counts['occupations']}")

    @app.cli.command("rotate-keys")
    def rotate_keys() -> None:
        """Make a new Ed25519 signing key the signer; older keys stay published (JWKS) so
        tokens they signed verify until they expire. Restart the app to sign with it."""
        from flask import current_app

        key = current_app.extensions["keyring"].rotate()
        click.echo(f"new signing key {key.kid}; keys published: "
                   f"{len(current_app.extensions['keyring'].public_jwks()['keys'])}")

    @app.cli.command("expire-vouchers")
    def expire_vouchers() -> None:
        """Expire issued vouchers past their last day (run daily, e.g. from cron at 00:10)."""
        from server.services import vouchers

        expired = vouchers.expire_due()
        click.echo(f"expired {len(expired)} voucher(s)" + (": " + ", ".join(expired[:20]) if expired else ""))

    @app.cli.command("end-notices")
    def end_notices() -> None:
        """Move claims whose public notice (5 working days) has passed with no open objection on
        to finance (run daily, e.g. from cron at 00:20)."""
        from server.services import claim_review

        ended = claim_review.end_due_notices()
        click.echo(f"{len(ended)} notice(s) ended" + (": " + ", ".join(ended[:20]) if ended else ""))

    @app.cli.command("purge-selfies")
    def purge_selfies() -> None:
        """Delete selfies older than each region's evidence period (run daily); check-in rows stay."""
        from server.services import checkins

        click.echo(f"purged {checkins.purge_selfies()} selfie(s)")

    @app.cli.command("recompute-flags")
    @click.argument("class_id", type=int)
    def recompute_flags(class_id: int) -> None:
        """Recompute the flags of every check-in of a class against all the others."""
        from server.services import checkins

        click.echo(f"{checkins.recompute_flags(class_id)} check-in(s) changed")

    audit_group = click.Group("audit", help="The tamper-evident audit log.")

    @audit_group.command("verify")
    def audit_verify() -> None:
        """Check the hash chain; exit 1 and name the first bad event if it is broken."""
        from server.services import audit

        problem, count, head = audit.verify()
        if problem is None:
            click.echo(f"audit chain OK: {count} events, head {head}")
            return
        click.echo(f"audit chain BROKEN at event {problem.seq} ({problem.kind}): {problem.message}",
                   err=True)
        raise SystemExit(1)

    app.cli.add_command(audit_group)
