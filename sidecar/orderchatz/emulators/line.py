"""A local LINE Platform: the Messaging API the sidecar's SDK talks to, and the webhooks LINE sends.

One threaded HTTP server serves both `api.line.me` and `api-data.line.me` paths, so a
`linebot.v3.messaging.Configuration(host=emu.base_url)` reaches every endpoint (the SDK prefers
`configuration.host` over its per-operation hosts). It enforces what the real platform enforces
and the sidecar must survive:

- `Authorization: Bearer <channel access token>` (401 with LINE's wording otherwise);
- request bodies valid against LINE's OpenAPI spec plus the documented limits (`line_schema`);
- reply tokens: only the ones this emulator issued inside webhooks, single use, expiring
  ("about a minute", https://developers.line.biz/en/docs/messaging-api/sending-messages/#send-reply-messages);
- `X-Line-Retry-Key`: a UUID, push/multicast/broadcast only, a repeat within 24 h of an accepted
  request answers 409 with `x-line-accepted-request-id`
  (https://developers.line.biz/en/docs/messaging-api/retrying-api-request/);
- the monthly message limit (429 "You have reached your monthly limit.", replies are free) and the
  rate limit (429 "The API rate limit has been exceeded. Try again later.") as separate faults;
- users who blocked the account: pushes answer 200 and are not delivered nor counted, profiles
  answer 404 (LINE FAQ, "If you send a message specifying a user who has blocked the LINE Official
  Account ... status code 200 will be returned"); unknown user ids answer 400 "Failed to send
  messages";
- message content: 200 with bytes, 404 unknown, 410 expired.

Everything accepted is recorded (`emu.sent`), every request too (`emu.requests`), and faults are
injectable (`fail_next`, `delay_next`, `rate_limit_next`, `set_monthly_quota`).
"""
from __future__ import annotations

import copy
import json
import os
import re
import secrets
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Callable, Iterable

import requests
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from orderchatz.auth import line_signature
from orderchatz.emulators import line_events as ev
from orderchatz.emulators.line_schema import (
    REQUEST_SCHEMAS,
    build_validator,
    default_spec_path,
    dotted,
    line_error_body,
)

DEFAULT_REPLY_TOKEN_TTL = 60.0
RETRY_KEY_WINDOW = 24 * 3600.0          # "The retry key is valid for 24 hours after the first request"
LINK_TOKEN_TTL = 600.0                  # "Link tokens are valid for 10 minutes and can only be used once"
MAX_BODY_BYTES = 2 * 1024 * 1024        # 413 "Request exceeds the max size of 2MB"

# Message texts from https://developers.line.biz/en/reference/messaging-api/#error-messages
MSG_NO_AUTH = "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'"
MSG_BAD_TOKEN = "Authentication failed. Confirm that the access token in the authorization header is valid."
MSG_INVALID_REPLY_TOKEN = "Invalid reply token"
MSG_RETRY_ACCEPTED = "The retry key is already accepted"
MSG_MONTHLY_LIMIT = "You have reached your monthly limit."
MSG_RATE_LIMIT = "The API rate limit has been exceeded. Try again later."
MSG_FAILED_TO_SEND = "Failed to send messages"
MSG_NOT_FOUND = "Not found"
MSG_NOT_AVAILABLE = "Access to this API is not available for your account"
# Not worded in LINE's docs (only the status is): the emulator's own, kept LINE-like.
MSG_RETRY_KEY_UNSUPPORTED = "X-Line-Retry-Key is not supported for this endpoint"
MSG_RETRY_KEY_INVALID = "The retry key must be a UUID in hexadecimal format"
MSG_CONTENT_GONE = "The content is no longer available"

# Placeholder bytes for media in the shared fixture events (the sample carries no content).
_FIXTURE_CONTENT = {
    "image": (b"\xff\xd8\xff\xe0fixture-image\xff\xd9", "image/jpeg"),
    "video": (b"\x00\x00\x00\x18ftypmp42fixture-video", "video/mp4"),
    "audio": (b"\x00\x00\x00\x18ftypM4A fixture-audio", "audio/x-m4a"),
    "file": (b"fixture-file", "application/octet-stream"),
}
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Message types that come back with a quoteToken in `sentMessages` (reference: "quote target").
_QUOTABLE = {"text", "textV2", "sticker", "image", "video"}


@dataclass(frozen=True)
class SentMessage:
    """One chat that LINE accepted messages for (a multicast yields one record per recipient)."""

    kind: str                          # "reply" | "push" | "multicast" | "broadcast"
    to: str                            # user, group or room id
    messages: list[dict]               # the message objects as LINE received them
    retry_key: str | None
    reply_token: str | None
    at: float
    request_id: str
    message_ids: list[str]             # `sentMessages[].id` returned to the bot
    delivered: bool                    # False when the user had blocked the account
    notification_disabled: bool = False

    @property
    def texts(self) -> list[str]:
        return [m.get("text", "") for m in self.messages if m.get("type") in ("text", "textV2")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "to": self.to, "messages": copy.deepcopy(self.messages), "retry_key": self.retry_key,
            "reply_token": self.reply_token, "at": self.at, "request_id": self.request_id,
            "message_ids": list(self.message_ids), "delivered": self.delivered,
            "notification_disabled": self.notification_disabled,
        }


@dataclass(frozen=True)
class RecordedRequest:
    """Every API request the emulator answered, accepted or not."""

    method: str
    path: str
    query: str
    status: int
    headers: dict[str, str]            # Authorization is masked
    body: bytes
    response_body: bytes
    at: float
    request_id: str

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def response_json(self) -> Any:
        try:
            return json.loads(self.response_body)
        except ValueError:
            return None


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    body: bytes
    signature: str | None
    status: int | None
    response_text: str
    at: float


@dataclass(frozen=True)
class LinkToken:
    token: str
    user_id: str
    issued_at: float


@dataclass
class _Fault:
    prefix: str
    method: str | None
    status: int | None
    body: Any
    remaining: int
    delay: float
    accepted: bool
    headers: dict[str, str]


@dataclass
class _ReplyToken:
    chat_id: str
    user_id: str | None
    issued_at: float
    used: bool = False


