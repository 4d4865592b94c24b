"""Importing the reference package without its logging side effect.

``huddle_cluster`` calls ``logging.basicConfig(level=INFO)`` at import time, which would
attach a handler to the root logger of whatever process imports it and print every one of
its rotations. The import here puts the root logger back as it was and quiets the
package's own logger.
"""

from __future__ import annotations

import logging
import sys
from types import ModuleType


def import_reference() -> ModuleType:
    """``huddle_cluster``, imported once with the root logger left untouched."""
    if "huddle_cluster" not in sys.modules:
        root = logging.getLogger()
        handlers, level = list(root.handlers), root.level
        try:
            import huddle_cluster  # noqa: F401
        except ImportError as exc:
            raise ImportError(
                'the reference package is missing: pip install "huddle-client[bench]" '
                "(it pins huddle-cluster==1.3.2)"
            ) from exc
        finally:
            for handler in list(root.handlers):
                if handler not in handlers:
                    root.removeHandler(handler)
            root.setLevel(level)
    logging.getLogger("huddle").setLevel(logging.ERROR)
    return sys.modules["huddle_cluster"]
