"""Workspace settings (outreach.yaml), validated once into frozen objects.

Secrets never live in the file: it names environment variables
(``password_env``, ``secret_env``) and we read them when needed.
"""

from __future__ import annotations

import ipaddress
import os
import re
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from outreach.errors import ConfigError
from outreach.settings.units import parse_duration, parse_rate, parse_size
from outreach.settings.yamlfile import YamlDoc, error_text, pydantic_error

SETTINGS_FILE = "outreach.yaml"


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _rate(v: Any) -> float:
    return parse_rate(v)


def _seconds(v: Any) -> float:
    return parse_duration(v).total_seconds()


def _bytes(v: Any) -> int:
    return parse_size(v)


Rate = Annotated[float, BeforeValidator(_rate)]
Seconds = Annotated[float, BeforeValidator(_seconds)]
Bytes = Annotated[int, BeforeValidator(_bytes)]


class Organization(Frozen):
    name: str = Field(min_length=1)
    address: str = Field(min_length=1)


class Smtp(Frozen):
    host: str = "127.0.0.1"
    port: int = Field(1025, ge=1, le=65535)
    security: Literal["none", "starttls", "tls"] = "none"
    username: str | None = None
    password_env: str = "OUTREACH_SMTP_PASSWORD"
    ca_file: str | None = None
    timeout: Seconds = 30.0
    local_hostname: str | None = None

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


class Imap(Frozen):
    """The mailbox replies and bounces arrive in, read by ``track poll`` and the worker."""

    host: str = "127.0.0.1"
    port: int | None = Field(None, ge=1, le=65535)  # None: 993 for tls, else 143
    security: Literal["none", "starttls", "tls"] = "tls"
    username: str = Field(min_length=1)
    password_env: str = "OUTREACH_IMAP_PASSWORD"
    folder: str = "INBOX"
    processed_folder: str = "Processed"
    ca_file: str | None = None
    timeout: Seconds = 30.0
    poll_every: Seconds = 60.0  # the worker polls at most this often

    @field_validator("folder", "processed_folder")
    @classmethod
    def _folder(cls, v: str) -> str:
        if not v.strip() or any(c in v for c in "\r\n\x00"):
            raise ValueError("must be a folder name on one line")
        return v.strip()

    @field_validator("processed_folder")
    @classmethod
    def _not_the_inbox(cls, v: str, info: ValidationInfo) -> str:
        if v.casefold() == str(info.data.get("folder", "")).casefold():
            raise ValueError("must differ from folder, or moved messages would be read again")
        return v

    @property
    def effective_port(self) -> int:
        return self.port or (993 if self.security == "tls" else 143)

    def password(self) -> str | None:
        return os.environ.get(self.password_env) or None


SELECTOR = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"


class Dkim(Frozen):
    """DKIM signing of every outgoing message; the key files never leave the workspace.

    ``ed25519_selector`` with ``ed25519_private_key_file`` adds an RFC 8463
    Ed25519 signature beside the RSA one (both or neither, on its own selector:
    one DNS record holds one key). ``processes``: how many worker processes sign
    during a send (default: the cores this process may use; 1 signs in the
    sending loop itself).
    """

    selector: str = Field(pattern=SELECTOR)
    domain: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*\.[A-Za-z]{2,}$")
    private_key_file: str = Field(min_length=1)
    ed25519_selector: str | None = Field(default=None, pattern=SELECTOR)
    ed25519_private_key_file: str | None = Field(default=None, min_length=1)
    processes: int | None = Field(default=None, ge=1, le=64)

    @model_validator(mode="after")
    def _ed25519_pair(self) -> Dkim:
        if (self.ed25519_selector is None) != (self.ed25519_private_key_file is None):
            raise ValueError("ed25519_selector and ed25519_private_key_file go together: set both or neither")
        if self.ed25519_selector is not None and self.ed25519_selector == self.selector:
            raise ValueError("ed25519_selector must differ from selector (one DNS record holds one key)")
        return self

    def signing_processes(self) -> int:
        """``processes``, else the cores this process may run on (a taskset or container limit counts)."""
        if self.processes:
            return self.processes
        return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class Sender(Frozen):
    name: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    title: str = ""
    phone: str = ""
    warmup: bool = False  # a new sending domain or address: the daily cap grows from warmup.start

    @field_validator("name", "email", "title", "phone")
    @classmethod
    def _one_line(cls, v: str) -> str:
        if "\r" in v or "\n" in v:
            raise ValueError("must be on one line")
        return v.strip()

    @property
    def domain(self) -> str:
        return self.email.rsplit("@", 1)[1].lower()


