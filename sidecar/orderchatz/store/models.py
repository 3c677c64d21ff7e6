"""The SQL store: friends, messages, webhook/plugin events, bindings, tags, staff notes.

Unique constraints are the real idempotency guard (DESIGN.md §6.5): a redelivered webhook event,
a repeated client message id, a forwarded order note the sidecar already knows all collide here.
Alembic migrations in `migrations/` create exactly this schema.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (BigInteger, Boolean, DateTime, ForeignKey, Index, Integer, String, Text,
                        UniqueConstraint, text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC, returns aware UTC: SQLite and MySQL keep no zone, PostgreSQL does."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    pass


class Friend(Base):
    __tablename__ = "friends"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    line_user_id: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(255), default="")
    picture_url: Mapped[str | None] = mapped_column(String(1024))
    status_message: Mapped[str | None] = mapped_column(String(1024))
    language: Mapped[str | None] = mapped_column(String(16))
    blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    followed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unfollowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    profile_refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_message_preview: Mapped[str] = mapped_column(String(120), default="")
    last_message_direction: Mapped[str | None] = mapped_column(String(8))
    unread_count: Mapped[int] = mapped_column(Integer, default=0)
    # Denormalised for the friend list: search by phone/name without joining every request.
    bound_label: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        # The friend list's only ordering: newest activity first, id as a stable tie-break.
        Index("ix_friends_activity", "last_activity_at", "id"),
        # filter=unread in list order, and the unread totals: a partial index of only the unread
        # friends (SQLite, PostgreSQL; MySQL/MariaDB build a plain one). An index led by
        # unread_count cannot serve `unread_count > 0 ORDER BY last_activity_at` (docs/benchmarks.md).
        Index("ix_friends_unread_activity", "last_activity_at", "id", "unread_count",
              sqlite_where=text("unread_count > 0"), postgresql_where=text("unread_count > 0")),
    )


class Message(Base):
    __tablename__ = "messages"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"))
    direction: Mapped[str] = mapped_column(String(8))  # in | out | system
    type: Mapped[str] = mapped_column(String(24))  # text, image, sticker, product, note, ...
    text: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[str | None] = mapped_column(Text)  # JSON: LINE message / card / extra fields
    line_message_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    quote_token: Mapped[str | None] = mapped_column(String(255))
    quoted_message_id: Mapped[str | None] = mapped_column(String(64))
    reply_token: Mapped[str | None] = mapped_column(String(255))
    reply_token_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    client_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="received")
    sent_via: Mapped[str | None] = mapped_column(String(8))  # reply | push
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # last send attempt began
    failure_code: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    media_status: Mapped[str | None] = mapped_column(String(16))  # pending | ready | unavailable
    media_path: Mapped[str | None] = mapped_column(String(512))
    media_content_type: Mapped[str | None] = mapped_column(String(128))
    unsent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    author_user_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_messages_friend_id", "friend_id", "id"),
    )


class WebhookEvent(Base):
    """Every LINE webhook event as received, keyed by `webhookEventId` (redeliveries collide)."""

    __tablename__ = "webhook_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    webhook_event_id: Mapped[str] = mapped_column(String(64), unique=True)
    event_type: Mapped[str] = mapped_column(String(40))
    line_user_id: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))  # processed | unsupported | invalid
    redelivery: Mapped[bool] = mapped_column(Boolean, default=False)
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Outbox(Base):
    """Follow-up jobs written in the same transaction as the data they act on.

    Enqueued into RQ after commit; if Redis was down, or lost the job, the worker's sweeper
    enqueues them again. `done_at` is set when the job has run to completion.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    ref: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("job", "ref", name="uq_outbox_job_ref"),
        Index("ix_outbox_pending", "done_at", "id"),
    )


class WpEvent(Base):
    """Events forwarded by the WordPress plugin, deduplicated on the plugin's `event_id`."""

    __tablename__ = "wp_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), unique=True)
    type: Mapped[str] = mapped_column(String(40))
    order_id: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24), default="received")
    detail: Mapped[str | None] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Binding(Base):
    """The current binding of a friend to a shop customer (one per friend)."""

    __tablename__ = "bindings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, index=True)  # registered customer
    email: Mapped[str | None] = mapped_column(String(255), index=True)  # lower-cased
    phone: Mapped[str | None] = mapped_column(String(32), index=True)  # normalised national digits
    display_name: Mapped[str | None] = mapped_column(String(255))
    method: Mapped[str] = mapped_column(String(16))  # staff | self
    bound_by: Mapped[str | None] = mapped_column(String(255))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class BindingHistory(Base):
    __tablename__ = "binding_history"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # bind | unbind
    customer_id: Mapped[int | None] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    method: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LinkNonce(Base):
    """Account-link nonces (LINE account-link flow); single use, short-lived."""

    __tablename__ = "link_nonces"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), unique=True)
    link_token: Mapped[str] = mapped_column(String(255))
    wp_user_id: Mapped[int] = mapped_column(Integer)
    email: Mapped[str | None] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LinkToken(Base):
    """Link tokens the sidecar issued, so the plugin's link page can be tied to a friend."""

    __tablename__ = "link_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    link_token: Mapped[str] = mapped_column(String(255), unique=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"), index=True)
    issued_by: Mapped[str | None] = mapped_column(String(255))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SidecarOrderNote(Base):
    """Order notes the sidecar itself created, so forwarded copies are not echoed back."""

    __tablename__ = "sidecar_order_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note_id: Mapped[int] = mapped_column(Integer, unique=True)
    order_id: Mapped[int] = mapped_column(Integer)
    customer_note: Mapped[bool] = mapped_column(Boolean)
    friend_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tag(Base):
    __tablename__ = "tags"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FriendTag(Base):
    __tablename__ = "friend_tags"
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True,
                                        index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class NoteCategory(Base):
    __tablename__ = "note_categories"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)
    position: Mapped[int] = mapped_column(Integer, default=0)


class StaffNote(Base):
    __tablename__ = "staff_notes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    friend_id: Mapped[int] = mapped_column(ForeignKey("friends.id", ondelete="CASCADE"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    body: Mapped[str] = mapped_column(Text)
    related_order_id: Mapped[int | None] = mapped_column(Integer)
    related_product_id: Mapped[int | None] = mapped_column(Integer)
    related_message_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    author_user_id: Mapped[str | None] = mapped_column(String(64))
    author_name: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


DEFAULT_NOTE_CATEGORIES = ("重要", "待處理", "已完成", "備忘")
