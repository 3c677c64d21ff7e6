"""LineGateway: the only code that imports the LINE SDK.

Takes and returns plain data (LINE's JSON shapes in, our frozen dataclasses out) and turns every
failure into one of our typed errors, so use cases never see SDK models or HTTP responses.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

import urllib3
from linebot.v3.messaging import (ApiClient, ApiException, Configuration, MessagingApi,
                                  MessagingApiBlob, PushMessageRequest, ReplyMessageRequest)

LINE_API = "https://api.line.me"
LINE_DATA_API = "https://api-data.line.me"


class LineError(Exception):
    code = "line_error"
    retryable = False

    def __init__(self, message: str, *, status: int | None = None, details: tuple = ()):
        super().__init__(message)
        self.message = message
        self.status = status
        self.details = details


class LineQuotaExceeded(LineError):
    code = "quota_exhausted"


class LineRateLimited(LineError):
    code = "rate_limited"
    retryable = True


class LineUnavailable(LineError):
    code = "line_unavailable"
    retryable = True


class LineInvalidMessage(LineError):
    code = "invalid_message"


class LineInvalidReplyToken(LineError):
    code = "invalid_reply_token"


class LineAlreadyAccepted(LineError):
    """409 on a push retry: LINE already accepted a request with this retry key."""

    code = "already_accepted"


class LineAuthError(LineError):
    code = "line_auth"


class LineNotFound(LineError):
    code = "not_found"


class LineGone(LineError):
    code = "gone"


@dataclass(frozen=True)
class SendResult:
    via: str  # reply | push
    request_id: str | None
    sent_message_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    user_id: str
    display_name: str
    picture_url: str | None
    status_message: str | None
    language: str | None


@dataclass(frozen=True)
class Content:
    data: bytes
    content_type: str


def _error_from(exc: Exception) -> LineError:
    if isinstance(exc, (urllib3.exceptions.TimeoutError, urllib3.exceptions.HTTPError, OSError)):
        return LineUnavailable(f"LINE did not answer: {exc.__class__.__name__}")
    if not isinstance(exc, ApiException):
        return LineError(str(exc))
    status = exc.status or 0
    try:
        body = json.loads(exc.body or "{}")
    except (TypeError, ValueError):
        body = {}
    message = str(body.get("message") or exc.reason or f"HTTP {status}")
    details = tuple(
        (str(d.get("property", "")), str(d.get("message", ""))) for d in body.get("details") or ()
        if isinstance(d, dict)
    )
    if status == 429:
        # Both limits answer 429; only the message tells them apart.
        # https://developers.line.biz/en/reference/messaging-api/#status-codes
        if "monthly limit" in message.lower():
            return LineQuotaExceeded(message, status=status)
        return LineRateLimited(message, status=status)
    if status == 409:
        return LineAlreadyAccepted(message, status=status)
    if status in (401, 403):
        return LineAuthError(message, status=status)
    if status == 404:
        return LineNotFound(message, status=status)
    if status == 410:
        return LineGone(message, status=status)
    if status == 400:
        if "reply token" in message.lower():
            return LineInvalidReplyToken(message, status=status)
        return LineInvalidMessage(message, status=status, details=details)
    if status >= 500 or status == 0:
        return LineUnavailable(message, status=status)
    return LineError(message, status=status, details=details)


class LineGateway:
    def __init__(self, access_token: str, *, api_base: str = "", timeout: float = 5.0):
        # `api_base` points both hosts at one server: the emulator in tests and the sandbox.
        self._timeout = (min(3.0, timeout), timeout)
        self._client = ApiClient(Configuration(host=api_base or LINE_API, access_token=access_token))
        self._data_client = ApiClient(Configuration(host=api_base or LINE_DATA_API,
                                                    access_token=access_token))
        self._api = MessagingApi(self._client)
        self._blob = MessagingApiBlob(self._data_client)

    def close(self) -> None:
        self._client.close()
        self._data_client.close()

    def reply(self, reply_token: str, messages: list[dict]) -> SendResult:
        request = ReplyMessageRequest.from_dict({"replyToken": reply_token, "messages": messages})
        try:
            resp = self._api.reply_message_with_http_info(request, _request_timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001 - every failure becomes a typed LineError
            raise _error_from(exc) from exc
        return SendResult("reply", (resp.headers or {}).get("x-line-request-id"),
                          _sent_ids(resp.data))

    def push(self, to: str, messages: list[dict], *, retry_key: str) -> SendResult:
        request = PushMessageRequest.from_dict({"to": to, "messages": messages})
        try:
            resp = self._api.push_message_with_http_info(
                request, x_line_retry_key=retry_key, _request_timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001
            raise _error_from(exc) from exc
        return SendResult("push", (resp.headers or {}).get("x-line-request-id"),
                          _sent_ids(resp.data))

    def get_profile(self, user_id: str) -> Profile:
        try:
            p = self._api.get_profile(user_id, _request_timeout=self._timeout)
        except Exception as exc:  # noqa: BLE001
            raise _error_from(exc) from exc
        return Profile(user_id=p.user_id, display_name=p.display_name or "",
                       picture_url=p.picture_url, status_message=p.status_message,
                       language=p.language)

    def get_content(self, message_id: str) -> Content:
        try:
            resp = self._blob.get_message_content_with_http_info(
                message_id, _request_timeout=(3.0, 30.0))
        except Exception as exc:  # noqa: BLE001
            raise _error_from(exc) from exc
        data = resp.data if isinstance(resp.data, (bytes, bytearray)) else bytes(resp.raw_data or b"")
        if not data:
            raise LineGone("LINE returned empty content")
        content_type = (resp.headers or {}).get("Content-Type") or "application/octet-stream"
        return Content(bytes(data), content_type)

    def issue_link_token(self, user_id: str) -> str:
        try:
            return self._api.issue_link_token(user_id, _request_timeout=self._timeout).link_token
        except Exception as exc:  # noqa: BLE001
            raise _error_from(exc) from exc


def _sent_ids(data) -> tuple[str, ...]:
    sent = getattr(data, "sent_messages", None) or ()
    return tuple(str(getattr(m, "id", "")) for m in sent)
