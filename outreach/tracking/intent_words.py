"""Words for the reply-intent reader: how a reply's words are normalised before the rules read them.

Replies to B2B mail in Jakarta are written in formal Indonesian ("Dengan hormat"), casual
Jakarta Indonesian with chat abbreviations ("sy gak mau nerima email2 kayak gini lg"),
English (native and not) and a mix of both, often typed on a phone. The rules in
``intents.py`` are written once, against one canonical spelling; this module brings every
reply to that spelling:

* case, Unicode compatibility forms and curly quotes are folded;
* addresses, links, phone numbers, clock times and dates become placeholder tokens
  (``emailaddr``, ``urlval``, ``phonenum``, ``timeval``, ``dateval``) so the rules can say
  "a time" or "an address" without a pattern for each writing;
* English contractions are spelt out ("don't" -> "do not"), Indonesian reduplication
  ("email2", "email-email") and hyphenated affixes ("di-remove", "pricelist-nya") folded;
* letters repeated for emphasis ("pleaseee", "tolonggg") are collapsed;
* chat abbreviations are expanded (``ABBREVIATIONS``: tdk/gak/ga/nggak/gk -> tidak, sy -> saya, ...);
* a word of five letters or more that is not known is matched to a ``KEYWORDS`` entry at
  edit distance 1 ("unsubscibe", "berhentii", "tertarek"), unless it is itself a common word
  (``COMMON``: "harus" is not a typo of "hapus", "remote" not one of "remove").

Everything is plain dictionaries and one ``lru_cache``: a word is looked at once per process.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache


def words(text: str) -> frozenset[str]:
    """A word list written as running text (one place to read and extend it)."""
    return frozenset(text.split())


# Chat and office abbreviations -> the canonical word the rules use.
ABBREVIATIONS: dict[str, str] = {
    # negation
    **dict.fromkeys(("tdk", "gak", "ga", "nggak", "gk", "ngga", "nga", "enggak", "engga", "ndak", "nda", "kagak",
                     "gag", "tak", "gx", "ngak", "tdak", "tida"), "tidak"),  # fmt: skip
    **dict.fromkeys(("blm", "blum", "blom", "belom"), "belum"),
    **dict.fromkeys(("jgn", "jngn", "jgan", "jangn"), "jangan"),
    **dict.fromkeys(("sdh", "udh", "udah", "dah", "sudh", "sdah", "uda"), "sudah"),
    # pronouns
    **dict.fromkeys(("sy", "aku", "gw", "gue", "gua", "ane", "saye", "sya"), "saya"),
    **dict.fromkeys(("kmi",), "kami"),
    **dict.fromkeys(("u", "ya'll", "yall"), "you"),
    **dict.fromkeys(("ur",), "your"),
    **dict.fromkeys(("kalian", "anda", "kamu", "situ", "agan"), "kalian"),
    # function words
    "yg": "yang", "utk": "untuk", "untk": "untuk", "dgn": "dengan", "dg": "dengan", "krn": "karena",
    "karna": "karena", "krna": "karena", "lg": "lagi", "lgi": "lagi", "dr": "dari", "kpd": "kepada",
    "mhn": "mohon", "bs": "bisa", "bsa": "bisa", "sm": "sama", "aja": "saja", "ajah": "saja", "sj": "saja",
    "tp": "tapi", "tpi": "tapi", "kalo": "kalau", "klo": "kalau", "kl": "kalau", "gimana": "bagaimana",
    "gmn": "bagaimana", "bgmn": "bagaimana", "gmana": "bagaimana", "skrg": "sekarang", "skr": "sekarang",
    "skrng": "sekarang", "kpn": "kapan", "brp": "berapa", "knp": "kenapa", "jd": "jadi", "jdi": "jadi",
    "trs": "terus", "dpt": "dapat", "dlm": "dalam", "lbh": "lebih", "org": "orang", "tlg": "tolong",
    "tolongin": "tolong", "bgt": "banget", "emg": "memang", "bkn": "bukan", "bukn": "bukan",
    "sbg": "sebagai", "sblm": "sebelum", "stlh": "setelah", "smp": "sampai", "sampe": "sampai",
    "tgl": "tanggal", "bln": "bulan", "thn": "tahun", "mgg": "minggu", "hr": "hari", "besok2": "besok",
    "dapet": "dapat", "dpet": "dapat", "ngurus": "urus", "ngurusin": "urus", "mengurus": "urus",
    "pengen": "ingin", "pengin": "ingin", "pgn": "ingin", "pingin": "ingin", "kyk": "kayak", "kek": "kayak",
    # thanks, please, yes
    **dict.fromkeys(("tks", "thx", "thks", "tq", "ty", "tx", "makasih", "mksh", "trims", "trimakasih",
                     "terimakasih", "thanx", "tengkyu", "thnx", "mkasih", "maksih"), "thanks"),  # fmt: skip
    **dict.fromkeys(("pls", "plz", "plis", "pliss", "please", "pleas", "plse"), "please"),
    **dict.fromkeys(("ok", "oke", "okay", "okey", "okee", "okay", "oce", "okai", "okeh"), "ok"),
    **dict.fromkeys(("yup", "yep", "yeah", "yea", "yes"), "yes"),
    **dict.fromkeys(("iya", "iyaa", "yaa", "y"), "ya"),
    # mail words
    **dict.fromkeys(("emel", "imel", "mail", "surel", "emails", "mails", "imil"), "email"),
    **dict.fromkeys(("unsub", "unsubs", "unsubscribed", "unsubscribing", "unsubcribe", "unsubscribes"),
                    "unsubscribe"),  # fmt: skip
    **dict.fromkeys(("optout",), "optout"),
    **dict.fromkeys(("ngirim", "ngirimin", "kirimin", "kirimi", "kirimkan", "kirimkn"), "kirim"),
    **dict.fromkeys(("dikirimin", "dikirimi", "dikirimkan", "dikrim", "dikirm"), "dikirim"),
    **dict.fromkeys(("nerima", "trima", "terima"), "terima"),
    **dict.fromkeys(("telp", "tlp", "telpon", "tilpon", "nelpon", "telfon", "ditelpon", "ditelp"), "telepon"),
    **dict.fromkeys(("wa", "whatsapp", "wapri", "japri"), "whatsapp"),
    **dict.fromkeys(("cc'd", "ccd", "cc'ed", "cced"), "cc"),
    **dict.fromkeys(("bapak", "bpk", "pak", "pa", "bp"), "pak"),
    **dict.fromkeys(("ibu", "bu"), "bu"),
}

CONTRACTIONS: dict[str, str] = {
    "don't": "do not", "dont": "do not", "doesn't": "does not", "doesnt": "does not", "didn't": "did not",
    "can't": "cannot", "cant": "cannot", "won't": "will not", "wont": "will not", "isn't": "is not",
    "aren't": "are not", "wasn't": "was not", "haven't": "have not", "hasn't": "has not", "hadn't": "had not",
    "shouldn't": "should not", "wouldn't": "would not", "couldn't": "could not", "i'm": "i am", "im": "i am",
    "we're": "we are", "you're": "you are", "they're": "they are", "she's": "she is", "he's": "he is",
    "it's": "it is", "that's": "that is", "there's": "there is", "i'd": "i would", "we'd": "we would",
    "i've": "i have", "we've": "we have", "i'll": "i will", "we'll": "we will", "you'll": "you will",
    "let's": "let us", "lets": "let us", "what's": "what is", "who's": "who is",
}

# Words the rules key on, the targets of typo correction (five letters or more).
KEYWORDS: frozenset[str] = words("""
unsubscribe berhenti berlangganan langganan remove delete hapus hapusin dihapus keluarkan dikeluarkan
hapuskan
kirim dikirim mengirim mengirimkan menghubungi hubungi contact emailing sending anymore
tertarik berminat interested interest menarik butuh membutuhkan perlu kebutuhan vendor budget anggaran
meeting ketemu bertemu kunjungan presentasi jadwal schedule reschedule visit demo survei survey
penawaran quotation quote proposal pricelist brosur brochure katalog catalog harga pricing
resign resigned pensiun retired meninggal bekerja mengundurkan
forward teruskan silakan silahkan please mohon tolong thanks terima
promosi promo newsletter mailing daftar database spamming
telepon whatsapp pertanyaan question
""")

# Common words one edit away from a keyword: never "corrected" to it.
COMMON: frozenset[str] = words("""
harus hampus harga hargai bapus resign design remote removes removed deleted dielete sending spending
ending lending tending bending pending mending friend friends trend trends tertarif bertemu bertamu
menarik menarit kirim kiri kirin dikirim kunjungi berminat menginat pindah tindak tindah perlu peluk
butuh bubuh jangan janganlah langsung budget badget demo memo survey survei vendor vender sender
retired rewired tired mailing making sailing nailing failing bailing emailing daftar dafter
contact contract contacts contracts quote quota quotes note notes please plea pleased lease
hapus hadus hangus rapat rapi rapatkan schedule scheduled delete deleted delegate visit visits
interest interests interested meeting meetings greeting greetings berhenti terhenti menghubungi
presentasi presentasinya katalog catalog brosur pricing princing pricelist prices price
forward forwarded forwarding teruskan diteruskan promosi promo newsletter spamming spanning
telepon teleponan whatsapp question questions remover removal resigned resigning pensiun pension
tanya tanyakan bekerja bekerjalah perlu anggaran langganan berlangganan bertanya sebentar
tanpa pangan tangan indah hanya tanda berulang pengirim penerima thinks melting meting spending ending
lending pending bending tending mending designs quota quotas tired retire remotes plead pleas bukan
budgets vendors proposals receive deceive recipe kiriman sekarang lainnya jangan pindah berpulang
minta minat
""")

_CURLY = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-",
                        "\u00a0": " "})  # fmt: skip
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_URL = re.compile(r"(?:https?://|www\.)\S+")
_PHONE = re.compile(r"(?<![\w/])(?:\+|\(0)?\d[\d\s().-]{6,}\d(?:\s*(?:ext\.?|ext|x)\s*\d{1,5})?")
_TIME = re.compile(r"\b(?:[01]?\d|2[0-3])[:.][0-5]\d\b(?:\s*(?:wib|wita|wit|am|pm))?"
                   r"|\b(?:1[0-2]|0?[1-9])\s*(?:am|pm)\b")
_DATE = re.compile(r"\b\d{1,4}[/-]\d{1,2}(?:[/-]\d{2,4})?\b")
_REDUP = re.compile(r"\b([a-z]{2,})-\1\b")
_REDUP2 = re.compile(r"\b([a-z]{3,})2\b")
_HYPHEN_AFFIX = re.compile(r"\b(?:di|ke|me|ter)-(?=[a-z])|-(?:nya|kan|in|an|lah|kah)\b")
_TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?|\d+|[?!.,;:()]")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_THANKS = re.compile(r"\b(?:terima|trima|terimah)\s*kasih\b|\bthank\s+you\b|\bmatur\s+nuwun\b")
# "-nya" ("harganya", "penawarannya", "tugasnya") is dropped, except where it is part of the word
_JAKARTA_IN = {"stop": "stop", "hapus": "hapus", "keluar": "keluarkan", "coret": "coret", "cabut": "cabut",
               "blokir": "blokir", "kirim": "kirim"}  # verb + "-in" ("keluarin" is "keluarkan")
_NYA_KEEP = frozenset(("punya", "hanya", "tanya", "bertanya", "menanya", "sesungguhnya", "bahwasanya", "sebenarnya"))


def fold(text: str) -> str:
    """Lowercase, compatibility forms folded, curly quotes straightened, placeholders for
    addresses, links, phone numbers, times and dates."""
    t = unicodedata.normalize("NFKC", text).translate(_CURLY).lower()
    t = _EMAIL.sub(" emailaddr ", t)
    t = _URL.sub(" urlval ", t)
    t = _TIME.sub(" timeval ", t)
    t = _PHONE.sub(" phonenum ", t)
    t = _DATE.sub(" dateval ", t)
    t = _THANKS.sub(" thanks ", t)
    t = _REDUP.sub(r"\1", t)
    t = _REDUP2.sub(r"\1", t)
    return _HYPHEN_AFFIX.sub(" ", t).replace("-", " ")


def tokens(text: str) -> list[str]:
    """The canonical words of ``text`` (punctuation kept as tokens of its own)."""
    out: list[str] = []
    for raw in _TOKEN.findall(fold(text)):
        out.extend(canonical(raw).split())
    return out


@lru_cache(maxsize=65536)
def canonical(word: str) -> str:
    """One word as the rules know it: contraction spelt out, repeats collapsed, abbreviation
    expanded, a typo of a keyword corrected. Cached: a reply's words repeat across replies."""
    if word in CONTRACTIONS:
        return CONTRACTIONS[word]
    if not word[0].isalpha():
        return word
    word = word.replace("'", "")
    if word in ABBREVIATIONS:
        return ABBREVIATIONS[word]
    collapsed = _REPEATS.sub(r"\1", word)
    if collapsed != word:
        doubled = _REPEATS.sub(r"\1\1", word)
        for candidate in (doubled, collapsed):
            if candidate in KEYWORDS or candidate in COMMON or candidate in ABBREVIATIONS:
                return ABBREVIATIONS.get(candidate, candidate)
        word = collapsed
    if word.endswith("in") and (word[:-2] in KEYWORDS or word[:-2] in _JAKARTA_IN):  # "berhentiin", "stopin"
        return _JAKARTA_IN.get(word[:-2]) or ABBREVIATIONS.get(word[:-2], word[:-2])
    if word.endswith("nya") and len(word) > 6 and not word.endswith(tuple(_NYA_KEEP)):
        word = word[:-3]
    return ABBREVIATIONS.get(word) or _typo(word)


def _typo(word: str) -> str:
    if len(word) < 5 or word in KEYWORDS or word in COMMON:
        return word
    for key in _NEIGHBOURS.get(len(word), ()):
        if _one_edit(word, key):
            return key
    return word


def _one_edit(a: str, b: str) -> bool:
    """One edit apart: a substitution, an insertion, a deletion, or two neighbours swapped ("hapsu")."""
    if len(a) == len(b):
        diff = [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
        swapped = len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
        return len(diff) == 1 or swapped
    if len(a) > len(b):
        a, b = b, a
    if len(b) - len(a) != 1:
        return False
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1 :]


# keywords by the word lengths they may be one edit from: a word is compared with at most a few dozen
_NEIGHBOURS: dict[int, tuple[str, ...]] = {
    n: tuple(sorted(k for k in KEYWORDS if len(k) >= 5 and abs(len(k) - n) <= 1)) for n in range(4, 40)
}