@dataclass
class _Content:
    data: bytes
    content_type: str
    preview: bytes | None
    expired: bool = False


@dataclass
class _Accepted:
    at: float
    request_id: str
    sent_messages: list[dict]


class _QuietHandler(WSGIRequestHandler):
    """No access log lines: tests and benchmarks send thousands of requests."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        return None

    def log(self, *args: Any, **kwargs: Any) -> None:
        return None


_ROUTES = Map([
    Rule("/v2/bot/message/reply", methods=["POST"], endpoint="reply"),
    Rule("/v2/bot/message/push", methods=["POST"], endpoint="push"),
    Rule("/v2/bot/message/multicast", methods=["POST"], endpoint="multicast"),
    Rule("/v2/bot/message/broadcast", methods=["POST"], endpoint="broadcast"),
    Rule("/v2/bot/message/validate/<any(reply,push,multicast,broadcast,narrowcast):kind>", methods=["POST"],
         endpoint="validate"),
    Rule("/v2/bot/message/quota", methods=["GET"], endpoint="quota"),
    Rule("/v2/bot/message/quota/consumption", methods=["GET"], endpoint="consumption"),
    Rule("/v2/bot/message/markAsRead", methods=["POST"], endpoint="mark_read"),
    Rule("/v2/bot/message/<message_id>/content", methods=["GET"], endpoint="content"),
    Rule("/v2/bot/message/<message_id>/content/preview", methods=["GET"], endpoint="content_preview"),
    Rule("/v2/bot/message/<message_id>/content/transcoding", methods=["GET"], endpoint="transcoding"),
    Rule("/v2/bot/profile/<user_id>", methods=["GET"], endpoint="profile"),
    Rule("/v2/bot/info", methods=["GET"], endpoint="bot_info"),
    Rule("/v2/bot/user/<user_id>/linkToken", methods=["POST"], endpoint="link_token"),
    Rule("/v2/bot/chat/loading/start", methods=["POST"], endpoint="loading"),
    Rule("/v2/bot/chat/markAsRead", methods=["POST"], endpoint="mark_read_by_token"),
    Rule("/dialog/bot/accountLink", methods=["GET"], endpoint="account_link_dialog"),
])

_RETRY_KEY_ENDPOINTS = {"push", "multicast", "broadcast"}
_UNAUTHENTICATED = {"account_link_dialog"}


class _Reject(Exception):
    """An API answer decided early (status, JSON body, extra headers)."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


