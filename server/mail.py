"""Outgoing e-mail over SMTP (stdlib smtplib on a worker thread, one connection per
message): the reminders' sender. Built from the smtp_* settings."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from server.config import Settings

TIMEOUT_SECONDS = 20


class SmtpMailer:
    """Plain-text mail through `smtp_host`; STARTTLS and login when configured."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host is not None
        self.host = settings.smtp_host
        self.port = settings.smtp_port
        self.user = settings.smtp_user
        self.password = settings.smtp_password
        self.sender = settings.smtp_from
        self.starttls = settings.smtp_starttls

    def _send_blocking(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(message)

    async def send(self, to: str, subject: str, body: str) -> None:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message.set_content(body)
        await asyncio.to_thread(self._send_blocking, message)


def mailer_from(settings: Settings) -> SmtpMailer | None:
    """A mailer when `smtp_host` is set, else None (no e-mail is sent)."""
    return SmtpMailer(settings) if settings.smtp_host else None
