"""crm/settings.py as a process started with a given environment would read it.

Settings are read from the environment once, at import. Starting Django in a process of
its own to see what an environment gives costs 2-3 s of CPU a process (every app and
URLconf imported); executing the settings file afresh, as a module of its own under that
environment, costs milliseconds and leaves Django's live settings alone. Tests that need
what only a started process shows (its logging, a check command, a served request) still
start one.
"""

import importlib.util
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from unittest import mock

SETTINGS_FILE = Path(__file__).resolve().parents[1] / "crm" / "settings.py"


def settings_read(environ: Mapping[str, str]) -> ModuleType:
    """The settings module executed under exactly ``environ`` (nothing else of this
    process's environment is seen)."""
    spec = importlib.util.spec_from_file_location("settings_read_probe", SETTINGS_FILE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Production settings route Python's warnings into logging; that is the probed
    # process's business, not this one's.
    showwarning = warnings.showwarning
    try:
        with mock.patch.dict(os.environ, environ, clear=True):
            spec.loader.exec_module(module)
    finally:
        warnings.showwarning = showwarning
    return module