class Unsubscribe(Frozen):
    base_url: str = "http://127.0.0.1:8025"
    secret_env: str = "OUTREACH_SECRET"
    mailto: str | None = None

    @field_validator("base_url")
    @classmethod
    def _http(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v.rstrip("/")


class Web(Frozen):
    """``outreach serve`` behind a reverse proxy: the address people use, and whom to believe about it.

    ``public_url`` is where the team app is reached (``https://…`` makes session cookies Secure, and its
    path is the prefix the proxy strips); ``trusted_proxies`` are the addresses (or networks) whose
    ``X-Forwarded-For``/``X-Forwarded-Proto`` headers are believed. Nobody's are by default.
    """

    public_url: str | None = None
    trusted_proxies: tuple[str, ...] = ()
    session_hours: float = Field(12.0, gt=0, le=24 * 30)
    # GET /metrics answers loopback and trusted_proxies only; once this variable holds a token, it answers
    # whoever sends it as ``Authorization: Bearer TOKEN``, and nobody without it (loopback included)
    metrics_token_env: str = Field("OUTREACH_METRICS_TOKEN", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")

    @model_validator(mode="before")
    @classmethod
    def _no_secret_in_the_file(cls, data: Any) -> Any:
        if isinstance(data, dict) and "metrics_token" in data:
            raise ValueError("metrics_token: secrets are not kept in outreach.yaml; put the token in the environment "
                             "variable that metrics_token_env names (default OUTREACH_METRICS_TOKEN)")
        return data

    def metrics_token(self) -> str | None:
        """The bearer token /metrics requires, from the environment (None: loopback and trusted proxies only)."""
        return os.environ.get(self.metrics_token_env) or None

    @field_validator("public_url")
    @classmethod
    def _http(cls, v: str | None) -> str | None:
        if v is None:
            return None
        if not v.startswith(("http://", "https://")) or any(c in v for c in "?# \r\n"):
            raise ValueError("must be an http:// or https:// address without query or fragment")
        return v.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for entry in v:
            try:
                network = ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or network (e.g. 10.0.0.5, 10.0.0.0/24)") from None
            single = network.num_addresses == 1 and "/" not in entry
            out.append(str(network.network_address) if single else str(network))  # as uvicorn parses them
        return tuple(out)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
_TOPIC_ARN = re.compile(r"^arn:aws(?:-cn|-us-gov)?:sns:[a-z]{2}(?:-[a-z]+)+-\d{1,2}:\d{12}:[\w-]{1,256}(?:\.fifo)?$",
                        re.ASCII)


class SesEvents(Frozen):
    """Amazon SES's bounces and complaints through SNS, posted to ``/hooks/ses``: only these topics are
    accepted, and only their subscriptions are confirmed."""

    topic_arns: tuple[str, ...] = Field(min_length=1)

    @field_validator("topic_arns")
    @classmethod
    def _arns(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for arn in v:
            if not _TOPIC_ARN.match(arn):
                raise ValueError(f"{arn!r} is not an SNS topic ARN like arn:aws:sns:ap-southeast-3:123456789012:ses")
        return v


class MailgunEvents(Frozen):
    """Mailgun's webhooks, posted to ``/hooks/mailgun``, signed with the signing key in ``$signing_key_env``.

    A post signed longer ago than ``max_age`` is refused (a replay); the default covers the eight hours
    Mailgun retries a post it could not deliver, and a replay inside it is refused by its token.
    """

    signing_key_env: str = Field("MAILGUN_WEBHOOK_SIGNING_KEY", pattern=_ENV_NAME)
    max_age: Annotated[float, BeforeValidator(_seconds), Field(ge=60, le=7 * 86400)] = 8 * 3600.0


class SendgridEvents(Frozen):
    """SendGrid's signed event webhook, posted to ``/hooks/sendgrid``; its verification key (base64) in
    ``$public_key_env``."""

    public_key_env: str = Field("SENDGRID_WEBHOOK_PUBLIC_KEY", pattern=_ENV_NAME)


class PostmarkEvents(Frozen):
    """Postmark's bounce and spam-complaint webhooks, posted to ``/hooks/postmark`` with HTTP basic auth:
    ``username``, and the password in ``$password_env``."""

    username: str = Field(min_length=1, max_length=200, pattern=r"^[^:\s]+$")
    password_env: str = Field("POSTMARK_WEBHOOK_PASSWORD", pattern=_ENV_NAME)


class EmailEvents(Frozen):
    """Email services that report bounces and complaints over HTTP (``outreach serve``'s ``/hooks/SERVICE``).

    A service not listed answers 404. Secrets come from the environment, never from this file.
    ``max_body`` caps a post (a larger one is refused with 413).
    """

    ses: SesEvents | None = None
    mailgun: MailgunEvents | None = None
    sendgrid: SendgridEvents | None = None
    postmark: PostmarkEvents | None = None
    max_body: Annotated[int, BeforeValidator(_bytes), Field(ge=4096, le=32 * 1024**2)] = 2 * 1024**2


_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_FONT = re.compile(r"^[A-Za-z0-9 ,'-]+$")  # family names, quoted with ' when they hold spaces; nothing else


def _hex(v: Any) -> str:
    """``#0B5CAB`` or ``#fff`` -> ``#0b5cab``: one spelling, so contrast checks and CSS agree."""
    text = str(v).strip()
    if not _HEX.match(text):
        raise ValueError(f"{v!r} is not a hex colour like #0b5cab")
    text = text.lower()
    return "#" + "".join(c * 2 for c in text[1:]) if len(text) == 4 else text


Colour = Annotated[str, BeforeValidator(_hex)]


class Theme(Frozen):
    """The company's look, applied by the message layout (outreach/templates/).

    Colours are hex, checked here; ``content lint`` warns when a text colour falls
    short of WCAG AA contrast (4.5:1) against what is behind it. ``logo`` is an
    http(s) URL or an image file in the workspace, which is then embedded in each
    message (an inline part, shown even when remote images are blocked).
    """

    logo: str | None = None
    logo_width: int = Field(160, ge=16, le=536)
    logo_alt: str | None = None  # default: the organization's name
    primary_color: Colour = "#0b5cab"  # buttons, links, the brand line, callout edges
    button_text_color: Colour = "#ffffff"
    text_color: Colour = "#1f2933"
    heading_color: Colour = "#102a43"
    background_color: Colour = "#f2f4f7"  # around the message
    card_color: Colour = "#ffffff"  # behind the text
    callout_color: Colour = "#eef4fb"  # behind a callout
    footer_color: Colour = "#52606d"
    font_family: str = "Arial, Helvetica, sans-serif"
    footer_lines: tuple[str, ...] = ()  # printed above the organization's address, one per line

    @field_validator("font_family")
    @classmethod
    def _font(cls, v: str) -> str:
        if not _FONT.match(v.strip()):
            raise ValueError("must be a font stack like Arial, Helvetica, sans-serif (letters, digits, spaces, "
                             "commas, hyphens and 'quotes' only)")
        return v.strip()

    @field_validator("footer_lines", "logo_alt")
    @classmethod
    def _one_line(cls, v: Any) -> Any:
        for line in (v,) if isinstance(v, str) else v or ():
            if "\r" in line or "\n" in line:
                raise ValueError("each footer line must be on one line")
        return v

    @field_validator("logo")
    @classmethod
    def _logo(cls, v: str | None) -> str | None:
        if v is None or v.startswith(("https://", "http://")):
            return v
        parts = v.replace("\\", "/").split("/")
        if v.startswith("/") or ".." in parts or ":" in v:
            raise ValueError("must be an http(s) URL or an image file inside the workspace (e.g. images/logo.png)")
        return v


class Studio(Frozen):
    """The writer's checks: SpamAssassin's threshold, how many recipients it scores, the image budget."""

    spam_threshold: float = Field(5.0, gt=0, le=100)  # `content lint --spam` fails at or above this score
    spam_samples: int = Field(3, ge=1, le=20)  # recipients scored per content file (language, step)
    image_budget: Bytes = Field(300 * 1024, ge=0)  # embedded images per message, in total


class Throttle(Frozen):
    rate: Rate = 20.0
    connections: int = Field(1, ge=1, le=64)
    per_domain_rate: Rate | None = None
    daily_cap: int | None = Field(None, ge=1)
    messages_per_connection: int = Field(100, ge=1)


class Retry(Frozen):
    attempts: int = Field(8, ge=1, le=100)
    backoff: Seconds = 30.0
    max_backoff: Seconds = 3600.0


class Bounces(Frozen):
    """The envelope sender (Return-Path). With VERP each message gets its own, so a bounce
    can be traced to its outbox row even when it quotes nothing of the original."""

    verp: bool = True
    address: str | None = Field(None, pattern=r"^[^@\s+]+@[^@\s]+$")
    # soft bounces (mailbox full, greylisting, 4.x.x) suppress only when they keep coming:
    # at least soft_limit of them, the first and last more than soft_spread apart
    soft_limit: int = Field(3, ge=1)
    soft_spread: Seconds = 7 * 86400.0


class FollowupRules(Frozen):
    """Who goes to the call queue, who straight to a visit, and in what order."""

    visit_keywords: tuple[str, ...] = (
        "penawaran", "harga", "jadwal", "bertemu", "ketemu", "kunjungan", "kunjung", "rapat", "meeting",
        "meet", "quotation", "quote", "price", "pricing", "visit", "appointment", "demo",
    )  # fmt: skip
    existing_to_visit: bool = True  # a reply from an existing customer goes straight to a visit
    due_business_days: int = Field(1, ge=0, le=30)
    cooling_off: Seconds = 90 * 86400.0  # not_interested keeps the contact out of blasts this long
    size_field: str | None = "employees"  # custom column: larger companies first
    promote_clicks: int = Field(1, ge=0)  # clicks that earn a call when nobody replied (0: never)


class Tracking(Frozen):
    """Click tracking rewrites the body's links through ``outreach serve`` (unsubscribe.base_url)."""

    clicks: bool = False


class AutoPause(Frozen):
    failure_rate: float = Field(0.10, gt=0, le=1)
    window: int = Field(200, ge=10)
    min_attempts: int = Field(20, ge=1)


class Guardrails(Frozen):
    """Mailbox providers junk a sender whose complaints pass 0.3%; hard bounces mean a stale list.

    A campaign whose rates cross these pauses itself, but only once ``min_delivered`` messages
    were delivered: two complaints among the first fifty say little.
    """

    complaint_rate: float = Field(0.003, gt=0, le=1)
    hard_bounce_rate: float = Field(0.05, gt=0, le=1)
    min_delivered: int = Field(200, ge=1)


class Warmup(Frozen):
    """The daily allowance of a sender marked ``warmup: true``: ``start`` on its first day of
    sending, multiplied by ``factor`` for each earlier day that sent without tripping a guardrail."""

    start: int = Field(50, ge=1)
    factor: float = Field(1.5, ge=1, le=10)


class Deliverability(Frozen):
    """``campaign send`` runs ``outreach doctor``'s checks first and refuses on a failing one."""

    preflight: bool = True
    nameserver: str | None = None  # HOST[:PORT] to ask instead of the system's resolver (doctor's default too)
    dns_timeout: Seconds = 3.0


class Targets(Frozen):
    """Monthly goals per sales executive, compared against in `outreach report monthly`."""

    new_prospects: int = Field(50, ge=0)


class ContactPolicy(Frozen):
    """How often one person may be mailed, across campaigns; 0 turns a rule off.

    Checked when a campaign is built (``campaign build --ignore-policy`` overrides it once),
    against what was sent and what is already queued in other campaigns.
    """

    min_gap: Seconds = 7 * 86400.0  # between two campaign emails to one contact
    max_per_30d: int = Field(4, ge=0)  # campaign emails to one contact in any 30 days
    hold_after_reply: Seconds = 30 * 86400.0  # after a reply, and while a follow-up item is open
    hold_after_decline: Seconds = 180 * 86400.0  # after a reply that said no (not_interested)

    @field_validator("min_gap", "hold_after_reply", "hold_after_decline")
    @classmethod
    def _not_negative(cls, v: float) -> float:
        if v < 0:
            raise ValueError("must be 0 (off) or a duration like 7d")
        return v


class ContactsImport(Frozen):
    """How contact spreadsheets are read."""

    default_region: str = "ID"  # phone numbers written without +CC are read as numbers of this country

    @field_validator("default_region")
    @classmethod
    def _region(cls, v: str) -> str:
        region = v.strip().upper()
        if region == "ID":
            return region  # the default: no need to load phonenumbers' tables for every command
        import phonenumbers

        if region not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{v!r} is not a country code like ID, SG or MY")
        return region


class Calendar(Frozen):
    """Working days for due dates and "N business days" steps: Monday to Friday, without the
    public holidays (and, for Indonesia, the cuti bersama) of ``country``, nor ``holidays``."""

    country: str | None = "ID"  # a country code the holidays package knows; null: weekends only
    subdivision: str | None = None  # a province or state, where holidays differ by region
    categories: tuple[str, ...] | None = None  # None: public, and "government" (Indonesia's cuti bersama) where known
    holidays: tuple[date, ...] = ()  # the company's own days off

    @model_validator(mode="after")
    def _known(self) -> Calendar:
        if self.country is None or (self.country, self.subdivision, self.categories) == ("ID", None, None):
            return self  # the default is known good; loading the holidays package costs most of a second
        import holidays

        try:
            known = holidays.country_holidays(self.country)
        except NotImplementedError:
            raise ValueError(f"country {self.country!r} is not known to the holidays package "
                             "(use a code like ID, SG, MY, or null for weekends only)") from None
        subdivisions = getattr(known, "subdivisions", ())
        if self.subdivision is not None and self.subdivision not in subdivisions:
            raise ValueError(f"subdivision {self.subdivision!r} is not one of {self.country}'s "
                             f"({', '.join(subdivisions) or 'it has none'})")
        unknown = set(self.categories or ()) - set(getattr(known, "supported_categories", ("public",)))
        if unknown:
            raise ValueError(f"categories {', '.join(sorted(unknown))} are not known for {self.country} "
                             f"({', '.join(getattr(known, 'supported_categories', ('public',)))})")
        return self


class Api(Frozen):
    """The JSON API (``/api/v1``): each token's requests pass a token bucket, ``burst`` at once and then
    ``rate``; past it, 429 with Retry-After."""

    rate: Rate = 10.0
    burst: int = Field(60, ge=1, le=100_000)


_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class Webhook(Frozen):
    """A receiver of events (``webhooks:``): the worker POSTs each event of ``events`` to ``url``, signed
    with the secret in the environment variable ``secret_env`` (never in the file).

    https, or plain http to this machine only (a receiver on a loopback address): an event carries
    contacts' data and the signature proves only where it came from, not who read it on the way.
    A failing receiver is retried after ``backoff``, doubling up to ``max_backoff``, for ``retry_for``;
    then the event is dead-lettered (``outreach webhooks status`` shows it).
    """

    url: str
    events: tuple[str, ...] = Field(min_length=1)
    secret_env: str = Field(pattern=_ENV_NAME)
    timeout: Seconds = 10.0
    backoff: Seconds = 10.0
    max_backoff: Seconds = 3600.0
    retry_for: Seconds = 86400.0
    concurrency: int = Field(4, ge=1, le=32)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        from urllib.parse import urlsplit

        v = v.strip()
        try:
            parts = urlsplit(v)
            _ = parts.port  # raises for a port that is not a number in range
        except ValueError as exc:
            raise ValueError(f"{v!r} is not a URL: {exc}") from None
        if parts.scheme not in ("https", "http") or not parts.hostname or any(c in v for c in " \r\n\t"):
            raise ValueError("must be an https:// URL (or http:// to a loopback address such as 127.0.0.1)")
        if parts.username is not None or parts.password is not None or parts.fragment:
            raise ValueError("must not carry a user name, password or #fragment (the signature authenticates)")
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError(f"plain http is only for a receiver on this machine (127.0.0.1, ::1, localhost); "
                             f"use https://{parts.netloc}{parts.path}")
        return v

    @field_validator("events")
    @classmethod
    def _events(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        from outreach.events import TYPES

        unknown = [e for e in v if e not in TYPES]
        if unknown:
            raise ValueError(f"unknown event type(s) {', '.join(map(repr, unknown))}; "
                             f"the types are: {', '.join(TYPES)}")
        return tuple(dict.fromkeys(v))

    @model_validator(mode="after")
    def _timing(self) -> Webhook:
        if not 0 < self.timeout <= 60:
            raise ValueError("timeout must be between 0 and 60 seconds")
        if not 0 < self.backoff <= self.max_backoff:
            raise ValueError("backoff must be above 0 and at most max_backoff")
        if self.retry_for <= 0:
            raise ValueError("retry_for must be a duration like 24h")
        return self

    def secret(self) -> bytes | None:
        value = os.environ.get(self.secret_env)
        return value.encode("utf-8") if value else None


def _loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Database(Frozen):
    """Riding through a database outage (outreach/storage/outage.py).

    ``outage_timeout``: how long a sender, the worker, ``serve`` and a mailbox poll wait for the
    database to answer again (retrying with backoff, holding what they have not recorded yet) before
    they give up with one ``Error:`` line; the worker and ``serve`` never give up, they retry later.
    ``busy_timeout``: SQLite only: how long one statement waits for another process's write lock
    before it counts as an outage.
    """

    outage_timeout: Annotated[float, BeforeValidator(_seconds), Field(ge=1, le=86400)] = 60.0
    busy_timeout: Annotated[float, BeforeValidator(_seconds), Field(ge=0.1, le=3600)] = 30.0


class Settings(Frozen):
    database_url: str = "sqlite:///outreach.db"
    timezone: str = "Asia/Jakarta"
    language: Literal["id", "en"] = "id"  # of contacts whose language column is empty
    organization: Organization
    smtp: Smtp = Smtp()
    senders: dict[str, Sender] = Field(min_length=1)
    unsubscribe: Unsubscribe = Unsubscribe()
    throttle: Throttle = Throttle()
    retry: Retry = Retry()
    bounces: Bounces = Bounces()
    followups: FollowupRules = FollowupRules()
    tracking: Tracking = Tracking()
    auto_pause: AutoPause = AutoPause()
    targets: Targets = Targets()
    guardrails: Guardrails = Guardrails()
    warmup: Warmup = Warmup()
    deliverability: Deliverability = Deliverability()
    contact_policy: ContactPolicy = ContactPolicy()
    contacts: ContactsImport = ContactsImport()
    calendar: Calendar = Calendar()
    web: Web = Web()
    email_events: EmailEvents = EmailEvents()
    api: Api = Api()
    webhooks: tuple[Webhook, ...] = ()
    theme: Theme = Theme()
    studio: Studio = Studio()
    imap: Imap | None = None
    dkim: Dkim | None = None
    # how long a sender's claim on its messages lasts without renewal (it renews every quarter):
    # after a crash, another sender or the worker takes its messages over this long after the last renewal
    lease: Annotated[float, BeforeValidator(_seconds), Field(ge=2, le=3600)] = 45.0
    database: Database = Database()

    @field_validator("webhooks")
    @classmethod
    def _one_entry_per_url(cls, v: tuple[Webhook, ...]) -> tuple[Webhook, ...]:
        urls = [hook.url for hook in v]
        twice = sorted({u for u in urls if urls.count(u) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} is listed more than once; "
                             "list each receiver once, with all its events")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown timezone {v!r} (use an IANA name like Asia/Jakarta)") from None
        return v


ENV_OVERRIDES = {
    "OUTREACH_DATABASE_URL": ("database_url",),
    "OUTREACH_SMTP_HOST": ("smtp", "host"),
    "OUTREACH_SMTP_PORT": ("smtp", "port"),
    "OUTREACH_SMTP_SECURITY": ("smtp", "security"),
}


def parse_settings(doc: YamlDoc) -> Settings:
    data = doc.data if doc.data is not None else {}
    if not isinstance(data, dict):
        raise ConfigError("expected a mapping of settings", **doc.at())
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise pydantic_error(doc, exc) from None
    return _apply_env(settings, data)


def _apply_env(settings: Settings, data: dict[str, Any]) -> Settings:
    overridden = False
    merged: dict[str, Any] = settings.model_dump()
    for var, path in ENV_OVERRIDES.items():
        value = os.environ.get(var)
        if value is None or value == "":
            continue
        overridden = True
        target = merged
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value
    if not overridden:
        return settings
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        names = [v for v, p in ENV_OVERRIDES.items() if os.environ.get(v)]
        err = exc.errors()[0]
        raise ConfigError(
            f"environment override ({', '.join(names)}): "
            f"{'.'.join(map(str, err['loc']))}: {error_text(err)}"
        ) from None
