"""Temporary console passwords: random, long, and of every character class IAM policies ask for."""

from __future__ import annotations

import secrets
import string

_SYMBOLS = "!@#$%^&*()_+-=[]{}|'"
_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)


def temporary_password(length: int = 24) -> str:
    """At least one of each class (so any account password policy accepts it), then shuffled."""
    alphabet = "".join(_CLASSES)
    chars = [secrets.choice(group) for group in _CLASSES]
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
