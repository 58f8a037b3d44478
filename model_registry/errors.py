"""What can go wrong with the registry, as exceptions a caller can catch by meaning."""

from __future__ import annotations


class RegistryError(RuntimeError):
    """Base class of every riskgen registry error."""


class RegistryNotFound(RegistryError):
    """The registry database does not exist (and was not asked to be created)."""


class NotARiskgenRegistry(RegistryError):
    """The URI names a database riskgen did not create (no sentinel): most likely a mistyped path."""


class UnsupportedRegistry(RegistryError):
    """The URI is of a kind this registry cannot guard (only `sqlite:///path` for now)."""


class ModelNotFound(RegistryError, LookupError):
    """No such theme, version or champion, or a registered artifact is missing. Never answered by another version."""


class ModelIntegrityError(RegistryError):
    """A registered artifact differs from what was recorded at registration (tampered, replaced or added to)."""


class PromotionConflict(RegistryError):
    """The champion changed since the caller looked (compare-and-set failed)."""


class PromotionRefused(RegistryError):
    """The candidate ranks worse than the champion on the same test dates (pass force=True to override)."""
