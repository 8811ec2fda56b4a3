"""What an import did, per table: imported, skipped (already there, expired) and failed
rows, each skip and failure with its reason. Nothing is dropped without a line here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class TableReport:
    table: str
    imported: int = 0
    skipped: int = 0
    failed: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def skip(self, reason: str) -> None:
        self.skipped += 1
        self.reasons[reason] += 1

    def fail(self, row: str, reason: str) -> None:
        self.failed += 1
        self.failures.append((row, reason))


@dataclass
class ImportReport:
    tables: dict[str, TableReport] = field(default_factory=dict)

    def table(self, name: str) -> TableReport:
        return self.tables.setdefault(name, TableReport(name))

    @property
    def imported(self) -> int:
        return sum(t.imported for t in self.tables.values())

    @property
    def failed(self) -> int:
        return sum(t.failed for t in self.tables.values())

    def lines(self) -> list[str]:
        """The report as plain lines (what the CLI prints under its table)."""
        out = []
        for t in self.tables.values():
            out.append(f"{t.table}: imported {t.imported}, skipped {t.skipped}, "
                       f"failed {t.failed}")
            out += [f"  skipped {n}: {reason}" for reason, n in sorted(t.reasons.items())]
            out += [f"  failed {row}: {reason}" for row, reason in t.failures]
        if self.imported == 0:
            out.append("nothing imported: every row was already there (or failed, above)")
        return out
