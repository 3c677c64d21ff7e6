"""Media of inbound messages: downloaded from LINE right after receipt, served to the panel.

LINE keeps user-sent content only for a limited time, so the download runs as soon as the
message is stored (https://developers.line.biz/en/reference/messaging-api/#get-content).
"""
from __future__ import annotations

import mimetypes
from pathlib import Path

from ..gateways.line import LineError, LineGone, LineNotFound
from ..store.models import Message
from .messages import update_message


def download_message_media(svc, message_id: int, *, last_attempt: bool = True) -> str:
    with svc.store.session() as s:
        row = s.get(Message, message_id)
        if row is None or row.media_status != "pending":
            return "skipped"
        line_id = row.line_message_id
    try:
        content = svc.line.get_content(line_id)
    except (LineNotFound, LineGone):
        update_message(svc, message_id, media_status="unavailable")
        return "unavailable"
    except LineError as exc:
        if exc.retryable and not last_attempt:
            raise
        update_message(svc, message_id, media_status="unavailable")
        return "unavailable"
    ext = mimetypes.guess_extension(content.content_type.split(";")[0].strip()) or ".bin"
    folder = svc.media_dir / str(message_id % 1000)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{message_id}{ext}"
    tmp = path.with_suffix(path.suffix + ".part")
    tmp.write_bytes(content.data)
    tmp.replace(path)
    update_message(svc, message_id, media_status="ready", media_path=str(path.relative_to(svc.media_dir)),
         media_content_type=content.content_type[:128])
    return "ready"


def media_file(svc, row: Message) -> Path | None:
    if row.media_status != "ready" or not row.media_path:
        return None
    path = (svc.media_dir / row.media_path).resolve()
    if svc.media_dir.resolve() not in path.parents:
        return None
    return path if path.exists() else None
