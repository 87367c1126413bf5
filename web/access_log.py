"""Access log without query strings: queries can carry names or numbers (PHI); paths carry only ids,
except the patients' links (/pay/<token>, /r/<token>, /f/<token>, /w/<token>), whose token is the key and is
masked."""

from __future__ import annotations

import re

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

# A link's token opens a payment page (with what it is for) or a patient's intake form (with their
# answers) or a waitlist offer (that books its slot): whoever reads the log must not hold it.
_CAPABILITY = re.compile(r"^/(pay|r|f|w)/[^/]+")


def logged_path(path: str) -> str:
    """The request path as the log shows it: patients' link tokens replaced by `…`."""
    return _CAPABILITY.sub(lambda m: f"/{m.group(1)}/…", path)


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            '%s "%s %s" %s %s %.3fs',
            request.remote,
            request.method,
            logged_path(request.rel_url.path),
            response.status,
            response.body_length,
            time,
        )
