"""What a person owns in a graph. A node of an owned label belongs to the person when
it is reached from the person (or from a node that belongs to them) through an ownership
relationship and has no owner outside what is being erased; shared labels (agents,
skills, services, workspaces, policy groups, other persons) are never erased, only their
relationships to the person's nodes go. A node whose id names the person, or an owned
node any of whose properties names them, belongs to the person too."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ...graph_schema import LABELS, REL_TYPES


@dataclass(frozen=True)
class Ownership:
    """`owner -[rel_type]-> owned` when `outgoing`, else `owned -[rel_type]-> owner`."""

    rel_type: str
    outgoing: bool

    def __post_init__(self) -> None:
        if self.rel_type not in REL_TYPES:
            raise ValueError(f"{self.rel_type} is not a relationship type of the schema")


OWNED_LABELS = frozenset({"Session", "Device", "Resource", "IntentInstance"})
OWNERSHIPS = (
    Ownership("OWNS", True),           # the person's devices
    Ownership("HAS_RESOURCE", True),   # traces, capabilities, actuation records, reports
    Ownership("FOR_PERSON", False),    # sessions
    Ownership("REQUESTED_BY", False),  # intents
    Ownership("ABOUT", False),         # records about the person
    Ownership("PRODUCED", True),       # what the person's intents produced
    Ownership("TRIGGERED", True),      # intents the person's intents triggered
)


@dataclass(frozen=True)
class PersonGraphModel:
    service: str                 # the receipt's `service`
    keyspaces: tuple[str, ...]   # the service's Redis cache keyspaces (tenant-prefixed)
    owned_labels: frozenset[str] = OWNED_LABELS
    ownerships: tuple[Ownership, ...] = OWNERSHIPS
    _index: dict[tuple[str, bool], bool] = field(default_factory=dict, repr=False,
                                                 compare=False)

    def __post_init__(self) -> None:
        if not self.owned_labels <= LABELS:
            raise ValueError("owned labels off the schema")
        for own in self.ownerships:
            self._index[(own.rel_type, own.outgoing)] = True

    def is_owned_label(self, labels: list[str]) -> bool:
        return any(label in self.owned_labels for label in labels)

    def owner_edge(self, rel_type: str, out_of_node: bool) -> bool:
        """Whether the other end of a relationship of `rel_type` (leaving the node when
        `out_of_node`) owns the node."""
        return (rel_type, not out_of_node) in self._index


def names_person(value: object, person_id: str) -> bool:
    """The value is the person's id, or holds it as a `:`/`/`-separated segment (the
    platform's composite ids: `capabilities:<person>`, `kv:<ns>/<person>:<event>`)."""
    if not isinstance(value, str) or person_id not in value:
        return False
    if value == person_id:
        return True
    pattern = rf"(?:^|[:/]){re.escape(person_id)}(?:$|[:/])"
    return re.search(pattern, value) is not None