class LineEmulator:
    """The LINE Messaging API + webhook sender, in-process. See the module docstring."""

    def __init__(self, channel_secret: str = "emulator-channel-secret",
                 access_token: str = "emulator-channel-access-token", *,
                 reply_token_ttl: float = DEFAULT_REPLY_TOKEN_TTL,
                 spec_path: str | os.PathLike | None = None,
                 bot_user_id: str = "U" + "0" * 31 + "1",
                 bot_display_name: str = "OrderChatz Shop",
                 bot_basic_id: str = "@orderchatz",
                 accept_unknown_recipients: bool = False,
                 partner_features: bool = False,
                 webhook_url: str | None = None,
                 keep_requests: int = 50_000,
                 clock: Callable[[], float] = time.time):
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.reply_token_ttl = reply_token_ttl
        self.spec_path = Path(spec_path) if spec_path is not None else default_spec_path()
        self.validator, self.spec_loaded = build_validator(self.spec_path)
        self.bot_user_id = bot_user_id
        self.bot_display_name = bot_display_name
        self.bot_basic_id = bot_basic_id
        self.accept_unknown_recipients = accept_unknown_recipients
        self.partner_features = partner_features
        self.webhook_url = webhook_url
        self.clock = clock
        self.keep_requests = keep_requests     # benchmarks send many; only the newest are kept
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.base_url = ""
        self._reset_state()

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1", port: int = 0) -> "LineEmulator":
        if self._server is not None:
            return self
        self._server = make_server(host, port, self._wsgi, threaded=True, request_handler=_QuietHandler)
        self.base_url = f"http://{host}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="line-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server, self._thread = None, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "LineEmulator":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._server.server_port if self._server is not None else 0

    def reset(self) -> None:
        """Forget everything recorded and configured at runtime (users, tokens, faults, quota)."""
        with self._lock:
            self._reset_state()

    def _reset_state(self) -> None:
        self._sent: list[SentMessage] = []
        self._errors: list[Exception] = []
        self._requests: deque[RecordedRequest] = deque(maxlen=self.keep_requests)
        self._deliveries: list[WebhookDelivery] = []
        self._faults: list[_Fault] = []
        self._reply_tokens: dict[str, _ReplyToken] = {}
        self._accepted_keys: dict[str, _Accepted] = {}
        self._profiles: dict[str, dict[str, str]] = {}
        self._chats: set[str] = set()
        self._blocked: set[str] = set()
        self._content: dict[str, _Content] = {}
        self._link_tokens: dict[str, LinkToken] = {}
        self._used_link_tokens: set[str] = set()
        self._read_tokens: dict[str, str] = {}
        self._read_marks: list[str] = []
        self._monthly_quota: int | None = None
        self._quota_used = 0
        # 18-digit numeric ids, like LINE message ids.
        self._next_id = 500000000000000000 + secrets.randbelow(10**17)

    # --- inspection --------------------------------------------------------------------------

    @property
    def sent(self) -> list[SentMessage]:
        with self._lock:
            return list(self._sent)

    @property
    def delivered(self) -> list[SentMessage]:
        return [s for s in self.sent if s.delivered]

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    @property
    def errors(self) -> list[Exception]:
        """Exceptions raised inside the emulator while answering (each answered 500)."""
        with self._lock:
            return list(self._errors)

    @property
    def deliveries(self) -> list[WebhookDelivery]:
        with self._lock:
            return list(self._deliveries)

    @property
    def link_tokens(self) -> dict[str, LinkToken]:
        with self._lock:
            return dict(self._link_tokens)

    @property
    def read_marks(self) -> list[str]:
        """The markAsReadTokens the bot used, in order."""
        with self._lock:
            return list(self._read_marks)

    @property
    def quota_used(self) -> int:
        with self._lock:
            return self._quota_used

    def requests_to(self, path_prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    def wait_for_sent(self, n: int, timeout: float = 5.0) -> list[SentMessage]:
        """Block until at least `n` sends were accepted; TimeoutError (naming what arrived) otherwise."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self._sent) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    got = [(s.kind, s.to, s.texts) for s in self._sent]
                    raise TimeoutError(f"expected {n} sent message record(s) within {timeout}s, got {got}")
                self._changed.wait(left)
            return list(self._sent)

    # --- platform state ----------------------------------------------------------------------

    def set_profile(self, user_id: str, display_name: str, picture_url: str | None = None,
                    status_message: str | None = None, language: str | None = None) -> None:
        """Make `user_id` a friend of the account with this profile."""
        profile = {"userId": user_id, "displayName": display_name}
        if picture_url:
            profile["pictureUrl"] = picture_url
        if status_message:
            profile["statusMessage"] = status_message
        if language:
            profile["language"] = language
        with self._lock:
            self._profiles[user_id] = profile
            self._chats.add(user_id)

    def add_friend(self, user_id: str, display_name: str | None = None) -> None:
        with self._lock:
            if user_id in self._profiles and display_name is None:
                self._chats.add(user_id)
                return
        self.set_profile(user_id, display_name or f"LINE user {user_id[-4:]}")

    def block(self, user_id: str) -> None:
        """The user blocks the account: pushes still answer 200 but are not delivered."""
        with self._lock:
            self._chats.add(user_id)
            self._blocked.add(user_id)

    def unblock(self, user_id: str) -> None:
        with self._lock:
            self._blocked.discard(user_id)

    def is_blocked(self, user_id: str) -> bool:
        with self._lock:
            return user_id in self._blocked

    def add_content(self, message_id: str, data: bytes, content_type: str = "image/jpeg",
                    preview: bytes | None = None) -> None:
        with self._lock:
            self._content[str(message_id)] = _Content(bytes(data), content_type, preview)

    def expire_content(self, message_id: str) -> None:
        """LINE deletes content "after a certain period"; afterwards the download answers 410."""
        with self._lock:
            content = self._content.get(str(message_id))
            if content is None:
                self._content[str(message_id)] = _Content(b"", "application/octet-stream", None, expired=True)
            else:
                content.expired = True

    def set_monthly_quota(self, limit: int | None, used: int | None = None) -> None:
        """Limit push/multicast/broadcast deliveries this month (None = unlimited)."""
        with self._lock:
            self._monthly_quota = limit
            if used is not None:
                self._quota_used = used

    def fail_next(self, path_prefix: str, status: int | None, body: Any = None, times: int = 1,
                  delay: float = 0.0, *, method: str | None = None, accepted: bool = False,
                  headers: dict[str, str] | None = None) -> None:
        """Answer the next `times` requests under `path_prefix` with `status` after `delay` seconds.

        `body`: None → a LINE-style `{"message": ...}`; `b""` → an empty body; a dict/list → JSON;
        str/bytes → sent as is. `status=None` only delays and then answers normally.
        `accepted=True` processes the request first (the send is recorded, the retry key consumed)
        and then answers with the fault — LINE accepted it but the bot never saw the 200.
        """
        with self._lock:
            self._faults.append(_Fault(path_prefix, method.upper() if method else None, status, body, times,
                                       delay, accepted, dict(headers or {})))

    def delay_next(self, path_prefix: str, seconds: float, *, times: int = 1, method: str | None = None) -> None:
        self.fail_next(path_prefix, None, times=times, delay=seconds, method=method)

    def rate_limit_next(self, times: int = 1, path_prefix: str = "/v2/bot/") -> None:
        self.fail_next(path_prefix, 429, {"message": MSG_RATE_LIMIT}, times=times)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def issue_reply_token(self, user_id: str | None = None, *, source: dict | None = None) -> str:
        """A reply token for a chat, as if a webhook event had carried it."""
        src = source or ev.user_source(user_id or "")
        chat = ev.chat_id_of(src)
        if not chat:
            raise ValueError("a reply token needs a user, group or room")
        token = ev.new_reply_token()
        with self._lock:
            self._reply_tokens[token] = _ReplyToken(chat, src.get("userId"), self.clock())
            self._chats.add(chat)
        return token

    def expire_reply_token(self, token: str | None = None) -> None:
        """Age one reply token (or all) past the TTL without sleeping."""
        with self._lock:
            targets = [token] if token else list(self._reply_tokens)
            for t in targets:
                if t in self._reply_tokens:
                    self._reply_tokens[t].issued_at = float("-inf")

    def reply_token_used(self, token: str) -> bool:
        with self._lock:
            info = self._reply_tokens.get(token)
            return bool(info and info.used)

    def issue_link_token(self, user_id: str) -> str:
        """What `POST /v2/bot/user/{userId}/linkToken` does, callable directly."""
        token = ev.new_opaque_token(32)
        with self._lock:
            self._link_tokens[token] = LinkToken(token, user_id, self.clock())
        return token

    # --- webhook events ----------------------------------------------------------------------

    def _source(self, user_id: str, group_id: str | None, room_id: str | None) -> dict[str, Any]:
        if group_id:
            return ev.group_source(group_id, user_id)
        if room_id:
            return ev.room_source(room_id, user_id)
        return ev.user_source(user_id)

    def _befriend(self, source: dict[str, Any]) -> None:
        user_id = source.get("userId")
        if user_id and source.get("type") == "user":
            with self._lock:
                if user_id not in self._profiles:
                    self._profiles[user_id] = {"userId": user_id, "displayName": f"LINE user {user_id[-4:]}"}
                self._chats.add(user_id)
        chat = ev.chat_id_of(source)
        if chat:
            with self._lock:
                self._chats.add(chat)

    def _new_message_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    def _message_event(self, user_id: str, message: dict[str, Any], group_id: str | None, room_id: str | None,
                       timestamp_ms: int | None, redelivery: bool) -> dict[str, Any]:
        source = self._source(user_id, group_id, room_id)
        self._befriend(source)
        event = ev.base_event("message", source, timestamp_ms=timestamp_ms, redelivery=redelivery)
        event["replyToken"] = self.issue_reply_token(source=source)
        message.setdefault("id", self._new_message_id())
        message["quoteToken"] = message.get("quoteToken") or ev.new_opaque_token()
        read_token = ev.new_opaque_token()
        message["markAsReadToken"] = read_token
        with self._lock:
            self._read_tokens[read_token] = user_id
        event["message"] = message
        return event

    def text_event(self, user_id: str, text: str, *, message_id: str | None = None, group_id: str | None = None,
                   room_id: str | None = None, emojis: list[dict] | None = None, mention: dict | None = None,
                   quoted_message_id: str | None = None, timestamp_ms: int | None = None,
                   redelivery: bool = False) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "text", "text": text}
        if message_id:
            message["id"] = str(message_id)
        if emojis:
            message["emojis"] = emojis
        if mention:
            message["mention"] = mention
        if quoted_message_id:
            message["quotedMessageId"] = quoted_message_id
        return self._message_event(user_id, message, group_id, room_id, timestamp_ms, redelivery)

    def image_event(self, user_id: str, data: bytes = b"\xff\xd8\xff\xe0emulator-jpeg\xff\xd9",
                    content_type: str = "image/jpeg", *, message_id: str | None = None,
                    group_id: str | None = None, room_id: str | None = None,
                    image_set: dict | None = None, timestamp_ms: int | None = None,
                    redelivery: bool = False) -> dict[str, Any]:
        """An image the user sent; its bytes become downloadable from the content endpoint."""
        message: dict[str, Any] = {"type": "image", "id": str(message_id or self._new_message_id()),
                                   "contentProvider": {"type": "line"}}
        if image_set:
            message["imageSet"] = image_set
        self.add_content(message["id"], data, content_type)
        return self._message_event(user_id, message, group_id, room_id, timestamp_ms, redelivery)

    def media_event(self, user_id: str, kind: str, data: bytes, content_type: str, *,
                    duration_ms: int | None = None, file_name: str | None = None,
                    message_id: str | None = None, timestamp_ms: int | None = None) -> dict[str, Any]:
        """A video / audio / file message with downloadable content."""
        if kind not in ("video", "audio", "file"):
            raise ValueError("kind must be video, audio or file")
        message: dict[str, Any] = {"type": kind, "id": str(message_id or self._new_message_id())}
        if kind in ("video", "audio"):
            message["duration"] = duration_ms if duration_ms is not None else 1000
            message["contentProvider"] = {"type": "line"}
        else:
            message["fileName"] = file_name or "file.bin"
            message["fileSize"] = len(data)
        self.add_content(message["id"], data, content_type)
        event = self._message_event(user_id, message, None, None, timestamp_ms, False)
        if kind in ("audio", "file"):
            # Audio and file messages can't be quoted, so LINE sends no quoteToken for them.
            event["message"].pop("quoteToken", None)
        return event

    def sticker_event(self, user_id: str, package_id: str = "11537", sticker_id: str = "52002738", *,
                      sticker_resource_type: str = "STATIC", keywords: list[str] | None = None,
                      text: str | None = None, message_id: str | None = None,
                      timestamp_ms: int | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "sticker", "packageId": str(package_id), "stickerId": str(sticker_id),
                                   "stickerResourceType": sticker_resource_type}
        if message_id:
            message["id"] = str(message_id)
        if keywords:
            message["keywords"] = keywords[:15]
        if text:
            message["text"] = text
        return self._message_event(user_id, message, None, None, timestamp_ms, False)

    def location_event(self, user_id: str, title: str, address: str, latitude: float, longitude: float, *,
                       message_id: str | None = None) -> dict[str, Any]:
        message: dict[str, Any] = {"type": "location", "title": title, "address": address,
                                   "latitude": latitude, "longitude": longitude}
        if message_id:
            message["id"] = str(message_id)
        event = self._message_event(user_id, message, None, None, None, False)
        event["message"].pop("quoteToken", None)
        return event

    def follow_event(self, user_id: str, *, is_unblocked: bool | None = None,
                     timestamp_ms: int | None = None) -> dict[str, Any]:
        """The user adds the account (or unblocks it): a friend again, with a reply token."""
        with self._lock:
            was_blocked = user_id in self._blocked
            self._blocked.discard(user_id)
        source = ev.user_source(user_id)
        self._befriend(source)
        event = ev.base_event("follow", source, timestamp_ms=timestamp_ms)
        event["replyToken"] = self.issue_reply_token(source=source)
        event["follow"] = {"isUnblocked": was_blocked if is_unblocked is None else is_unblocked}
        return event

    def unfollow_event(self, user_id: str, *, timestamp_ms: int | None = None) -> dict[str, Any]:
        """The user blocks the account; unfollow events carry no reply token."""
        self.block(user_id)
        return ev.base_event("unfollow", ev.user_source(user_id), timestamp_ms=timestamp_ms)

    def unsend_event(self, user_id: str, message_id: str, *, group_id: str | None = None,
                     timestamp_ms: int | None = None) -> dict[str, Any]:
        event = ev.base_event("unsend", self._source(user_id, group_id, None), timestamp_ms=timestamp_ms)
        event["unsend"] = {"messageId": str(message_id)}
        return event

    def postback_event(self, user_id: str, data: str, params: dict[str, str] | None = None, *,
                       timestamp_ms: int | None = None) -> dict[str, Any]:
        source = ev.user_source(user_id)
        self._befriend(source)
        event = ev.base_event("postback", source, timestamp_ms=timestamp_ms)
        event["replyToken"] = self.issue_reply_token(source=source)
        event["postback"] = {"data": data}
        if params:
            event["postback"]["params"] = params
        return event

    def account_link_event(self, user_id: str, nonce: str, result: str = "ok", *,
                           timestamp_ms: int | None = None) -> dict[str, Any]:
        """`result="ok"` carries source + reply token; a failed link carries neither (reference)."""
        if result == "ok":
            source = ev.user_source(user_id)
            self._befriend(source)
            event = ev.base_event("accountLink", source, timestamp_ms=timestamp_ms)
            event["replyToken"] = self.issue_reply_token(source=source)
        else:
            event = ev.base_event("accountLink", None, timestamp_ms=timestamp_ms)
        event["link"] = {"result": result, "nonce": nonce}
        return event

    def complete_account_link(self, link_token: str, nonce: str) -> dict[str, Any]:
        """The user confirms LINE's account-link dialog: an accountLink event for the token's user.

        A link token is single use and valid for 10 minutes; otherwise the event says "failed".
        """
        with self._lock:
            info = self._link_tokens.get(link_token)
            valid = (info is not None and link_token not in self._used_link_tokens
                     and self.clock() - info.issued_at <= LINK_TOKEN_TTL)
            if valid:
                self._used_link_tokens.add(link_token)
        if valid and info is not None:
            return self.account_link_event(info.user_id, nonce, "ok")
        return self.account_link_event("", nonce, "failed")

    def events_from_fixture(self, path: str | os.PathLike | None = None, *,
                            fresh_event_ids: bool = True) -> list[dict[str, Any]]:
        """The 28 events of the SDK's own webhook test sample, with reply tokens this emulator honours.

        The sample reuses one `webhookEventId` for every event; `fresh_event_ids` gives each a new
        ULID so a consumer that dedupes on it sees 28 events. Every source becomes a known chat;
        follow/unfollow in the sample change no block state. Media sent through LINE
        (`contentProvider.type == "line"`, and files) gets placeholder bytes at the content endpoint.
        """
        if path is None:
            path = _shared_line_fixture("sdk-v3-test-webhook-sample.json", self.spec_path)
        payload = json.loads(Path(path).read_text(encoding="utf-8"))
        events = []
        for original in payload["events"]:
            event = copy.deepcopy(original)
            source = event.get("source")
            if source:
                self._befriend(source)
            if "replyToken" in event and source and ev.chat_id_of(source):
                event["replyToken"] = self.issue_reply_token(source=source)
            if fresh_event_ids:
                event["webhookEventId"] = ev.new_ulid()
            self._register_fixture_content(event.get("message"))
            events.append(event)
        return events

    def _register_fixture_content(self, message: dict[str, Any] | None) -> None:
        """Media the user sent through LINE (not an external URL) is downloadable; give it bytes."""
        if not message or message.get("type") not in _FIXTURE_CONTENT:
            return
        provider = message.get("contentProvider", {"type": "line"})
        if provider.get("type") != "line":
            return
        with self._lock:
            if str(message.get("id")) in self._content:
                return
        data, content_type = _FIXTURE_CONTENT[message["type"]]
        self.add_content(str(message["id"]), data, content_type)

    # --- delivering webhooks -----------------------------------------------------------------

    def sign(self, body: bytes) -> str:
        return line_signature(body, self.channel_secret)

    def webhook_body(self, events: Iterable[dict[str, Any]], destination: str | None = None,
                     redelivery: bool = False) -> bytes:
        """The bytes LINE would POST: compact JSON, non-ASCII as \\uXXXX escapes (emoji as surrogate pairs)."""
        out = []
        for event in events:
            event = copy.deepcopy(event)
            if redelivery:
                event["deliveryContext"] = {"isRedelivery": True}
            out.append(event)
        payload = {"destination": destination or self.bot_user_id, "events": out}
        return json.dumps(payload, ensure_ascii=True, separators=(",", ":")).encode("ascii")

    def deliver(self, webhook_url: str | None, events: Iterable[dict[str, Any]], destination: str | None = None,
                redelivery: bool = False, body_bytes: bytes | None = None, signature: str | None = None,
                timeout: float = 5, *, omit_signature: bool = False) -> tuple[int, str]:
        """POST a signed webhook like LINE does; returns (status, response text).

        `body_bytes` replaces the serialised events verbatim; `signature` overrides the computed one
        (for wrong-signature tests); `omit_signature` sends no X-Line-Signature at all.
        """
        url = webhook_url or self.webhook_url
        if not url:
            raise ValueError("no webhook URL given and none configured")
        body = body_bytes if body_bytes is not None else self.webhook_body(events, destination, redelivery)
        sig = None if omit_signature else (signature if signature is not None else self.sign(body))
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "LineBotWebhook/2.0"}
        if sig is not None:
            headers["X-Line-Signature"] = sig
        status: int | None = None
        text = ""
        try:
            response = requests.post(url, data=body, headers=headers, timeout=timeout)
            status, text = response.status_code, response.text
            return status, text
        finally:
            with self._lock:
                self._deliveries.append(WebhookDelivery(url, body, sig, status, text, self.clock()))

    # --- HTTP --------------------------------------------------------------------------------

    def _wsgi(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        request = Request(environ)
        response = self._answer(request)
        return response(environ, start_response)

    def _answer(self, request: Request) -> Response:
        request_id = str(uuid.uuid4())
        path = request.path
        if path.startswith("/_emulator/"):
            return self._inspection(request)
        raw = request.get_data(cache=True)
        fault = self._take_fault(request.method, path)
        if fault is not None and fault.delay > 0:
            time.sleep(fault.delay)
        if fault is not None and fault.status is not None and not fault.accepted:
            response = self._fault_response(fault, request_id)
        else:
            response = self._route(request, raw, request_id)
            if fault is not None and fault.status is not None:
                response = self._fault_response(fault, request_id)
        headers = {k: v for k, v in request.headers.items()}
        if "Authorization" in headers:
            headers["Authorization"] = headers["Authorization"].split(" ", 1)[0] + " ***"
        record = RecordedRequest(request.method, path, request.query_string.decode("latin-1"),
                                 response.status_code, headers, raw, response.get_data(), self.clock(), request_id)
        with self._lock:
            self._requests.append(record)
        return response

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.remaining > 0 and path.startswith(fault.prefix) and fault.method in (None, method):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def _fault_response(self, fault: _Fault, request_id: str) -> Response:
        assert fault.status is not None
        body = fault.body
        if body is None:
            body = {"message": HTTPStatus(fault.status).phrase if fault.status in HTTPStatus._value2member_map_
                    else "Error"}
        if isinstance(body, (dict, list)):
            data, mimetype = json.dumps(body).encode(), "application/json"
        else:
            data = body.encode() if isinstance(body, str) else bytes(body)
            mimetype = "application/json" if data else "text/plain"
        response = Response(data, status=fault.status, mimetype=mimetype)
        response.headers["x-line-request-id"] = request_id
        for key, value in fault.headers.items():
            response.headers[key] = value
        return response

    def _json(self, status: int, body: Any, request_id: str, headers: dict[str, str] | None = None) -> Response:
        response = Response(json.dumps(body, separators=(",", ":")), status=status, mimetype="application/json")
        response.headers["x-line-request-id"] = request_id
        for key, value in (headers or {}).items():
            response.headers[key] = value
        return response

    def _route(self, request: Request, raw: bytes, request_id: str) -> Response:
        adapter = _ROUTES.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed:
            return self._json(405, {"message": "Method Not Allowed"}, request_id)
        except NotFound:
            return self._json(404, {"message": MSG_NOT_FOUND}, request_id)
        try:
            if endpoint not in _UNAUTHENTICATED:
                self._authenticate(request)
            if len(raw) > MAX_BODY_BYTES:
                raise _Reject(413, {"message": "Request Entity Too Large"})
            retry_key = request.headers.get("X-Line-Retry-Key")
            if retry_key is not None and endpoint not in _RETRY_KEY_ENDPOINTS:
                raise _Reject(400, {"message": MSG_RETRY_KEY_UNSUPPORTED})
            handler = getattr(self, f"_api_{endpoint}")
            return handler(request, raw, request_id, **args)
        except _Reject as reject:
            return self._json(reject.status, reject.body, request_id, reject.headers)
        except Exception as exc:  # an emulator bug must show up in the test, not as a silent 500
            with self._lock:
                self._errors.append(exc)
            return self._json(500, {"message": f"emulator error: {exc.__class__.__name__}: {exc}"}, request_id)

    def _authenticate(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header or scheme.lower() != "bearer" or not token.strip():
            raise _Reject(401, {"message": MSG_NO_AUTH})
        if token.strip() != self.access_token:
            raise _Reject(401, {"message": MSG_BAD_TOKEN})

    def _body(self, request: Request, raw: bytes, operation: str) -> dict[str, Any]:
        """Parse and validate a JSON request body the way LINE does (415 / 400 answers)."""
        mimetype = request.mimetype
        if mimetype != "application/json":
            raise _Reject(415, {"message": f"The content type, {request.content_type or 'none'}, is not supported"})
        try:
            body = json.loads(raw.decode("utf-8"))
        except UnicodeDecodeError:
            raise _Reject(400, {"message": "The request body could not be parsed as JSON (line: 1, column: 1)"})
        except json.JSONDecodeError as exc:
            raise _Reject(400, {"message": f"The request body could not be parsed as JSON "
                                           f"(line: {exc.lineno}, column: {exc.colno})"}) from None
        if not isinstance(body, dict):
            raise _Reject(400, {"message": "The request body could not be parsed as JSON (line: 1, column: 1)"})
        schema = REQUEST_SCHEMAS[operation]
        if self.validator.has(schema):
            violations = self.validator.validate(schema, body)
            if violations:
                raise _Reject(400, line_error_body(violations))
        return body

    def _sent_messages(self, messages: list[dict]) -> list[dict[str, str]]:
        out = []
        for message in messages:
            item = {"id": self._new_message_id()}
            if message.get("type") in _QUOTABLE:
                item["quoteToken"] = ev.new_opaque_token()
            out.append(item)
        return out

    def _record(self, kind: str, to: str, body: dict, sent_messages: list[dict], request_id: str, *,
                retry_key: str | None = None, reply_token: str | None = None, delivered: bool = True) -> None:
        record = SentMessage(kind, to, copy.deepcopy(body.get("messages", [])), retry_key, reply_token,
                             self.clock(), request_id, [m["id"] for m in sent_messages], delivered,
                             bool(body.get("notificationDisabled", False)))
        self._sent.append(record)
        self._changed.notify_all()

    def _check_retry_key(self, request: Request) -> str | None:
        key = request.headers.get("X-Line-Retry-Key")
        if key is None:
            return None
        if not _UUID.match(key.strip()):
            raise _Reject(400, {"message": MSG_RETRY_KEY_INVALID})
        return key.strip().lower()

    def _replay_if_accepted(self, key: str | None, with_messages: bool) -> None:
        """Called under the lock: a key accepted in the last 24 h answers 409."""
        if key is None:
            return
        accepted = self._accepted_keys.get(key)
        if accepted is None or self.clock() - accepted.at > RETRY_KEY_WINDOW:
            return
        body: dict[str, Any] = {"message": MSG_RETRY_ACCEPTED}
        if with_messages:
            body["sentMessages"] = accepted.sent_messages
        raise _Reject(409, body, {"x-line-accepted-request-id": accepted.request_id})

    def _charge(self, recipients: int) -> None:
        """Called under the lock: the monthly limit counts delivered recipients, not message objects."""
        if self._monthly_quota is not None and self._quota_used + recipients > self._monthly_quota:
            raise _Reject(429, {"message": MSG_MONTHLY_LIMIT})

    # --- API endpoints -----------------------------------------------------------------------

    def _api_reply(self, request: Request, raw: bytes, request_id: str) -> Response:
        body = self._body(request, raw, "reply")
        token = body["replyToken"]
        with self._lock:
            info = self._reply_tokens.get(token)
            if info is None or info.used or self.clock() - info.issued_at > self.reply_token_ttl:
                raise _Reject(400, {"message": MSG_INVALID_REPLY_TOKEN})
            info.used = True
            sent_messages = self._sent_messages(body["messages"])
            self._record("reply", info.chat_id, body, sent_messages, request_id, reply_token=token,
                         delivered=info.chat_id not in self._blocked)
        return self._json(200, {"sentMessages": sent_messages}, request_id)

    def _api_push(self, request: Request, raw: bytes, request_id: str) -> Response:
        key = self._check_retry_key(request)
        body = self._body(request, raw, "push")
        to = body["to"]
        with self._lock:
            self._replay_if_accepted(key, with_messages=True)
            if to not in self._chats and not self.accept_unknown_recipients:
                raise _Reject(400, {"message": MSG_FAILED_TO_SEND})
            blocked = to in self._blocked
            if not blocked:
                self._charge(1)
                self._quota_used += 1
            sent_messages = self._sent_messages(body["messages"])
            self._record("push", to, body, sent_messages, request_id, retry_key=key, delivered=not blocked)
            if key is not None:
                self._accepted_keys[key] = _Accepted(self.clock(), request_id, sent_messages)
        return self._json(200, {"sentMessages": sent_messages}, request_id)

    def _api_multicast(self, request: Request, raw: bytes, request_id: str) -> Response:
        key = self._check_retry_key(request)
        body = self._body(request, raw, "multicast")
        with self._lock:
            self._replay_if_accepted(key, with_messages=False)
            recipients = [u for u in dict.fromkeys(body["to"]) if u in self._chats or self.accept_unknown_recipients]
            reachable = [u for u in recipients if u not in self._blocked]
            self._charge(len(reachable))
            self._quota_used += len(reachable)
            for user_id in recipients:
                self._record("multicast", user_id, body, self._sent_messages(body["messages"]), request_id,
                             retry_key=key, delivered=user_id in reachable)
            if key is not None:
                self._accepted_keys[key] = _Accepted(self.clock(), request_id, [])
        return self._json(200, {}, request_id)

    def _api_broadcast(self, request: Request, raw: bytes, request_id: str) -> Response:
        key = self._check_retry_key(request)
        body = self._body(request, raw, "broadcast")
        with self._lock:
            self._replay_if_accepted(key, with_messages=False)
            friends = [u for u in self._profiles if u not in self._blocked]
            self._charge(len(friends))
            self._quota_used += len(friends)
            for user_id in friends:
                self._record("broadcast", user_id, body, self._sent_messages(body["messages"]), request_id,
                             retry_key=key)
            if key is not None:
                self._accepted_keys[key] = _Accepted(self.clock(), request_id, [])
        return self._json(200, {}, request_id)

    def _api_validate(self, request: Request, raw: bytes, request_id: str, kind: str) -> Response:
        self._body(request, raw, "validate")
        return self._json(200, {}, request_id)

    def _api_quota(self, request: Request, raw: bytes, request_id: str) -> Response:
        with self._lock:
            limit = self._monthly_quota
        body: dict[str, Any] = {"type": "none"} if limit is None else {"type": "limited", "value": limit}
        return self._json(200, body, request_id)

    def _api_consumption(self, request: Request, raw: bytes, request_id: str) -> Response:
        return self._json(200, {"totalUsage": self.quota_used}, request_id)

    def _api_profile(self, request: Request, raw: bytes, request_id: str, user_id: str) -> Response:
        with self._lock:
            profile = self._profiles.get(user_id)
            if profile is None or user_id in self._blocked:
                raise _Reject(404, {"message": MSG_NOT_FOUND})
            return self._json(200, dict(profile), request_id)

    def _api_bot_info(self, request: Request, raw: bytes, request_id: str) -> Response:
        return self._json(200, {"userId": self.bot_user_id, "basicId": self.bot_basic_id,
                                "displayName": self.bot_display_name, "chatMode": "chat",
                                "markAsReadMode": "manual"}, request_id)

    def _api_link_token(self, request: Request, raw: bytes, request_id: str, user_id: str) -> Response:
        return self._json(200, {"linkToken": self.issue_link_token(user_id)}, request_id)

    def _api_loading(self, request: Request, raw: bytes, request_id: str) -> Response:
        body = self._body(request, raw, "loading")
        seconds = body.get("loadingSeconds", 20)
        if seconds % 5 != 0:
            raise _Reject(400, {"message": "The request body has 1 error(s)",
                                "details": [{"message": "Must be a multiple of 5", "property": "loadingSeconds"}]})
        with self._lock:
            # Only one-on-one chats with a friend show the indicator (reference: 400 for other ids).
            if body["chatId"] not in self._profiles or body["chatId"] in self._blocked:
                raise _Reject(400, {"message": "The request body has 1 error(s)",
                                    "details": [{"message": "Invalid chat ID", "property": "chatId"}]})
        return self._json(202, {}, request_id)

    def _api_mark_read_by_token(self, request: Request, raw: bytes, request_id: str) -> Response:
        body = self._body(request, raw, "mark_read_by_token")
        token = body["markAsReadToken"]
        with self._lock:
            if token not in self._read_tokens:
                raise _Reject(400, {"message": "The request body has 1 error(s)",
                                    "details": [{"message": "Invalid markAsReadToken",
                                                 "property": "markAsReadToken"}]})
            self._read_marks.append(token)
        return self._json(200, {}, request_id)

    def _api_mark_read(self, request: Request, raw: bytes, request_id: str) -> Response:
        # Partner-only endpoint (https://developers.line.biz/en/reference/partner-docs/#mark-messages-from-users-as-read).
        if not self.partner_features:
            raise _Reject(403, {"message": MSG_NOT_AVAILABLE})
        self._body(request, raw, "mark_read")
        return self._json(200, {}, request_id)

    def _content_for(self, message_id: str) -> _Content:
        with self._lock:
            content = self._content.get(message_id)
        if content is None:
            raise _Reject(404, {"message": MSG_NOT_FOUND})
        if content.expired:
            raise _Reject(410, {"message": MSG_CONTENT_GONE})
        return content

    def _api_content(self, request: Request, raw: bytes, request_id: str, message_id: str) -> Response:
        content = self._content_for(message_id)
        response = Response(content.data, status=200, content_type=content.content_type)
        response.headers["x-line-request-id"] = request_id
        return response

    def _api_content_preview(self, request: Request, raw: bytes, request_id: str, message_id: str) -> Response:
        content = self._content_for(message_id)
        data = content.preview if content.preview is not None else content.data
        response = Response(data, status=200, content_type="image/jpeg" if content.preview else content.content_type)
        response.headers["x-line-request-id"] = request_id
        return response

    def _api_transcoding(self, request: Request, raw: bytes, request_id: str, message_id: str) -> Response:
        self._content_for(message_id)
        return self._json(200, {"status": "succeeded"}, request_id)

    def _api_account_link_dialog(self, request: Request, raw: bytes, request_id: str) -> Response:
        """Stand-in for https://access.line.me/dialog/bot/accountLink: confirms and sends the webhook."""
        link_token = request.args.get("linkToken", "")
        nonce = request.args.get("nonce", "")
        if not nonce:
            return Response("nonce is required", status=400, mimetype="text/plain")
        event = self.complete_account_link(link_token, nonce)
        status_note = "no webhook URL configured"
        if self.webhook_url:
            try:
                status, _ = self.deliver(self.webhook_url, [event])
                status_note = f"webhook answered {status}"
            except requests.RequestException as exc:
                status_note = f"webhook failed: {exc.__class__.__name__}"
        result = event["link"]["result"]
        html = (f"<!doctype html><meta charset=utf-8><title>LINE account link</title>"
                f"<p>Account link result: <b>{result}</b> ({status_note}).</p>")
        return Response(html, status=200, mimetype="text/html")

    def _inspection(self, request: Request) -> Response:
        """`/_emulator/*`: what the sandbox UI and CLI read and drive (no auth, never recorded)."""
        path = request.path
        body: Any
        if path == "/_emulator/health" and request.method == "GET":
            body = {"status": "ok", "spec_validation": self.spec_loaded}
        elif path == "/_emulator/sent" and request.method == "GET":
            body = [s.to_dict() for s in self.sent]
        elif path == "/_emulator/requests" and request.method == "GET":
            body = [{"method": r.method, "path": r.path, "status": r.status, "at": r.at,
                     "request_id": r.request_id} for r in self.requests]
        elif path == "/_emulator/reset" and request.method == "POST":
            self.reset()
            body = {"status": "ok"}
        elif path == "/_emulator/events" and request.method == "POST":
            return self._simulate(request)
        elif path == "/_emulator/reply-tokens" and request.method == "POST":
            # For `orderchatz-sidecar simulate`, which builds and signs its own event: a reply
            # token this emulator honours, as if it had been issued with a webhook.
            try:
                user_id = json.loads(request.get_data() or b"{}").get("user_id")
            except (ValueError, AttributeError):
                user_id = None
            if not isinstance(user_id, str) or not user_id:
                return _plain_json(400, {"message": "user_id is required"})
            self._befriend(ev.user_source(user_id))
            body = {"reply_token": self.issue_reply_token(user_id)}
        else:
            return _plain_json(404, {"message": MSG_NOT_FOUND})
        return _plain_json(200, body)

    def _simulate(self, request: Request) -> Response:
        """Build one event from `{"type": ..., "user_id": ..., ...}` and deliver it to `webhook_url`."""
        try:
            spec = json.loads(request.get_data() or b"{}")
        except ValueError:
            return _plain_json(400, {"message": "body must be JSON"})
        if not isinstance(spec, dict) or not isinstance(spec.get("user_id"), str) or not spec["user_id"]:
            return _plain_json(400, {"message": "user_id is required"})
        if not self.webhook_url:
            return _plain_json(409, {"message": "no webhook URL configured"})
        user_id, kind = spec["user_id"], spec.get("type", "text")
        builders: dict[str, Callable[[], dict[str, Any]]] = {
            "text": lambda: self.text_event(user_id, str(spec.get("text", ""))),
            "image": lambda: self.image_event(user_id),
            "sticker": lambda: self.sticker_event(user_id, str(spec.get("package_id", "11537")),
                                                  str(spec.get("sticker_id", "52002738"))),
            "follow": lambda: self.follow_event(user_id),
            "unfollow": lambda: self.unfollow_event(user_id),
            "postback": lambda: self.postback_event(user_id, str(spec.get("data", ""))),
            "unsend": lambda: self.unsend_event(user_id, str(spec.get("message_id", ""))),
        }
        if kind not in builders:
            return _plain_json(400, {"message": f"type must be one of {sorted(builders)}"})
        if spec.get("display_name"):
            self.set_profile(user_id, str(spec["display_name"]))
        event = builders[kind]()
        try:
            status, text = self.deliver(self.webhook_url, [event])
        except requests.RequestException as exc:
            return _plain_json(502, {"message": f"webhook delivery failed: {exc.__class__.__name__}", "event": event})
        return _plain_json(200, {"webhook_status": status, "webhook_response": text[:500], "event": event})


def _shared_line_fixture(name: str, spec_path: Path | None) -> Path:
    """A file next to the spec, else in the default shared fixtures folder."""
    for spec in (spec_path, default_spec_path()):
        if spec is not None and (spec.parent / name).is_file():
            return spec.parent / name
    raise FileNotFoundError(f"shared fixture {name} not found (set ORDERCHATZ_SHARED_FIXTURES)")


def _plain_json(status: int, body: Any) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), status=status, mimetype="application/json")


