"""Observe: read the kernel into an immutable Snapshot.

The only package that touches the kernel (besides explicit lesson setup/cleanup); the
reachable check's probes are sent here too (probes.py), when a check asks for them.
`take_snapshot` is imported lazily so that the data model can be used (by the lint,
by tests) without loading the readers.
"""
from .model import NOTHING, NS_TYPES, Snapshot, Wants

__all__ = ["NOTHING", "NS_TYPES", "Observer", "Snapshot", "Wants", "answer", "answer_probes", "take_snapshot"]


def __getattr__(name):
    if name in ("take_snapshot", "Observer", "answer", "answer_probes"):
        from . import snapshot
        return getattr(snapshot, name)
    raise AttributeError(name)
