"""Outgoing mail over SMTP (settings `smtp_*`), with the stdlib email package and aiosmtplib."""

from __future__ import annotations

import logging
from email.message import EmailMessage

import aiosmtplib

from server.config import Settings
from server.domain.errors import ApiError

log = logging.getLogger(__name__)

SEND_TIMEOUT_SECONDS = 30


def mail_failed(message: str) -> ApiError:
    """502 `mail_failed`: the mail server refused or could not be reached."""
    return ApiError(502, "mail_failed", message)


class SmtpMailer:
    """Sends one message per call; any refusal becomes 502 `mail_failed`."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    async def send(
        self, to: str, subject: str, text: str, attachments: list[tuple[str, str, bytes]]
    ) -> None:
        """Deliver `text` with (filename, MIME type, bytes) attachments to `to`."""
        settings = self._settings
        if not settings.smtp_host:
            raise mail_failed("no mail server is configured (smtp_host)")
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        for filename, mime_type, data in attachments:
            maintype, subtype = mime_type.split("/", 1)
            message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
        try:
            await aiosmtplib.send(
                message,
                hostname=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_user,
                password=settings.smtp_password,
                start_tls=settings.smtp_starttls,
                timeout=SEND_TIMEOUT_SECONDS,
            )
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            log.warning("mail to %s refused: %s", to, exc)
            raise mail_failed(f"the mail server refused the message: {exc}") from None
