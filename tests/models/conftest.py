"""Make ``models`` resolve to the library, not to this test folder of the same name.

pytest puts ``tests/`` on ``sys.path`` (rootdir conftest, no ``__init__.py``), where this folder
would otherwise shadow the real package as a namespace package.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = str(Path(__file__).resolve().parents[2])
if sys.path[:1] != [_ROOT]:
    sys.path.insert(0, _ROOT)
_loaded = sys.modules.get("models")
if _loaded is not None and getattr(_loaded, "__file__", None) is None:
    for _name in [m for m in sys.modules if m == "models" or m.startswith("models.")]:
        del sys.modules[_name]
