"""gigcast contracts shared by the trainer and the service.

Kept import-light on purpose: the CLI client imports the generated stubs under
``gigcast.v1`` and the request fields of ``gigcast.query``, and must not pay for polars, MLflow
or Prophet. MLflow and pandas are imported only where the pyfunc is logged or loaded.
"""

from __future__ import annotations

__version__ = "0.1.0"
