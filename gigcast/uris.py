"""URIs as people may see them: a database's or a registry's, with any password masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["masked"]

_PASSWORD_PARAMETER = re.compile(r"(?i)([?&]password=)[^&#]*")


def masked(uri: str) -> str:
    """``uri`` with its password, in the user part or as a ``password=`` parameter, shown as ``***``."""
    password = urlsplit(uri).password
    if password is not None:
        user, _, host = uri.partition("@")
        uri = f"{user.removesuffix(password)}***@{host}"
    return _PASSWORD_PARAMETER.sub(r"\1***", uri)
