"""What an import did with every source object: mapped, approximated (and how) or not mapped
(and why). Nothing that changes meaning may happen without an entry here."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["Entry", "Report"]

MAPPED, APPROXIMATED, NOT_MAPPED = "mapped", "approximated", "not mapped"


@dataclass(frozen=True)
class Entry:
    status: str  # mapped | approximated | not mapped
    kind: str  # user, schedule, layer, override, policy, service, ...
    name: str  # the source object, as its users know it
    detail: str = ""  # how it was approximated, why it was not mapped, or where it went


@dataclass
class Report:
    source: str
    entries: list[Entry] = field(default_factory=list)
    as_of: str | None = None  # "as of <time> (--since)" when the import was moved in time

    def mapped(self, kind: str, name: str, detail: str = "") -> None:
        self.entries.append(Entry(MAPPED, kind, name, detail))

    def approximated(self, kind: str, name: str, how: str) -> None:
        self.entries.append(Entry(APPROXIMATED, kind, name, how))

    def not_mapped(self, kind: str, name: str, why: str) -> None:
        self.entries.append(Entry(NOT_MAPPED, kind, name, why))

    def counts(self) -> Counter[str]:
        return Counter(e.status for e in self.entries)

    def of(self, status: str) -> list[Entry]:
        return [e for e in self.entries if e.status == status]

    def summary(self) -> str:
        c = self.counts()
        return (f"{c[MAPPED]} mapped, {c[APPROXIMATED]} approximated, "
                f"{c[NOT_MAPPED]} not mapped")

    def text(self) -> str:
        """The report as plain text (also written as REPORT.txt beside the files)."""
        when = f" {self.as_of}" if self.as_of else ""
        lines = [f"Import from {self.source}{when}: {self.summary()}", ""]
        kinds = sorted({e.kind for e in self.entries})
        width = max((len(k) for k in kinds), default=0)
        lines.append(f"{'':{width}}  mapped  approximated  not mapped")
        for kind in kinds:
            c = Counter(e.status for e in self.entries if e.kind == kind)
            lines.append(f"{kind:{width}}  {c[MAPPED]:>6}  {c[APPROXIMATED]:>12}  "
                         f"{c[NOT_MAPPED]:>10}")
        lines.append("")
        for status in (APPROXIMATED, NOT_MAPPED, MAPPED):
            entries = self.of(status)
            if not entries:
                continue
            lines.append(f"{status.upper()} ({len(entries)}):")
            for e in entries:
                lines.append(f"  {e.kind} {e.name}" + (f": {e.detail}" if e.detail else ""))
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"
