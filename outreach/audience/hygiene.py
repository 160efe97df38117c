"""Doubtful contact data, in groups the sales admin works through (``outreach contacts hygiene``).

Each group is one query (or one narrow read grouped here), so 100,000
contacts take a fraction of a second (bench/hygiene.py):

* ``stale``: not contacted for ``stale_months`` months (never contacted: since it was added);
* ``few_transactions``: existing customers with at most ``hygiene.few_transactions`` transactions;
* ``role_address``: a mailbox of a role, not a person (``ROLE_MAILBOXES`` in settings/config.py,
  ``info@``, ``sales2@``; ``hygiene.role_addresses`` adds to it);
* ``duplicates``: one person under several addresses: the same name at the same company
  (``company_identity``: legal forms, punctuation and case aside), or the same phone number;
* ``missing``: no phone, first name, company or job title;
* ``suppressed``: mail to them is blocked, with the reason;
* ``dead_domain`` (``--dns``, ``deliverability/domains.py``): the domain has no mail server and no
  address, or does not exist.

A group lists contacts as ``Member`` rows (address, name, company, a detail such as the
reason); ``HygieneReport.to_json`` is the contract's shape (lists of addresses).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, or_, select
from sqlalchemy.orm import Session

from outreach.errors import InputError
from outreach.settings.config import Hygiene
from outreach.storage.models import Company, Contact, Suppression

GROUPS = ("stale", "few_transactions", "role_address", "duplicates", "missing", "suppressed", "dead_domain")
MISSING = ("phone", "first_name", "company", "title")
ADVICE = {
    "stale": "not contacted for {months} months: confirm they are still there, by phone "
             "(outreach followups verify --hygiene stale)",
    "few_transactions": "existing customers who bought at most {few} times: call to learn why and update "
                        "the record (outreach followups verify --hygiene few_transactions)",
    "role_address": "a shared mailbox, not a person: find the person's own address and replace it "
                    "(outreach followups verify --hygiene role_address)",
    "duplicates": "one person under several addresses: merge each group into the address to keep "
                  "(outreach contacts merge KEEP OTHER)",
    "missing": "fields callers and templates need are empty: ask for them by phone "
               "(outreach followups verify --hygiene missing)",
    "suppressed": "no mail goes to them; nothing to do unless the reason is wrong",
    "dead_domain": "the address's domain takes no mail: find the person's new address by phone "
                   "(outreach followups verify --hygiene dead_domain)",
}  # fmt: skip


@dataclass(frozen=True)
class Member:
    """One contact in a group, as the admin reads it."""

    id: int
    email: str
    name: str
    company: str
    detail: str = ""  # why it is there: "last contacted 2025-01-10", the suppression's reason, ...


@dataclass
class Group:
    key: str
    advice: str
    members: list[Member] = field(default_factory=list)  # every contact of the group, once
    clusters: list[list[Member]] = field(default_factory=list)  # duplicates: one list per person
    by_field: dict[str, list[Member]] = field(default_factory=dict)  # missing: field -> contacts
    note: str = ""  # e.g. domains the DNS could not answer for

    @property
    def count(self) -> int:
        return len(self.clusters) if self.key == "duplicates" else len(self.members)


@dataclass
class HygieneReport:
    groups: dict[str, Group]
    today: date

    def to_json(self) -> dict[str, object]:
        """The contract's object: each key a list of addresses; duplicates a list of lists; missing field -> list."""
        out: dict[str, object] = {}
        for key, group in self.groups.items():
            if key == "duplicates":
                out[key] = [[m.email for m in cluster] for cluster in group.clusters]
            elif key == "missing":
                out[key] = {name: [m.email for m in members] for name, members in group.by_field.items()}
            else:
                out[key] = [m.email for m in group.members]
        return out


def parse_group(name: str) -> str:
    if name not in GROUPS:
        raise InputError(f"no hygiene group {name!r}; the groups are: {', '.join(GROUPS)}")
    return name


def months_before(today: date, months: int) -> date:
    """The same day ``months`` calendar months earlier (the month's last day when it is shorter)."""
    total = today.year * 12 + today.month - 1 - months
    year, month = divmod(total, 12)
    month += 1
    for day in (today.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, 28)


