"""Migration 0020: the per-org VIP rules table appears, holds a row that leaves with its org,
and goes again on downgrade."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from migrations import runner


def test_org_vip_rules_up_and_down(empty_pg_url: str) -> None:
    runner.upgrade(empty_pg_url, "0020")
    engine = create_engine(empty_pg_url)
    try:
        assert "org_vip_rules" in inspect(engine).get_table_names()
        with engine.begin() as connection:
            org_id = connection.execute(
                text(
                    "INSERT INTO organizations (luma_calendar_id, name, key_ciphertext,"
                    " key_fingerprint, key_kind, webhook_token, plan, sync_interval_minutes,"
                    " created_at) VALUES ('cal-vip', 'Vip', '\\x00', 'abcd', 'calendar', 'tok',"
                    " 'free', 15, now()) RETURNING id"
                )
            ).scalar_one()
            connection.execute(
                text(
                    "INSERT INTO org_vip_rules (org_id, rules, updated_at)"
                    " VALUES (:org, '{\"threshold\": 70}', now())"
                ),
                {"org": org_id},
            )
            connection.execute(text("DELETE FROM organizations WHERE id = :org"), {"org": org_id})
            left = connection.execute(text("SELECT count(*) FROM org_vip_rules")).scalar_one()
        assert left == 0  # ON DELETE CASCADE
        runner.downgrade(empty_pg_url, "0019")
        assert "org_vip_rules" not in inspect(engine).get_table_names()
        runner.upgrade(empty_pg_url, "0020")
    finally:
        engine.dispose()
