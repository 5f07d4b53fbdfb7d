"""The schema as of revision 0016, in one step.

Revisions 0001 to 0016 (the foundation, the outbox, delivery, cases,
appointments, the diary, report indexes, inbound leases, the access log, home
claims, privacy consent and update-id reuse) were squashed into this baseline
before any district ran the bot: a database already at 0016 is unchanged by it,
and a new one is created by it.  A database at an older revision is upgraded
with a release from before the squash first (``git log -- models/migrations``).

Revision ID: 0016
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql, sqlite

import models.base

revision = "0016"
down_revision = None

# The column types the models spell with variants, named once.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = (
    sa.JSON()
    .with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")
    .with_variant(sqlite.JSON(), "sqlite")
)
UTC = models.base.UTCDateTime(timezone=True)

TABLES = (
    "case_counters",
    "delivery_state",
    "departments",
    "districts",
    "fsm_records",
    "holidays",
    "inbound_updates",
    "job_runs",
    "service_items",
    "communities",
    "grids",
    "stations",
    "appointment_slots",
    "buildings",
    "station_services",
    "users",
    "access_log",
    "appointment_closures",
    "appointment_plans",
    "appointments",
    "broadcasts",
    "canned_replies",
    "cases",
    "households",
    "invites",
    "outbox",
    "patrols",
    "broadcast_acks",
    "case_escalations",
    "case_events",
    "case_followers",
    "case_handovers",
    "case_ratings",
    "diary_entries",
    "household_tags",
    "role_grants",
    "case_attachments",
    "diary_attachments",
    "diary_entry_revisions",
)


def upgrade() -> None:
    op.create_table(
        "case_counters",
        sa.Column("district_code", sa.String(length=32), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("district_code", "year", name=op.f("pk_case_counters")),
    )
    op.create_table(
        "delivery_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("tat", sa.Float(), nullable=False),
        sa.Column("paused_until", sa.Float(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_state")),
    )
    op.create_table(
        "departments",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("ack_hours", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("code", name=op.f("uq_departments_code")),
    )
    op.create_table(
        "districts",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_districts")),
        sa.UniqueConstraint("code", name=op.f("uq_districts_code")),
    )
    op.create_table(
        "fsm_records",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=200), nullable=True),
        sa.Column("data", sa.String(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_fsm_records")),
    )
    op.create_table(
        "holidays",
        sa.Column("id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("holiday", "workday", name="holidaykind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_holidays")),
        sa.UniqueConstraint("day", name=op.f("uq_holidays_day")),
    )
    op.create_table(
        "inbound_updates",
        sa.Column("id", ID, nullable=False),
        sa.Column("bot_id", sa.BigInteger(), nullable=False),
        sa.Column("update_id", sa.BigInteger(), nullable=False),
        sa.Column("chat_id", sa.BigInteger(), nullable=True),
        sa.Column("payload", sa.String(), nullable=False),
        sa.Column("payload_hash", sa.String(length=32), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending", "done", "failed", name="inboundstatus", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("received_at", UTC, nullable=False),
        sa.Column("processed_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_updates")),
        sa.UniqueConstraint(
            "bot_id",
            "update_id",
            "payload_hash",
            name=op.f("uq_inbound_updates_bot_id_update_id_payload_hash"),
        ),
    )
    with op.batch_alter_table("inbound_updates", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_updates_bot_id_chat_id_update_id",
            ["bot_id", "chat_id", "update_id"],
            unique=False,
        )
        batch_op.create_index("ix_inbound_updates_status_id", ["status", "id"], unique=False)

    op.create_table(
        "job_runs",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "running",
                "done",
                "failed",
                "skipped",
                name="jobrunstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", UTC, nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint("name", "due_at", name=op.f("uq_job_runs_name_due_at")),
    )
    op.create_table(
        "service_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "proxy",
                "appointment",
                "report",
                "consult",
                name="servicekind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("names", JSON, nullable=False),
        sa.Column("descriptions", JSON, nullable=False),
        sa.Column("accept_hours", sa.Integer(), nullable=False),
        sa.Column("resolve_hours", sa.Integer(), nullable=False),
        sa.Column("sort_order", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_items")),
        sa.UniqueConstraint("code", name=op.f("uq_service_items_code")),
    )
    op.create_table(
        "communities",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("district_id", ID, nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["district_id"],
            ["districts.id"],
            name=op.f("fk_communities_district_id_districts"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_communities")),
        sa.UniqueConstraint("code", name=op.f("uq_communities_code")),
    )
    with op.batch_alter_table("communities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_communities_district_id"), ["district_id"], unique=False
        )

    op.create_table(
        "grids",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("community_id", ID, nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column(
            "kind",
            sa.Enum("residential", "special", name="gridkind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_grids_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_grids")),
        sa.UniqueConstraint("code", name=op.f("uq_grids_code")),
    )
    with op.batch_alter_table("grids", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_grids_community_id"), ["community_id"], unique=False)

    op.create_table(
        "stations",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("community_id", ID, nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("address", JSON, nullable=False),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("opening_hours", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_stations_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stations")),
        sa.UniqueConstraint("code", name=op.f("uq_stations_code")),
    )
    with op.batch_alter_table("stations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_stations_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "appointment_slots",
        sa.Column("id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_appointment_slots_booked_not_negative")),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_items.id"],
            name=op.f("fk_appointment_slots_service_id_service_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_appointment_slots_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_slots")),
        sa.UniqueConstraint(
            "station_id",
            "service_id",
            "starts_at",
            name=op.f("uq_appointment_slots_station_id_service_id_starts_at"),
        ),
    )
    op.create_table(
        "buildings",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("grid_id", ID, nullable=False),
        sa.Column("names", JSON, nullable=False),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("units", sa.Integer(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_buildings_grid_id_grids"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_buildings")),
        sa.UniqueConstraint("code", name=op.f("uq_buildings_code")),
    )
    with op.batch_alter_table("buildings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_buildings_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "station_services",
        sa.Column("id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_items.id"],
            name=op.f("fk_station_services_service_id_service_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_station_services_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_station_services")),
        sa.UniqueConstraint(
            "station_id", "service_id", name=op.f("uq_station_services_station_id_service_id")
        ),
    )
    with op.batch_alter_table("station_services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_station_services_service_id"), ["service_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_station_services_station_id"), ["station_id"], unique=False
        )

    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=True),
        sa.Column("first_name", sa.String(length=128), nullable=False),
        sa.Column("last_name", sa.String(length=128), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=True),
        sa.Column("phone", sa.String(length=32), nullable=True),
        sa.Column("building_id", ID, nullable=True),
        sa.Column("grid_id", ID, nullable=True),
        sa.Column("registered_at", UTC, nullable=True),
        sa.Column("home_confirmed_at", UTC, nullable=True),
        sa.Column("home_confirmed_by_id", ID, nullable=True),
        sa.Column("privacy_consent_at", UTC, nullable=True),
        sa.Column("unreachable", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_users_building_id_buildings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_users_grid_id_grids"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["home_confirmed_by_id"],
            ["users.id"],
            name=op.f("fk_users_home_confirmed_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("telegram_id", name=op.f("uq_users_telegram_id")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_building_id"), ["building_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_grid_id"), ["grid_id"], unique=False)

    op.create_table(
        "access_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column(
            "action",
            sa.Enum(
                "phone_viewed",
                "tags_viewed",
                "role_granted",
                "role_revoked",
                name="accessaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("subject_id", ID, nullable=True),
        sa.Column("object_type", sa.String(length=16), nullable=True),
        sa.Column("object_id", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("community_id", sa.BigInteger(), nullable=True),
        sa.Column("district_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_access_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["subject_id"],
            ["users.id"],
            name=op.f("fk_access_log_subject_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index("ix_access_log_community_id_id", ["community_id", "id"], unique=False)
        batch_op.create_index("ix_access_log_district_id_id", ["district_id", "id"], unique=False)

    op.create_table(
        "appointment_closures",
        sa.Column("id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_appointment_closures_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_appointment_closures_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_closures")),
        sa.UniqueConstraint(
            "station_id", "day", name=op.f("uq_appointment_closures_station_id_day")
        ),
    )
    op.create_table(
        "appointment_plans",
        sa.Column("id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("weekly", JSON, nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("min_notice_minutes", sa.Integer(), nullable=False),
        sa.Column("cancel_cutoff_minutes", sa.Integer(), nullable=False),
        sa.Column("at_home", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_by_id", ID, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_items.id"],
            name=op.f("fk_appointment_plans_service_id_service_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_appointment_plans_station_id_stations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by_id"],
            ["users.id"],
            name=op.f("fk_appointment_plans_updated_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_plans")),
        sa.UniqueConstraint(
            "station_id", "service_id", name=op.f("uq_appointment_plans_station_id_service_id")
        ),
    )
    with op.batch_alter_table("appointment_plans", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_plans_service_id"), ["service_id"], unique=False
        )

    op.create_table(
        "appointments",
        sa.Column("id", ID, nullable=False),
        sa.Column("slot_id", ID, nullable=False),
        sa.Column("station_id", ID, nullable=False),
        sa.Column("service_id", ID, nullable=False),
        sa.Column("resident_id", ID, nullable=False),
        sa.Column("starts_at", UTC, nullable=False),
        sa.Column("ends_at", UTC, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "booked",
                "cancelled",
                "attended",
                "no_show",
                name="appointmentstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("at_home", sa.Boolean(), nullable=False),
        sa.Column("proxy", sa.Boolean(), nullable=False),
        sa.Column("booked_by_id", ID, nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "cancel_reason",
            sa.Enum(
                "resident", "closure", "holiday", name="cancelreason", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("cancelled_at", UTC, nullable=True),
        sa.Column("cancelled_by_id", ID, nullable=True),
        sa.Column("marked_at", UTC, nullable=True),
        sa.Column("marked_by_id", ID, nullable=True),
        sa.Column(
            "follow_up",
            sa.Enum(
                "offered",
                "proxy",
                "home_visit",
                "rebooked",
                name="followup",
                native_enum=False,
                length=16,
            ),
            nullable=True,
        ),
        sa.Column("follow_up_case_id", sa.BigInteger(), nullable=True),
        sa.Column("rebooked_as_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["booked_by_id"],
            ["users.id"],
            name=op.f("fk_appointments_booked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by_id"],
            ["users.id"],
            name=op.f("fk_appointments_cancelled_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["marked_by_id"],
            ["users.id"],
            name=op.f("fk_appointments_marked_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["users.id"],
            name=op.f("fk_appointments_resident_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_items.id"],
            name=op.f("fk_appointments_service_id_service_items"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["appointment_slots.id"],
            name=op.f("fk_appointments_slot_id_appointment_slots"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["station_id"],
            ["stations.id"],
            name=op.f("fk_appointments_station_id_stations"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_appointments_resident_id_status_starts_at",
            ["resident_id", "status", "starts_at"],
            unique=False,
        )
        batch_op.create_index("ix_appointments_station_id_day", ["station_id", "day"], unique=False)
        batch_op.create_index("ix_appointments_status_day", ["status", "day"], unique=False)
        batch_op.create_index(
            "uq_appointments_slot_resident_booked",
            ["slot_id", "resident_id"],
            unique=True,
            sqlite_where=sa.text("status = 'booked'"),
            postgresql_where=sa.text("status = 'booked'"),
        )

    op.create_table(
        "broadcasts",
        sa.Column("id", ID, nullable=False),
        sa.Column("created_by_user_id", ID, nullable=True),
        sa.Column(
            "scope_type",
            sa.Enum(
                "district",
                "community",
                "grid",
                "building",
                name="broadcastscope",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scope_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "audience",
            sa.Enum(
                "residents",
                "workers",
                "both",
                name="broadcastaudience",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("text", sa.String(length=4096), nullable=False),
        sa.Column("photo", sa.String(length=256), nullable=True),
        sa.Column("document", sa.String(length=256), nullable=True),
        sa.Column("ack_requested", sa.Boolean(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "paused",
                "cancelled",
                "done",
                name="broadcaststatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scheduled_at", UTC, nullable=True),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("progress_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_message_id", sa.BigInteger(), nullable=True),
        sa.Column("progress_text", sa.String(length=4096), nullable=True),
        sa.Column("followup_at", UTC, nullable=True),
        sa.Column("followup_sent_at", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("started_at", UTC, nullable=True),
        sa.Column("finished_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_broadcasts_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    with op.batch_alter_table("broadcasts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_broadcasts_created_by_user_id"), ["created_by_user_id"], unique=False
        )
        batch_op.create_index(
            "ix_broadcasts_status_followup_at", ["status", "followup_at"], unique=False
        )

    op.create_table(
        "canned_replies",
        sa.Column("id", ID, nullable=False),
        sa.Column("community_id", ID, nullable=True),
        sa.Column("title", sa.String(length=64), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", ID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_canned_replies_community_id_communities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_canned_replies_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_canned_replies")),
    )
    with op.batch_alter_table("canned_replies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_canned_replies_community_id"), ["community_id"], unique=False
        )

    op.create_table(
        "cases",
        sa.Column("id", ID, nullable=False),
        sa.Column("number", sa.String(length=40), nullable=True),
        sa.Column(
            "kind",
            sa.Enum("proxy", "report", "request", name="casekind", native_enum=False, length=16),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "new",
                "accepted",
                "in_progress",
                "resolved",
                "reopened",
                "closed",
                name="casestatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("service_id", ID, nullable=True),
        sa.Column("resident_id", ID, nullable=False),
        sa.Column("community_id", ID, nullable=False),
        sa.Column("grid_id", ID, nullable=False),
        sa.Column("building_id", ID, nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("needed_by", sa.Date(), nullable=True),
        sa.Column("authorisation", sa.Text(), nullable=True),
        sa.Column("owner_id", ID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("submitted_at", UTC, nullable=True),
        sa.Column("accepted_at", UTC, nullable=True),
        sa.Column("resolved_at", UTC, nullable=True),
        sa.Column("closed_at", UTC, nullable=True),
        sa.Column(
            "close_reason",
            sa.Enum(
                "confirmed", "auto", "withdrawn", name="closereason", native_enum=False, length=16
            ),
            nullable=True,
        ),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("accept_due_at", UTC, nullable=True),
        sa.Column("resolve_due_at", UTC, nullable=True),
        sa.Column("accept_escalated_at", UTC, nullable=True),
        sa.Column("resolve_escalated_at", UTC, nullable=True),
        sa.Column("emergency", sa.Boolean(), nullable=False),
        sa.Column("emergency_at", UTC, nullable=True),
        sa.Column("emergency_level", sa.Integer(), nullable=False),
        sa.Column("emergency_next_at", UTC, nullable=True),
        sa.Column("emergency_ack_at", UTC, nullable=True),
        sa.Column("emergency_ack_by_id", ID, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_cases_building_id_buildings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["community_id"],
            ["communities.id"],
            name=op.f("fk_cases_community_id_communities"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["emergency_ack_by_id"],
            ["users.id"],
            name=op.f("fk_cases_emergency_ack_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_cases_grid_id_grids"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["users.id"], name=op.f("fk_cases_owner_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["users.id"],
            name=op.f("fk_cases_resident_id_users"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["service_items.id"],
            name=op.f("fk_cases_service_id_service_items"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cases")),
        sa.UniqueConstraint("number", name=op.f("uq_cases_number")),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index(
            "ix_cases_building_id_service_id_submitted_at",
            ["building_id", "service_id", "submitted_at"],
            unique=False,
        )
        batch_op.create_index(
            "ix_cases_community_id_status", ["community_id", "status"], unique=False
        )
        batch_op.create_index("ix_cases_emergency_next_at", ["emergency_next_at"], unique=False)
        batch_op.create_index("ix_cases_grid_id_status", ["grid_id", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_cases_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(
            "ix_cases_resident_id_status", ["resident_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_cases_status_accept_due_at", ["status", "accept_due_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_status_resolve_due_at", ["status", "resolve_due_at"], unique=False
        )
        batch_op.create_index(
            "ix_cases_status_resolved_at", ["status", "resolved_at"], unique=False
        )

    op.create_table(
        "households",
        sa.Column("id", ID, nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("grid_id", ID, nullable=False),
        sa.Column("building_id", ID, nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("last_visit_at", UTC, nullable=True),
        sa.Column("visit_due_on", sa.Date(), nullable=True),
        sa.Column("sensitive_consent_at", UTC, nullable=True),
        sa.Column("sensitive_consent_by_id", ID, nullable=True),
        sa.Column("resident_id", ID, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_households_building_id_buildings"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_households_grid_id_grids"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["users.id"],
            name=op.f("fk_households_resident_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sensitive_consent_by_id"],
            ["users.id"],
            name=op.f("fk_households_sensitive_consent_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
        sa.UniqueConstraint("code", name=op.f("uq_households_code")),
    )
    with op.batch_alter_table("households", schema=None) as batch_op:
        batch_op.create_index("ix_households_building_id", ["building_id"], unique=False)
        batch_op.create_index(
            "ix_households_grid_id_visit_due_on", ["grid_id", "visit_due_on"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_households_resident_id"), ["resident_id"], unique=False
        )

    op.create_table(
        "invites",
        sa.Column("id", ID, nullable=False),
        sa.Column("payload", sa.String(length=64), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "worker",
                "grid_head",
                "staff",
                "department",
                "admin",
                name="role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "scope_type",
            sa.Enum(
                "grid",
                "community",
                "department",
                "district",
                name="scopetype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scope_id", sa.BigInteger(), nullable=False),
        sa.Column("scope_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("created_by_user_id", ID, nullable=True),
        sa.Column("expires_at", UTC, nullable=False),
        sa.Column("used_at", UTC, nullable=True),
        sa.Column("used_by_user_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_user_id"],
            ["users.id"],
            name=op.f("fk_invites_created_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["used_by_user_id"],
            ["users.id"],
            name=op.f("fk_invites_used_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invites")),
        sa.UniqueConstraint("payload", name=op.f("uq_invites_payload")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "emergency",
                "case_update",
                "reminder",
                "nudge",
                "digest",
                "broadcast",
                name="outboxkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "claimed",
                "sending",
                "sent",
                "unknown",
                "failed",
                "unreachable",
                "cancelled",
                name="outboxstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("due_at", UTC, nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("resends", sa.Integer(), server_default="0", nullable=False),
        sa.Column("event_at", UTC, nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_expires_at", UTC, nullable=True),
        sa.Column("telegram_message_id", sa.BigInteger(), nullable=True),
        sa.Column("sent_at", UTC, nullable=True),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("broadcast_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_outbox_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_outbox_dedupe_key")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_broadcast_id_status", ["broadcast_id", "status"], unique=False
        )
        batch_op.create_index(
            "ix_outbox_status_next_attempt_at", ["status", "next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_user_id"), ["user_id"], unique=False)

    op.create_table(
        "patrols",
        sa.Column("id", ID, nullable=False),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("grid_id", ID, nullable=False),
        sa.Column("started_at", UTC, nullable=False),
        sa.Column("ended_at", UTC, nullable=True),
        sa.Column(
            "end_reason",
            sa.Enum("manual", "auto", name="patrolend", native_enum=False, length=16),
            nullable=True,
        ),
        sa.Column("start_latitude", sa.Float(), nullable=True),
        sa.Column("start_longitude", sa.Float(), nullable=True),
        sa.Column("last_latitude", sa.Float(), nullable=True),
        sa.Column("last_longitude", sa.Float(), nullable=True),
        sa.Column("last_location_at", UTC, nullable=True),
        sa.Column("live_until", UTC, nullable=True),
        sa.Column("current_building_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["current_building_id"],
            ["buildings.id"],
            name=op.f("fk_patrols_current_building_id_buildings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"], ["grids.id"], name=op.f("fk_patrols_grid_id_grids"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["users.id"],
            name=op.f("fk_patrols_worker_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_patrols")),
    )
    with op.batch_alter_table("patrols", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patrols_grid_id_started_at", ["grid_id", "started_at"], unique=False
        )
        batch_op.create_index(
            "ix_patrols_worker_id_started_at", ["worker_id", "started_at"], unique=False
        )
        batch_op.create_index(
            "uq_patrols_open_worker",
            ["worker_id"],
            unique=True,
            sqlite_where=sa.text("ended_at IS NULL"),
            postgresql_where=sa.text("ended_at IS NULL"),
        )

    op.create_table(
        "broadcast_acks",
        sa.Column("id", ID, nullable=False),
        sa.Column("broadcast_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("acked_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["broadcast_id"],
            ["broadcasts.id"],
            name=op.f("fk_broadcast_acks_broadcast_id_broadcasts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_broadcast_acks_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcast_acks")),
        sa.UniqueConstraint(
            "broadcast_id", "user_id", name=op.f("uq_broadcast_acks_broadcast_id_user_id")
        ),
    )
    with op.batch_alter_table("broadcast_acks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_broadcast_acks_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_escalations",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("department_id", ID, nullable=False),
        sa.Column("requested_by_id", ID, nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("ack_due_at", UTC, nullable=False),
        sa.Column("acknowledged_at", UTC, nullable=True),
        sa.Column("acknowledged_by_id", ID, nullable=True),
        sa.Column("overdue_alerted_at", UTC, nullable=True),
        sa.Column("reported_at", UTC, nullable=True),
        sa.Column("reported_by_id", ID, nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["users.id"],
            name=op.f("fk_case_escalations_acknowledged_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_escalations_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["departments.id"],
            name=op.f("fk_case_escalations_department_id_departments"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["reported_by_id"],
            ["users.id"],
            name=op.f("fk_case_escalations_reported_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_id"],
            ["users.id"],
            name=op.f("fk_case_escalations_requested_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_escalations")),
    )
    with op.batch_alter_table("case_escalations", schema=None) as batch_op:
        batch_op.create_index("ix_case_escalations_ack_due_at", ["ack_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_case_escalations_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_case_escalations_department_id_reported_at",
            ["department_id", "reported_at"],
            unique=False,
        )

    op.create_table(
        "case_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column(
            "actor_role",
            sa.Enum(
                "resident",
                "worker",
                "grid_head",
                "staff",
                "department",
                "admin",
                "system",
                name="actorrole",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "type",
            sa.Enum(
                "submitted",
                "follower_joined",
                "accepted",
                "started",
                "message",
                "note",
                "handover",
                "resolved",
                "confirmed",
                "reopened",
                "auto_closed",
                "withdrawn",
                "rated",
                "accept_overdue",
                "handling_overdue",
                "dept_called",
                "dept_acknowledged",
                "dept_ack_overdue",
                "dept_reported",
                "emergency_flagged",
                "emergency_alerted",
                "emergency_acknowledged",
                "returned",
                name="caseeventtype",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("data", JSON, nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_case_events_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_case_events_case_id_cases"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_case_id_id", ["case_id", "id"], unique=False)
        batch_op.create_index("ix_case_events_type_at", ["type", "at"], unique=False)

    op.create_table(
        "case_followers",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_followers_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_case_followers_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_followers")),
        sa.UniqueConstraint("case_id", "user_id", name=op.f("uq_case_followers_case_id_user_id")),
    )
    with op.batch_alter_table("case_followers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_followers_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_handovers",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column(
            "direction",
            sa.Enum(
                "to_worker", "to_resident", name="handoverdirection", native_enum=False, length=16
            ),
            nullable=False,
        ),
        sa.Column("document", sa.String(length=200), nullable=False),
        sa.Column("photo_file_id", sa.String(length=256), nullable=True),
        sa.Column("photo_unique_id", sa.String(length=128), nullable=True),
        sa.Column("recorded_by_id", ID, nullable=True),
        sa.Column("at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_handovers_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"],
            ["users.id"],
            name=op.f("fk_case_handovers_recorded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_handovers")),
    )
    with op.batch_alter_table("case_handovers", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_case_handovers_case_id"), ["case_id"], unique=False)

    op.create_table(
        "case_ratings",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("resident_id", ID, nullable=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name=op.f("ck_case_ratings_score_range")),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_ratings_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resident_id"],
            ["users.id"],
            name=op.f("fk_case_ratings_resident_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_ratings")),
        sa.UniqueConstraint("case_id", name=op.f("uq_case_ratings_case_id")),
    )
    op.create_table(
        "diary_entries",
        sa.Column("id", ID, nullable=False),
        sa.Column("worker_id", ID, nullable=False),
        sa.Column("grid_id", ID, nullable=False),
        sa.Column("patrol_id", ID, nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "visit",
                "opinion",
                "problem",
                "note",
                name="entrykind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("building_id", ID, nullable=True),
        sa.Column("household_id", ID, nullable=True),
        sa.Column("unit", sa.String(length=32), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("resident_name", sa.String(length=64), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("message_id", sa.BigInteger(), nullable=True),
        sa.Column("occurred_at", UTC, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.Column("deleted_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["building_id"],
            ["buildings.id"],
            name=op.f("fk_diary_entries_building_id_buildings"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["grid_id"],
            ["grids.id"],
            name=op.f("fk_diary_entries_grid_id_grids"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_diary_entries_household_id_households"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patrol_id"],
            ["patrols.id"],
            name=op.f("fk_diary_entries_patrol_id_patrols"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["worker_id"],
            ["users.id"],
            name=op.f("fk_diary_entries_worker_id_users"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_entries")),
    )
    with op.batch_alter_table("diary_entries", schema=None) as batch_op:
        batch_op.create_index("ix_diary_entries_case_id", ["case_id"], unique=False)
        batch_op.create_index(
            "ix_diary_entries_grid_report",
            [
                "grid_id",
                "day",
                "worker_id",
                "kind",
                "category",
                "deleted_at",
                "case_id",
                "household_id",
            ],
            unique=False,
        )
        batch_op.create_index("ix_diary_entries_household_id", ["household_id"], unique=False)
        batch_op.create_index("ix_diary_entries_patrol_id_id", ["patrol_id", "id"], unique=False)
        batch_op.create_index(
            "ix_diary_entries_worker_report",
            [
                "worker_id",
                "day",
                "grid_id",
                "kind",
                "category",
                "deleted_at",
                "case_id",
                "household_id",
            ],
            unique=False,
        )

    op.create_table(
        "household_tags",
        sa.Column("id", ID, nullable=False),
        sa.Column("household_id", ID, nullable=False),
        sa.Column(
            "tag",
            sa.Enum(
                "elderly_alone",
                "disabled",
                "member_hardship",
                "family_difficulty",
                "other",
                name="caretag",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("interval_days", sa.Integer(), nullable=False),
        sa.Column("set_by_id", ID, nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_household_tags_household_id_households"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["set_by_id"],
            ["users.id"],
            name=op.f("fk_household_tags_set_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_household_tags")),
        sa.UniqueConstraint("household_id", "tag", name=op.f("uq_household_tags_household_id_tag")),
    )
    op.create_table(
        "role_grants",
        sa.Column("id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "worker",
                "grid_head",
                "staff",
                "department",
                "admin",
                name="role",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column(
            "scope_type",
            sa.Enum(
                "grid",
                "community",
                "department",
                "district",
                name="scopetype",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("scope_id", sa.BigInteger(), nullable=False),
        sa.Column("granted_at", UTC, nullable=False),
        sa.Column("invite_id", ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["invite_id"],
            ["invites.id"],
            name=op.f("fk_role_grants_invite_id_invites"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grants")),
        sa.UniqueConstraint(
            "user_id",
            "role",
            "scope_type",
            "scope_id",
            name=op.f("uq_role_grants_user_id_role_scope_type_scope_id"),
        ),
    )
    with op.batch_alter_table("role_grants", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_grants_user_id"), ["user_id"], unique=False)

    op.create_table(
        "case_attachments",
        sa.Column("id", ID, nullable=False),
        sa.Column("case_id", ID, nullable=False),
        sa.Column("event_id", ID, nullable=True),
        sa.Column("uploaded_by_id", ID, nullable=True),
        sa.Column(
            "kind",
            sa.Enum(
                "photo",
                "voice",
                "audio",
                "video",
                "video_note",
                "document",
                "location",
                name="attachmentkind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("file_unique_id", sa.String(length=128), nullable=True),
        sa.Column("file_name", sa.String(length=256), nullable=True),
        sa.Column("mime_type", sa.String(length=128), nullable=True),
        sa.Column("caption", sa.Text(), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("phase", sa.String(length=16), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_case_attachments_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["case_events.id"],
            name=op.f("fk_case_attachments_event_id_case_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by_id"],
            ["users.id"],
            name=op.f("fk_case_attachments_uploaded_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_attachments")),
    )
    with op.batch_alter_table("case_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_case_attachments_case_id_id", ["case_id", "id"], unique=False)

    op.create_table(
        "diary_attachments",
        sa.Column("id", ID, nullable=False),
        sa.Column("entry_id", ID, nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "photo",
                "voice",
                "audio",
                "video",
                "video_note",
                "document",
                "location",
                name="diarymediakind",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("file_id", sa.String(length=256), nullable=True),
        sa.Column("file_unique_id", sa.String(length=128), nullable=True),
        sa.Column("latitude", sa.Float(), nullable=True),
        sa.Column("longitude", sa.Float(), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["diary_entries.id"],
            name=op.f("fk_diary_attachments_entry_id_diary_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_attachments")),
    )
    with op.batch_alter_table("diary_attachments", schema=None) as batch_op:
        batch_op.create_index("ix_diary_attachments_entry_id_id", ["entry_id", "id"], unique=False)

    op.create_table(
        "diary_entry_revisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("entry_id", ID, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum(
                "created",
                "added",
                "edited",
                "tagged",
                "deleted",
                "case_opened",
                name="revisionaction",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("at", UTC, nullable=False),
        sa.Column("by_id", ID, nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("snapshot", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["by_id"],
            ["users.id"],
            name=op.f("fk_diary_entry_revisions_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["diary_entries.id"],
            name=op.f("fk_diary_entry_revisions_entry_id_diary_entries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_diary_entry_revisions")),
        sa.UniqueConstraint(
            "entry_id", "version", name=op.f("uq_diary_entry_revisions_entry_id_version")
        ),
    )


def downgrade() -> None:
    # Tables go in the reverse order of their creation (children first); their
    # indexes and constraints go with them.
    for table in reversed(TABLES):
        op.drop_table(table)
