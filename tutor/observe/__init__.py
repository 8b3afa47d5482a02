"""Observe: read the kernel into an immutable Snapshot.

The only package that touches the kernel (besides explicit probes in the
reachable check and explicit lesson setup/cleanup). `take_snapshot` is imported
lazily so that the data model can be used (by the lint, by tests) without
loading the readers.
"""
from .model import NOTHING, NS_TYPES, Snapshot, Wants

__all__ = ["NOTHING", "NS_TYPES", "Observer", "Snapshot", "Wants", "answer", "take_snapshot"]


def __getattr__(name):
    if name in ("take_snapshot", "Observer", "answer"):
        from . import snapshot
        return getattr(snapshot, name)
    raise AttributeError(name)
