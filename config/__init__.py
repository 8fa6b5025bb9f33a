"""Configuration of the Chef's Kiss deployment: environments, restaurants and their profiles."""

from config.loader import ConfigError, load_environment, load_environments, parse_environment
from config.profiles import PROFILES, PlatformProfile, profile_for
from config.schema import EnvironmentConfig, Restaurant

__all__ = [
    "PROFILES",
    "ConfigError",
    "EnvironmentConfig",
    "PlatformProfile",
    "Restaurant",
    "load_environment",
    "load_environments",
    "parse_environment",
    "profile_for",
]
