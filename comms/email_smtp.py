"""One SMTP hand-off to the relay, with a checkpoint just before the point of no return.

A relay takes responsibility for a message only when it answers the end-of-data marker (the lone
"." line, RFC 5321 4.1.1.4); a connection lost before that leaves nothing at the relay. So the whole
transaction runs up to the last line of the message, then `checkpoint` records durably that the
marker is about to go (and checks that we still hold the message), and only then is the "." sent.
Every outcome is one of the exceptions below, so the caller knows whether a resend is safe.
"""

from __future__ import annotations

import contextlib
import re
import ssl
from collections.abc import Awaitable, Callable

import aiosmtplib

from config.settings import SmtpSettings

END_OF_DATA = b".\r\n"
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)
_BARE_LINE_END = re.compile(rb"\r\n|\r|\n")


class NotHandedOff(Exception):
    """The relay certainly does not have the message (refused, unreachable, or we let go of it)."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.message = message
        self.retry = retry


class Abandoned(NotHandedOff):
    """The checkpoint said the message is no longer ours (lease lost): another sender has it."""

    def __init__(self) -> None:
        super().__init__("another sender holds this message now", retry=False)


class HandoffUnknown(Exception):
    """The end-of-data marker went out but no answer came: the relay may have the message."""


def dot_stuffed(raw: bytes) -> bytes:
    """The message as DATA carries it: CRLF line ends, a leading "." doubled, ending in CRLF."""
    data = _BARE_LINE_END.sub(b"\r\n", raw)
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return _LINE_START_DOT.sub(b"..", data)


async def hand_off(
    raw: bytes,
    *,
    sender: str,
    recipient: str,
    cfg: SmtpSettings,
    timeout: float,  # noqa: ASYNC109 - per SMTP command, handed to aiosmtplib, not a deadline for the call
    checkpoint: Callable[[], Awaitable[bool]],
) -> str:
    """Deliver `raw` to the relay; the relay's answer on success, else one of the exceptions above."""
    client = aiosmtplib.SMTP(
        hostname=cfg.relay_host,
        port=cfg.relay_port,
        use_tls=cfg.implicit_tls,
        # True, never None: a relay that stops offering STARTTLS must not get our password in clear.
        start_tls=cfg.starttls and not cfg.implicit_tls,
        username=cfg.username,
        password=cfg.password,
        cert_bundle=cfg.ca_file,
        timeout=timeout,
    )
    try:
        await _connect(client, cfg)
        options = []
        utf8 = not (sender.isascii() and recipient.isascii())
        if utf8:
            if not client.supports_extension("smtputf8"):
                raise NotHandedOff("the mail server cannot take non-ASCII addresses", retry=False)
            options.append("SMTPUTF8")
        data = dot_stuffed(raw)
        if client.supports_extension("size"):
            options.append(f"SIZE={len(data)}")
        encoding = "utf-8" if utf8 else "ascii"
        await client.mail(sender, options=options, encoding=encoding)
        await client.rcpt(recipient, encoding=encoding)
        start = await client.execute_command(b"DATA")
        if start.code != 354:
            raise aiosmtplib.SMTPDataError(start.code, start.message)
        protocol = client.protocol
        if protocol is None:
            raise aiosmtplib.SMTPServerDisconnected("connection lost")
        protocol.write(data)
        if not await checkpoint():
            raise Abandoned()  # closing without the marker: the relay discards what it was given
        protocol.write(END_OF_DATA)
        try:
            answer = await protocol.read_response(timeout=timeout)
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise HandoffUnknown(exc.__class__.__name__) from exc
        if answer.code != 250:
            raise NotHandedOff(
                f"the mail server refused the message ({answer.code})", retry=answer.code < 500
            )
        with contextlib.suppress(aiosmtplib.SMTPException, OSError):
            await client.quit(timeout=min(timeout, 5.0))
        return answer.message
    except (NotHandedOff, HandoffUnknown):
        raise
    except aiosmtplib.SMTPRecipientRefused as exc:
        raise NotHandedOff(
            f"the mail server refused the patient's address ({exc.code})", retry=exc.code < 500
        ) from exc
    except aiosmtplib.SMTPAuthenticationError as exc:
        raise NotHandedOff(
            f"the mail server refused our sign-in ({exc.code}): check smtp.username and smtp.password",
            retry=False,
        ) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise NotHandedOff(f"the mail server answered {exc.code}", retry=exc.code < 500) from exc
    except ssl.SSLCertVerificationError as exc:
        raise NotHandedOff(
            "the mail server's certificate is not trusted (see smtp.ca_file)", retry=False
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        cause = exc.__cause__ if isinstance(exc.__cause__, ssl.SSLCertVerificationError) else None
        if cause is not None:
            raise NotHandedOff(
                "the mail server's certificate is not trusted (see smtp.ca_file)", retry=False
            ) from exc
        raise NotHandedOff(f"could not reach the mail server ({exc.__class__.__name__})", retry=True) from exc
    finally:
        client.close()


async def _connect(client: aiosmtplib.SMTP, cfg: SmtpSettings) -> None:
    """Connect, upgrade with STARTTLS and sign in as configured; a server without STARTTLS is refused."""
    try:
        await client.connect()
    except aiosmtplib.SMTPException as exc:
        if "starttls" in str(exc).lower():
            raise NotHandedOff(
                "the mail server does not offer STARTTLS (smtp.starttls is on)", retry=False
            ) from exc
        raise
