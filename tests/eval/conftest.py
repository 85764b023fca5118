"""Makes ``eval_fixtures.py`` of this folder importable as ``eval_fixtures``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

if "eval_fixtures" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("eval_fixtures", Path(__file__).with_name("eval_fixtures.py"))
    assert _spec is not None and _spec.loader is not None
    _module = importlib.util.module_from_spec(_spec)
    sys.modules["eval_fixtures"] = _module
    _spec.loader.exec_module(_module)
