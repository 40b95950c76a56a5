"""Dev mode only: a built-in issuer, a login page that signs in as listed users, and the key
`countersign token mint` signs with. Never mounted unless COUNTERSIGN_DEV is on."""

from app.adapters.dev.issuer import (
    DEV_AUDIENCE,
    DevIssuer,
    DevKeyError,
    DevKeyMissingError,
    key_file,
)
from app.adapters.dev.login import dev_router
from app.adapters.dev.users import DevUser, DevUsers, load_dev_users

__all__ = [
    "DEV_AUDIENCE",
    "DevIssuer",
    "DevKeyError",
    "DevKeyMissingError",
    "DevUser",
    "DevUsers",
    "dev_router",
    "key_file",
    "load_dev_users",
]
