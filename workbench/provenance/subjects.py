"""Data subjects as salted hashes: one normalisation shared by the index and the erasure request.

A value (an e-mail, a phone number, an IBAN, ... found by inspection/pii.py, or a user-chosen
subject field) is normalised so that different spellings of one value hash alike:

  email        lower case, no surrounding space           Ann@Example.COM  -> ann@example.com
  phone        digits only, "+" for an international     +44 (0)20 7946-0958 -> +442079460958
               prefix ("+" or "00"), a "(0)" trunk dropped  (555) 123-4567  -> 5551234567
  iban         upper case, no spaces
  credit_card, us_ssn   digits only
  ip_address   the canonical form (`ipaddress`)
  anything else (a name, a customer id)  case-folded, runs of white space as one space

A phone number written nationally (020 ...) and internationally (+44 20 ...) stays two values:
without the country the two cannot be told apart safely; a request names both.

The hash is HMAC-SHA256 keyed with the project's salt: a random file created once beside the
run folders (`RunDir.salt_file`). Without the salt a hash cannot be checked against a guessed
e-mail address; with it (the project's own machine) an erasure request can be matched.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError
from ..inspection.pii import find_pii

log = logging.getLogger(__name__)

SALT_BYTES = 32
HASH_METHOD = "hmac-sha256(project salt, normalised value); normalisation: provenance/subjects.py"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Subject:
    """One normalised value and the kind it was found as ("subject" for a free value)."""

    kind: str
    value: str


def normalise(value: str, kind: str | None = None) -> Subject:
    """`value` in its normal form; `kind` None detects it (a whole-value PII match, else "subject")."""
    text = value.strip()
    if kind is None:
        kind = _whole_kind(text)
    return Subject(kind, _NORMALISERS.get(kind, _plain)(text))


def _whole_kind(text: str) -> str:
    matches = find_pii(text)
    if len(matches) == 1 and matches[0].start == 0 and matches[0].end == len(text):
        return matches[0].kind
    return "subject"


def _email(text: str) -> str:
    return text.lower()


def _phone(text: str) -> str:
    international = text.startswith(("+", "00"))
    if international:
        text = text.replace("(0)", "")
    digits = re.sub(r"\D", "", text)
    if text.startswith("00"):
        digits = digits[2:]
    return f"+{digits}" if international else digits


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _iban(text: str) -> str:
    return _SPACES.sub("", text).upper()


def _ip(text: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return text


def _plain(text: str) -> str:
    return _SPACES.sub(" ", text).casefold()


_NORMALISERS = {
    "email": _email,
    "phone": _phone,
    "iban": _iban,
    "credit_card": _digits,
    "us_ssn": _digits,
    "ip_address": _ip,
    "secret": str.strip,
}


def subjects_in(text: str) -> list[Subject]:
    """The personal data inspection finds in `text`, normalised."""
    return [normalise(m.text, m.kind) for m in find_pii(text)]


# -- the salt and the hash -----------------------------------------------------------------------


def read_salt(path: str | Path, *, create: bool) -> bytes:
    """The project's salt from `path`; `create` makes it once (race-safe: the first writer wins)."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise ConfigError(
                f"{path}: no salt file, so no run under it was indexed by this workbench "
                "(train a run first, or point --runs at the folder that holds the runs)."
            )
        _create_salt(path)
    text = path.read_text(encoding="ascii").strip()
    try:
        salt = bytes.fromhex(text)
    except ValueError:
        salt = b""
    if len(salt) < 16:
        raise ConfigError(
            f"{path}: not a workbench salt (expected {SALT_BYTES * 2} hex digits). Restore it "
            "from a backup: without it no erasure request can be matched to the runs."
        )
    return salt


def _create_salt(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(SALT_BYTES) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.link(tmp, path)  # fails when another process made it first: theirs is kept
        log.info("Created the project's salt %s (keep it: erasure requests need it)", path)
    except FileExistsError:
        pass
    finally:
        Path(tmp).unlink(missing_ok=True)


def salt_id(salt: bytes) -> str:
    """A short name for the salt (not the salt): tells which salt an index was hashed with."""
    return hashlib.sha256(b"workbench-salt-id:" + salt).hexdigest()[:16]


def subject_hash(value: str, salt: bytes) -> str:
    """HMAC-SHA256 of a normalised value (see the module docstring)."""
    return hmac.new(salt, value.encode("utf-8"), hashlib.sha256).hexdigest()
