"""``contacts hygiene`` as text: each group's count, what to do, then its contacts (the first few)."""

from __future__ import annotations

from outreach.audience.hygiene import Group, HygieneReport, Member

TITLES = {
    "stale": "Stale", "few_transactions": "Few transactions", "role_address": "Role addresses",
    "duplicates": "Duplicates", "missing": "Missing fields", "suppressed": "Suppressed", "dead_domain": "Dead domains",
}  # fmt: skip


def _line(m: Member) -> str:
    who = ", ".join(p for p in (m.name, m.company) if p)
    return f"    {m.email}" + (f"  ({who})" if who else "") + (f"  {m.detail}" if m.detail else "")


def _group_lines(group: Group, limit: int | None) -> list[str]:
    count = group.count
    unit = "person(s) under several addresses" if group.key == "duplicates" else "contact(s)"
    out = [f"{TITLES[group.key]}: {count} {unit}", f"  what to do: {group.advice}"]
    if group.note:
        out.append(f"  note: {group.note}")
    if group.key == "duplicates":
        for cluster in group.clusters[:limit]:
            out.append("  - one person: " + ", ".join(m.email for m in cluster) + f"  ({cluster[0].detail})")
        shown = min(len(group.clusters), limit if limit is not None else len(group.clusters))
    elif group.key == "missing":
        for name, members in group.by_field.items():
            out.append(f"  {name}: {len(members)}")
            out += [_line(m) for m in members[:limit]]
        shown = count if limit is None else min(count, limit)
        return out + _more(sum(len(m) for m in group.by_field.values()) - sum(
            min(len(m), limit if limit is not None else len(m)) for m in group.by_field.values()))
    else:
        out += [_line(m) for m in group.members[:limit]]
        shown = min(count, limit if limit is not None else count)
    return out + _more(count - shown)


def _more(hidden: int) -> list[str]:
    return [f"    ... and {hidden} more (--all or --json lists every one)"] if hidden > 0 else []


def hygiene_text(report: HygieneReport, limit: int | None = 10) -> str:
    lines = [f"Contact hygiene, {report.today.isoformat()}", ""]
    for group in report.groups.values():
        lines += [*_group_lines(group, limit), ""]
    return "\n".join(lines)
