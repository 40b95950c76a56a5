"""All request signals in one call: client IP, country and device, from trusted metadata only."""

from __future__ import annotations

from collections.abc import Mapping

from app.adapters.signals.client_ip import TrustedProxies, client_ip
from app.adapters.signals.country import CountryResolver
from app.adapters.signals.device import DeviceResolver
from app.config.settings import IdentitySettings, SignalSettings
from app.core.context import Device, Identity, IPAddress


class SignalReader:
    """Raises ForwardedHeaderError (answer 400) when a trusted proxy sent unreadable metadata."""

    def __init__(
        self, *, trusted: TrustedProxies, country: CountryResolver, device: DeviceResolver
    ) -> None:
        self.trusted = trusted
        self._country = country
        self._device = device

    @classmethod
    def from_settings(cls, settings: SignalSettings, *, identity: IdentitySettings) -> SignalReader:
        """Everything as configured (device claims named as `identity` says); raises
        SettingsError for a bad GeoIP DB or inventory."""
        country = CountryResolver.from_settings(settings)
        try:
            device = DeviceResolver.from_settings(settings, identity=identity)
        except BaseException:
            country.close()
            raise
        return cls(trusted=TrustedProxies(settings.trusted_proxies), country=country, device=device)

    def __call__(
        self, peer: str, headers: Mapping[str, str], identity: Identity | None
    ) -> tuple[IPAddress | None, str | None, Device]:
        """(client IP, country, device) for one request; `headers` has lower-case names."""
        address = client_ip(peer, headers.get("x-forwarded-for"), self.trusted)
        peer_trusted = self.trusted.is_trusted(peer)
        country = self._country.resolve(address, headers, peer_trusted=peer_trusted)
        device = self._device.resolve(headers, identity, peer_trusted=peer_trusted)
        return address, country, device

    def close(self) -> None:
        """Release the GeoIP database."""
        self._country.close()
