"""Queue email in the outbox, inside the caller's transaction; `flask send-mail` sends it."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import render_template

from ..extensions import db
from ..models import OutboxMessage


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes
    inline_cid: str | None = None  # set for images shown inside the HTML part

    def as_json(self) -> dict[str, str]:
        item = {
            "filename": self.filename,
            "content_type": self.content_type,
            "data_b64": base64.b64encode(self.data).decode("ascii"),
        }
        if self.inline_cid:
            item["inline_cid"] = self.inline_cid
        return item


def queue_email(
    *,
    kind: str,
    to: str,
    subject: str,
    template: str,
    now: datetime,
    attachments: list[Attachment] | None = None,
    **context: Any,
) -> OutboxMessage:
    """Render templates/emails/<template>.txt and .html and add the message to the outbox.

    Runs in the caller's transaction: the message exists if and only if the change it
    reports is committed. Jinja autoescaping escapes every user-supplied value in the HTML.
    """
    text = render_template(f"emails/{template}.txt", **context)
    html = render_template(f"emails/{template}.html", **context)
    message = OutboxMessage(
        kind=kind,
        to_address=to,
        subject=subject,
        body_text=text,
        body_html=html,
        attachments=[a.as_json() for a in attachments or []],
        status="pending",
        next_attempt_at=now,
        created_at=now,
    )
    db.session.add(message)
    return message
