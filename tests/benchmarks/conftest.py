"""Makes ``fixtures.py`` of this folder importable as ``benchmark_fixtures`` (a name no other folder uses)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "benchmark_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("benchmark_fixtures", Path(__file__).with_name("fixtures.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["benchmark_fixtures"] = _module
    _spec.loader.exec_module(_module)
