"""Which `COUNTERSIGN_*` names a deployment file may set: the settings of app/config (the
README's table), each also as `NAME_FILE` (read from a file: how secrets are passed)."""

from __future__ import annotations

import re

from app.config.spec import SETTINGS_DOC

SETTINGS = frozenset(name for name, _default, _meaning in SETTINGS_DOC)
_NAME = re.compile(r"\bCOUNTERSIGN_[A-Z0-9_]+\b")


def is_setting(name: str) -> bool:
    """Whether Countersign reads `name` (a setting, or a setting's `_FILE` form)."""
    return name in SETTINGS or name.removesuffix("_FILE") in SETTINGS


def unknown_settings(text: str) -> list[str]:
    """Every `COUNTERSIGN_*` name in `text` that Countersign would not read."""
    return sorted({name for name in _NAME.findall(text) if not is_setting(name)})
