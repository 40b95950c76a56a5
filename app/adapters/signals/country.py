"""The client's country (ISO 3166-1 alpha-2): from a header a trusted proxy sets (for example
Cloudflare's CF-IPCountry), else from a MaxMind database. Unknown is None, never a guess."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import maxminddb

from app.adapters.signals.client_ip import normalise
from app.config import SettingsError
from app.config.settings import SignalSettings
from app.core.context import IPAddress
from app.core.selectors.countries import ISO_3166_ALPHA2


def country_code(value: object) -> str | None:
    """An assigned ISO code, upper-cased; None for `XX` (unknown), `T1` (Tor) and junk."""
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    return code if code in ISO_3166_ALPHA2 else None


class CountryResolver:
    """Opened once at start-up; `close()` releases the database."""

    def __init__(
        self,
        *,
        header: str | None = None,
        geoip_db: Path | None = None,
        setting: str = "COUNTERSIGN_GEOIP_DB",
    ) -> None:
        self._header = header.lower() if header else None
        self._reader: Any = None
        if geoip_db is not None:
            try:
                self._reader = maxminddb.open_database(str(geoip_db))
            except FileNotFoundError:
                raise SettingsError((setting, f"no such file: {geoip_db}")) from None
            except (OSError, ValueError, maxminddb.InvalidDatabaseError):
                raise SettingsError((setting, f"{geoip_db} is not a MaxMind database")) from None

    @classmethod
    def from_settings(cls, settings: SignalSettings) -> CountryResolver:
        """As configured by COUNTERSIGN_COUNTRY_HEADER and COUNTERSIGN_GEOIP_DB."""
        return cls(header=settings.country_header, geoip_db=settings.geoip_db)

    def resolve(
        self, address: IPAddress | None, headers: Mapping[str, str], *, peer_trusted: bool
    ) -> str | None:
        """A configured header sent by a trusted proxy is authoritative (even when it says
        "unknown"); without one, the database is asked."""
        if self._header is not None and peer_trusted:
            value = headers.get(self._header)
            if value is not None:
                return country_code(value)
        if self._reader is None or address is None:
            return None
        try:
            record = self._reader.get(normalise(address))
        except (ValueError, maxminddb.InvalidDatabaseError):
            return None
        if not isinstance(record, dict):
            return None
        country = record.get("country")
        return country_code(country.get("iso_code")) if isinstance(country, dict) else None

    def close(self) -> None:
        """Release the database file."""
        if self._reader is not None:
            self._reader.close()
            self._reader = None
