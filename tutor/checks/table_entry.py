"""Base of the kinds about one entry in a network namespace's table: route, neighbour, fdb.

Such a check names its netns with `netns:` (the host's by default), or through the device the
entry is on (`dev: RED/veth0`); the two must not contradict each other. Grading starts from the
netns whose table holds the entry and the device's name there (which must exist when given).
"""
from __future__ import annotations

from ..i18n import _
from ..observe.model import NetNS, Snapshot
from .base import Expectation, Field
from .refs import Missing, describe_netns_ref, dev_netns_problem, netns_ref_of, netns_ref_problem, resolve_table_owner

#: The `netns` field of every table-entry kind.
NETNS_FIELD = Field(netns_ref_problem, doc="RED, host (the default), or {netns_of: ...}")


class TableEntryExpectation(Expectation):
    """An entry in a netns's table (not registered itself); subclasses give `netns` (NETNS_FIELD) and `dev`."""

    @classmethod
    def extra_problems(cls, spec: dict) -> list[str]:
        return dev_netns_problem(spec)

    def in_netns_words(self) -> str:
        """' in RED', ' in the host', ...: where the entry is, to end describe() with."""
        return _(" in {netns}").format(netns=describe_netns_ref(netns_ref_of(self.dev, self.netns)))

    def table_owner(self, snap: Snapshot) -> tuple[NetNS, str | None] | Missing:
        """The netns whose table holds the entry, and the device's name in it (None when not given)."""
        return resolve_table_owner(snap, self.dev, self.netns)
