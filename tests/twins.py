"""Both implementations of a fastpath module, for tests that run on each (STYLE.md, item 1)."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def twins(name: str) -> tuple[ModuleType | None, ModuleType, list[object], str]:
    """(compiled or None, pure twin, pytest params over both, why the compiled one is missing).

    A missing compiled module is a skip on a developer's machine and a failure in CI, which
    always builds the extensions.
    """
    pure = importlib.import_module(f"fastpath._{name}_py")
    missing = ""
    compiled: ModuleType | None = None
    try:
        compiled = importlib.import_module(f"fastpath._{name}")
    except ImportError as exc:
        if os.environ.get("CI") == "true":
            raise
        missing = f"fastpath._{name} is not built ({exc}); run python setup.py build_ext --inplace"
    params: list[object] = [
        pytest.param(compiled, id="cython",
                     marks=pytest.mark.skipif(compiled is None, reason=missing)),
        pytest.param(pure, id="pure"),
    ]
    return compiled, pure, params, missing
