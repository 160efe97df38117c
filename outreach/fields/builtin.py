"""The contact fields every workspace has. To add a field: a ``Field`` here, a migration, its tests.

The order is the contacts CSV's (``contacts list --format csv``, the import's
summary). The synonyms are the header names of common exports, most specific
first (see ``audience/headers.py`` for where they were taken from: Outlook,
Google Contacts, HubSpot, Salesforce, LinkedIn, and Indonesian sheets).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func

from outreach.fields import parsers as p
from outreach.fields.kinds import DATE, EMAIL, LANGUAGE, LIST, NUMBER, PHONE, TEXT
from outreach.fields.registry import Field, FieldSet


def _full_name(view: Any) -> str:
    return " ".join(part for part in (view.first_name, view.last_name) if part)


def _full_name_sql(columns: Mapping[str, Any]) -> Any:
    first, last = func.coalesce(columns["first_name"], ""), func.coalesce(columns["last_name"], "")
    return func.trim(first.concat(" ").concat(last))


STATUSES = ("prospect", "existing")

BUILTIN = FieldSet((
    Field("email", EMAIL, p.email, length=320, card="email", example="Budi.Santoso@Contoh.co.id",
          placeholder="sample.contact@example.com",
          doc="the key: importing again updates the contact with this address (normalised, lowercase)",
          synonyms=("email", "e-mail", "email address", "e-mail address", "e-mail 1 - value", "email 1",
                    "email 1 - value", "primary email", "work email", "business email", "email (work)",
                    "emailaddress", "mail", "alamat email", "alamat e-mail", "surel", "surat elektronik",
                    "email kantor")),
    Field("first_name", TEXT, length=120, example="Budi", placeholder="Sample", doc="the greeting's name",
          synonyms=("first_name", "first name", "firstname", "given name", "given", "forename", "first",
                    "nama depan", "nama pertama", "nama panggilan")),
    Field("last_name", TEXT, length=120, example="Santoso", placeholder="Contact",
          synonyms=("last_name", "last name", "lastname", "surname", "family name", "last", "nama belakang",
                    "nama keluarga")),
    Field("title", TEXT, length=200, card="title", label="Job title", example="IT Manager",
          placeholder="Manager",
          # "Job Title" first: Outlook's own "Title" column holds Mr./Mrs./Dr.
          synonyms=("job title", "jobtitle", "title", "position", "organization 1 - title", "organization title",
                    "job position", "designation", "role", "occupation", "jabatan", "posisi",
                    "jabatan pekerjaan")),
    Field("phone", PHONE, p.phone, on_bad="warn", length=64, several_columns=True, card="phone",
          example="0812-3456-7890", placeholder="+62 21 0000 0000",
          doc="stored in E.164 (+6281234567890); the first valid number of the row",
          # mobile first: in Indonesia the number a caller reaches (and WhatsApps) is the mobile
          synonyms=("phone", "mobile phone", "mobile", "mobile phone number", "cell phone", "cellphone", "cell",
                    "handphone", "hp", "no hp", "no. hp", "nomor hp", "nomor handphone", "ponsel",
                    "telepon seluler", "whatsapp", "whatsapp number", "whatsapp phone number", "wa", "no wa",
                    "nomor wa", "phone number", "phone 1 - value", "business phone", "work phone",
                    "primary phone", "telephone", "company main phone", "office phone", "direct phone",
                    "business phone 2", "phone 2 - value", "telepon", "telp", "no telp", "no. telp",
                    "nomor telepon", "telepon kantor", "home phone", "other phone")),
    Field("company", TEXT, source="company", column="name", card="company", example="PT Contoh Solusi",
          placeholder="PT Sample",
          doc="one company per name (case and spaces aside); its industry, city and timezone come along",
          synonyms=("company", "company name", "organization", "organisation", "organization name",
                    "organization 1 - name", "account name", "account", "business name", "employer",
                    "associated company", "perusahaan", "nama perusahaan", "instansi", "organisasi",
                    "nama instansi", "badan usaha")),
    Field("industry", TEXT, length=120, fills_company=True, example="Manufacturing",
          placeholder="Industry",
          synonyms=("industry", "industri", "sector", "sektor", "bidang usaha", "jenis usaha", "lini bisnis")),
    Field("city", TEXT, length=120, fills_company=True, several_columns=True, example="Jakarta",
          placeholder="Jakarta",
          synonyms=("city", "business city", "mailing city", "work city", "address 1 - city", "billing city",
                    "town", "kota", "kota/kabupaten", "kabupaten/kota", "kota kabupaten", "home city",
                    "other city")),
    Field("timezone", TEXT, p.timezone, length=64, fills_company=True, inherits_company=True,
          example="Asia/Makassar", placeholder="", doc="an IANA name; empty: the company's, else the workspace's",
          synonyms=("timezone", "time zone", "tz", "zona waktu")),
    Field("status", TEXT, p.Choice(STATUSES), default="prospect", length=20, example="existing",
          placeholder="prospect",
          doc="prospect or existing (a customer)",
          synonyms=("status", "contact status", "customer status", "status pelanggan")),
    Field("owner", TEXT, p.owner, length=64, example="awang", placeholder="",
          doc="the sales executive: a key of senders (their name or address is read as the key)",
          synonyms=("owner", "contact owner", "account owner", "sales owner", "sales", "sales executive",
                    "assigned to", "pemilik", "pemilik kontak", "pic sales")),
    Field("last_contacted_at", DATE, p.iso_date, default=None, example="2026-01-15",
          doc="an ISO date; sending sets it",
          synonyms=("last_contacted_at", "last contacted", "last contact", "last contact date",
                    "last contacted at", "terakhir dihubungi", "kontak terakhir", "tanggal kontak terakhir")),
    Field("transactions", NUMBER, p.whole_number, default=0, example="3", doc="a whole number, 0 or more",
          synonyms=("transactions", "transaction count", "number of transactions", "orders", "transaksi",
                    "jumlah transaksi")),
    Field("tags", LIST, p.tags, example="network; Security", doc="separated by ; or , (lowercase)",
          synonyms=("tags", "tag", "labels", "label", "categories", "category", "group membership", "kategori",
                    "grup")),
    Field("language", LANGUAGE, p.language, on_bad="warn", length=8, example="English", placeholder="",
          doc="id or en (English, Bahasa Indonesia, en-US ... are read so); empty: the workspace's",
          synonyms=("language", "preferred language", "lang", "locale", "bahasa")),
    Field("full_name", TEXT, source="derived", compute=_full_name, expression=_full_name_sql,
          card="contact_name", label="Name", example="Ir. Budi Santoso, M.M.",
          doc="first and last name; a sheet with one name column is split into them",
          synonyms=("full name", "name", "contact name", "contact full name", "display name", "full_name", "nama",
                    "nama lengkap", "nama kontak", "nama pic", "pic")),
))  # fmt: skip
