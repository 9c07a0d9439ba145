"""Email over SMTP with the standard library (`smtplib`): the kind, the case's number and a
link, never the patient's name or NHS number (the reader signs in to see the case)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from app.config import Settings
from app.notifications.message import DeliveryFailed, Outgoing


class SmtpSender:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def message(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        about = f" (case {out.case_id})" if out.case_id is not None else ""
        msg["Subject"] = f"HomeFirst: {out.title}{about}"
        msg["From"] = self.settings.smtp_from
        msg["To"] = out.address
        msg["X-HomeFirst-Kind"] = out.kind
        msg.set_content(
            f"{out.title}{about}.\n\n{out.summary}\n\nOpen it in HomeFirst: {out.link}\n\n"
            "This email carries no patient details: sign in to HomeFirst to see the case.\n"
        )
        return msg

    def send(self, message: Outgoing) -> None:
        s = self.settings
        if not s.smtp_host:
            raise DeliveryFailed("no SMTP host is configured (SMTP_HOST)")
        try:
            with smtplib.SMTP(
                s.smtp_host, s.smtp_port, timeout=s.notification_webhook_timeout_seconds
            ) as smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if s.smtp_user:
                    smtp.login(s.smtp_user, s.smtp_password or "")
                smtp.send_message(self.message(message))
        except (OSError, smtplib.SMTPException) as exc:
            raise DeliveryFailed(f"SMTP: {type(exc).__name__}") from None
