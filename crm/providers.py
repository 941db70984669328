"""Outside services (carrier lookups, reputation feeds, number inventory) behind one loader.

Each kind of provider is a setting holding a dotted class path (``docs/providers.md``).
An app declares the settings it reads with :func:`register_provider_setting` (from its
``AppConfig.ready()``); a system check then fails start-up, with the app's own id, when a
path does not import, so a typo is found at deploy time and not at the first call. Code
gets the instance with :func:`get_provider`: built once per process with no arguments (a
provider reads its own settings), and built again when the setting's value changes.
"""

import threading
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.utils.module_loading import import_string


@dataclass(frozen=True)
class ProviderSetting:
    name: str  # e.g. "LINE_TYPE_PROVIDER"
    check_id: str  # e.g. "telephony.E001"
    what: str  # e.g. "carrier line-type lookups", for the check's message


_registry: dict[str, ProviderSetting] = {}
_instances: dict[str, tuple[str, Any]] = {}  # {setting: (dotted path, instance)}
_lock = threading.Lock()


def register_provider_setting(name: str, *, check_id: str, what: str) -> None:
    _registry[name] = ProviderSetting(name=name, check_id=check_id, what=what)


def get_provider(name: str) -> Any:
    """The provider instance configured by setting ``name`` (a dotted class path)."""
    path = getattr(settings, name)
    cached = _instances.get(name)
    if cached is not None and cached[0] == path:
        return cached[1]
    with _lock:  # threads of one worker share the instance (and its HTTP connections)
        cached = _instances.get(name)
        if cached is None or cached[0] != path:
            cached = (path, import_string(path)())
            _instances[name] = cached
    return cached[1]


def clear_providers() -> None:
    """Forget every built provider (tests that swap one in)."""
    _instances.clear()


def check_provider_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for entry in _registry.values():
        path = getattr(settings, entry.name, None)
        problem = None
        if not isinstance(path, str) or not path:
            problem = "is not set"
        else:
            try:
                provider = import_string(path)
            except ImportError as exc:
                problem = f"= {path!r} does not import ({exc})"
            else:
                if not callable(provider):
                    problem = f"= {path!r} is not a class"
        if problem:
            errors.append(
                Error(
                    f"{entry.name} {problem}: {entry.what} cannot work.",
                    hint=f"Set {entry.name} to the dotted path of a provider class "
                    "(see docs/providers.md).",
                    id=entry.check_id,
                )
            )
    return errors


register(check_provider_settings)