def hygiene_report(engine: Engine, rules: Hygiene, today: date, stale_months: int | None = None,
                   only: Sequence[str] = ()) -> HygieneReport:  # fmt: skip
    """Every group but ``dead_domain`` (that one asks the DNS: ``deliverability/domains.py``)."""
    months = stale_months or rules.stale_months
    wanted = [g for g in GROUPS if g != "dead_domain" and (not only or g in only)]
    groups: dict[str, Group] = {}
    with Session(engine) as session:
        for key in wanted:
            group = Group(key, ADVICE[key].format(months=months, few=rules.few_transactions))
            _FILL[key](session, group, rules, today, months)
            groups[key] = group
    return HygieneReport(groups, today)


def contact_domains(engine: Engine) -> dict[str, list[Member]]:
    """Every contact by its address's domain (what ``--dns`` asks about, once per domain)."""
    with Session(engine) as session:
        out: dict[str, list[Member]] = defaultdict(list)
        for m in _members(session, Contact.id.is_not(None)):
            out[m.email.rsplit("@", 1)[-1]].append(m)
    return out


def dead_domain_group(by_domain: dict[str, list[Member]], dead: dict[str, str], note: str = "") -> Group:
    """The contacts of the dead domains (``dead``: domain -> why), in id order."""
    members = [Member(m.id, m.email, m.name, m.company, f"{domain}: {why}")
               for domain, why in dead.items() for m in by_domain.get(domain, [])]  # fmt: skip
    return Group("dead_domain", ADVICE["dead_domain"], sorted(members, key=lambda m: m.id), note=note)


# -- the groups ------------------------------------------------------------------------------

_COLUMNS = (Contact.id, Contact.email, Contact.first_name, Contact.last_name, Company.name)


def _members(session: Session, where: ColumnElement[bool], detail: Any = None,
             describe: Callable[[Any], str] | None = None) -> list[Member]:  # fmt: skip
    """The contacts ``where`` picks, in id order; ``detail``: a column whose value ``describe`` words."""
    cols = (*_COLUMNS, detail) if detail is not None else _COLUMNS
    query = select(*cols).outerjoin(Company, Company.id == Contact.company_id).where(where).order_by(Contact.id)
    word = describe or _detail
    return [Member(row[0], row[1], f"{row[2]} {row[3]}".strip(), row[4] or "",
                   word(row[5]) if detail is not None else "") for row in session.execute(query)]  # fmt: skip


