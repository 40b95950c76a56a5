"""Configuration: `load_settings(os.environ)` once at start-up, then each part of the service
is handed its own group of the frozen `Settings` (see `app.config.settings`)."""

from app.config.errors import SettingsError
from app.config.loader import load_settings
from app.config.settings import Settings

__all__ = ["Settings", "SettingsError", "load_settings"]