def main(argv: list[str] | None = None) -> int:
    """`python -m orderchatz.emulators.line`: run the emulator alone until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(description="Local LINE Platform emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--channel-secret", default=os.environ.get("ORDERCHATZ_LINE_CHANNEL_SECRET",
                                                                   "emulator-channel-secret"))
    parser.add_argument("--access-token", default=os.environ.get("ORDERCHATZ_LINE_CHANNEL_ACCESS_TOKEN",
                                                                 "emulator-channel-access-token"))
    parser.add_argument("--webhook-url", default=None, help="where simulated events are delivered")
    parser.add_argument("--spec", default=None, help="path to messaging-api.yml")
    args = parser.parse_args(argv)
    emu = LineEmulator(args.channel_secret, args.access_token, spec_path=args.spec, webhook_url=args.webhook_url)
    emu.start(args.host, args.port)
    print(f"LINE emulator on {emu.base_url} (spec validation: {emu.spec_loaded})", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


__all__ = [
    "LineEmulator", "SentMessage", "RecordedRequest", "WebhookDelivery", "LinkToken", "dotted",
    "MSG_INVALID_REPLY_TOKEN", "MSG_RETRY_ACCEPTED", "MSG_MONTHLY_LIMIT", "MSG_RATE_LIMIT",
    "MSG_FAILED_TO_SEND", "MSG_NO_AUTH", "MSG_BAD_TOKEN",
]


if __name__ == "__main__":
    raise SystemExit(main())
