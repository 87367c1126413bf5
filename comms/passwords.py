"""Password hashing with argon2id; hashes are upgraded when the parameters change."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from comms.errors import InvalidRequest

_hasher = PasswordHasher()
MIN_LENGTH = 10
# Verified against when the account does not exist, so timing does not reveal which e-mails are staff.
_DUMMY_HASH = _hasher.hash("frontdesk-timing-equalizer")


def hash_password(password: str) -> str:
    """Hash a new password after checking it is long enough to be worth hashing."""
    if len(password) < MIN_LENGTH:
        raise InvalidRequest(f"password must be at least {MIN_LENGTH} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-effort check; a missing account still costs one argon2 verification."""
    try:
        return _hasher.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    """True when the hash was made with older parameters than the current ones."""
    return _hasher.check_needs_rehash(stored_hash)