def _detail(value: object) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _stale(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    cutoff = months_before(today, months)
    since = datetime.combine(cutoff, datetime.min.time())
    never = and_(Contact.last_contacted_at.is_(None), Contact.created_at < since)
    where = or_(Contact.last_contacted_at < cutoff, never)
    group.members = _members(session, where, Contact.last_contacted_at,
                             lambda d: f"last contacted {d.isoformat()}" if d else "never contacted")


def _few(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    where = and_(Contact.status == "existing", Contact.transactions <= rules.few_transactions)
    group.members = _members(session, where, Contact.transactions, lambda n: f"{n} transaction(s)")


def role_local(email: str, mailboxes: Iterable[str]) -> str | None:
    """The role ``email``'s mailbox is (``info`` for ``info@``, ``Info2@``, ``sales+web@``), else None."""
    local = email.split("@", 1)[0].lower().split("+", 1)[0]
    base = re.sub(r"[._-]?\d+$", "", local)
    return base if base in set(mailboxes) else None


def _roles(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    mailboxes = sorted(rules.role_mailboxes)
    # a LIKE per role narrows the 100k to the few candidates; the exact rule is role_local's
    where = or_(*(Contact.email.like(f"{role}%@%", escape="\\") for role in mailboxes))
    group.members = [Member(m.id, m.email, m.name, m.company, f"{role}@")
                     for m in _members(session, where) if (role := role_local(m.email, mailboxes))]  # fmt: skip


def _missing(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    empty = {
        "phone": or_(Contact.phone.is_(None), Contact.phone == ""),
        "first_name": or_(Contact.first_name.is_(None), Contact.first_name == ""),
        "company": or_(Contact.company_id.is_(None), Company.name == ""),
        "title": or_(Contact.title.is_(None), Contact.title == ""),
    }
    seen: dict[int, Member] = {}
    for name in MISSING:
        group.by_field[name] = _members(session, empty[name])
        for m in group.by_field[name]:
            seen.setdefault(m.id, m)
    group.members = sorted(seen.values(), key=lambda m: m.id)


def _suppressed(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    query = (select(*_COLUMNS, Suppression.reason, Suppression.detail)
             .join(Suppression, Suppression.email == Contact.email)
             .outerjoin(Company, Company.id == Contact.company_id).order_by(Contact.id))  # fmt: skip
    for cid, email, first, last, company, reason, detail in session.execute(query):
        why = reason.replace("_", " ") + (f" ({detail})" if detail else "")
        group.members.append(Member(cid, email, " ".join(p for p in (first, last) if p), company or "", why[:200]))


# -- duplicates ------------------------------------------------------------------------------

LEGAL_FORMS = (
    "pt", "cv", "tbk", "persero", "perum", "perseroan terbatas", "ud", "pd", "fa", "firma", "koperasi", "kop",
    "yayasan", "ltd", "limited", "inc", "incorporated", "corp", "corporation", "co", "company", "llc", "plc",
    "gmbh", "bv", "nv", "sa", "ag", "pte", "sdn bhd", "sdn", "bhd", "group", "grup",
)  # fmt: skip
_LEGAL = re.compile(r"\b(?:" + "|".join(sorted((re.escape(f) for f in LEGAL_FORMS), key=len, reverse=True)) + r")\b")
_HONORIFICS = re.compile(r"\b(?:bapak|bpk|bp|pak|ibu|bu|sdr|sdri|mr|mrs|ms|dr|ir|drs|dra|prof|h|hj)\b")


def _plain(text: str) -> str:
    """Lowercase letters and digits, words separated by one space; accents and punctuation gone."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def company_identity(name: str) -> str:
    """``"PT. Maju Jaya"``, ``"Maju Jaya, PT"`` and ``"PT Maju Jaya Tbk"`` -> ``"maju jaya"``: the name
    without its legal forms (PT, CV, Tbk, Persero, UD, Ltd, Inc ...), punctuation and case. A name that
    is only a legal form stays as it is."""
    plain = re.sub(r"\b(?:[a-z] )+[a-z]\b", lambda m: m.group().replace(" ", ""), _plain(name))  # P.T. -> pt
    core = " ".join(_LEGAL.sub(" ", plain).split())
    return core or plain


@lru_cache(maxsize=65536)
def person_identity(first: str, last: str) -> str:
    """A person's name without honorifics, punctuation or case (``"Ir. Budi  Santoso"`` -> ``"budi santoso"``)."""
    plain = _plain(f"{first} {last}")
    return " ".join(_HONORIFICS.sub(" ", plain).split()) or plain


def _duplicates(session: Session, group: Group, rules: Hygiene, today: date, months: int) -> None:
    names: dict[int | None, str] = dict(session.execute(select(Company.id, Company.name)).all())
    companies = {cid: company_identity(name or "") for cid, name in names.items()}
    rows = session.execute(select(Contact.id, Contact.email, Contact.first_name, Contact.last_name,
                                  Contact.company_id, Contact.phone).order_by(Contact.id)).all()  # fmt: skip
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    keys: dict[tuple[str | None, ...], int] = {}
    why: dict[int, str] = {}
    for cid, _email, first, last, company_id, phone in rows:
        person = person_identity(first or "", last or "")
        identity = companies.get(company_id) if company_id is not None else None
        found: list[tuple[tuple[str | None, ...], str]] = []
        if person and identity:
            found.append((("name", person, identity), "same name at the same company"))
        if phone:
            found.append((("phone", phone), f"same phone {phone}"))
        for key, reason in found:
            other = keys.setdefault(key, cid)
            if other != cid:
                parent[find(cid)] = find(other)
                why.setdefault(cid, reason)
                why.setdefault(other, reason)
    clusters: dict[int, list[Member]] = defaultdict(list)
    for cid, email, first, last, company_id, _phone in rows:
        if cid in why:
            name = " ".join(p for p in (first, last) if p)
            clusters[find(cid)].append(Member(cid, email, name, names.get(company_id, "") or "", why[cid]))
    group.clusters = [members for members in clusters.values() if len(members) > 1]
    group.members = [m for cluster in group.clusters for m in cluster]


_FILL = {"stale": _stale, "few_transactions": _few, "role_address": _roles, "duplicates": _duplicates,
         "missing": _missing, "suppressed": _suppressed}  # fmt: skip
