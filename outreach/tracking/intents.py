"""What a human reply wants: opt out, decline, buy, meet, ask, point elsewhere, say the person left.

``intent(reply_text, subject)`` reads the reply's OWN words (the caller passes the trimmed
reply; the sign-off, signature and confidentiality notice are cut here) in Indonesian and
English, formal or chatty, with typos, and answers an ``Intent``: one of ``INTENTS``, a
confidence, an ``unsure`` flag for the admin, the referral's name and address when the
reply gives them, and the question it asks.

How it reads (no model, no download; rules written from how these replies are phrased):

1. ``intent_words.tokens`` normalises each sentence: case, chat abbreviations (tdk/gak/ga ->
   tidak, sy -> saya, utk, dgn, blm, sdh, jgn, lg ...), repeated letters, contractions,
   placeholders for addresses, phone numbers, times and dates, and typos of keywords (edit
   distance 1 on words of five letters or more).
2. Cue rules (regular expressions over the canonical words, below) fire per sentence, each
   for one intent with a strength: 3 says it alone, 2 says it with little doubt, 1 leans.
   Negation is part of the rules: "tidak tertarik" and "not interested" are declines,
   "bukan berarti tidak tertarik" and "not uninterested" are not; a removal verb needs a
   first-person object or a list ("hapus email saya dari list"), so "data beliau dihapus"
   (a colleague who died) and "penghapusan data" (a product feature) are not opt-outs;
   "berhenti langganan layanan" and "if we unsubscribe from the service" are about the
   product; "jangan follow up lewat email, telepon saja" chooses a channel.
3. Precedence decides, with the SAFE SIDE for opt-outs: a clear opt-out wins over
   everything; then a departure (left_company), a pointer to someone else (referral); a
   hint of an opt-out that is not clear (stop following up, never signed up, where did you
   get my address...) answers ``opt_out`` and sets ``unsure`` unless the reply clearly asks
   to buy or meet, in which case that wins, flagged too. Among the rest the strongest score
   wins, cues after "tapi"/"but"/"namun" counting half again (the point of "X, but Y" is Y).

Everything is pure and fast: a reply is a few dozen compiled regular-expression searches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from outreach.tracking.intent_words import tokens, words
from outreach.tracking.replies import split_signature

INTENTS = ("opt_out", "not_interested", "interested", "meeting", "question", "referral", "left_company", "other")
# Intents that put the contact in the call or visit queue.
CALLABLE = ("interested", "meeting", "question", "other")
MAX_TEXT = 8000  # characters read: a reply's own words are short; a pasted document is not read whole

STRONG, MEDIUM, WEAK = 3, 2, 1


@dataclass(frozen=True)
class Intent:
    """The reader's answer about one reply."""

    name: str
    confidence: float
    unsure: bool = False
    referral_name: str | None = None
    referral_email: str | None = None
    question: str | None = None
    cues: tuple[str, ...] = ()  # the rules that fired, for the admin's review and for tests

    def to_json(self) -> dict[str, object]:
        return {
            "intent": self.name, "confidence": round(self.confidence, 2), "unsure": self.unsure,
            "referral": ({"name": self.referral_name, "email": self.referral_email}
                         if self.referral_name or self.referral_email else None),
            "question": self.question, "cues": list(self.cues),
        }  # fmt: skip


# --------------------------------------------------------------------------- vocabulary (canonical words)


def _any(*words: str) -> str:
    return r"(?:" + "|".join(words) + r")"


SEND = _any(r"kirim\w*", r"dikirim\w*", r"mengirim\w*", r"send\w*", "sent", r"email\w*", r"mail\w*", r"spam\w*",
            "hubungi", "menghubungi", "dihubungi", r"contact\w*", r"messag\w*", r"blast\w*", "ganggu", r"writ\w*",
            "mengganggu", "kontak")  # fmt: skip
MAILOBJ = _any("email", "newsletter", "promosi", "promo", "penawaran", "marketing", "these", "them", "ini", "gini",
               "begini", r"offers?", "pesan", r"messages?", r"updates?", "emails", r"communication\w*",
               "komunikasi", "correspondence", "korespondensi", "outreach", r"solicitation\w*", "mailings")  # fmt: skip
RECEIVE = _any("terima", "menerima", "diterima", "receive", "receiving", "get", "getting", "dapat", "mendapat")
ME = _any("saya", "me", "my", "kami", "us", "our", "alamat", "address", "email", "nama", "emailaddr", "domain",
          "data pribadi", "personal data", "data saya", "my data", "data kami", "myself", "addresses")  # fmt: skip
LIST = _any("list", "lists", "daftar", "database", "databases", "basis data", "milis", "mailing", "distribution",
            "penerima", "pengiriman", "kontak kalian", "contacts")  # fmt: skip
REMOVE = _any(r"remov\w*", r"hapus\w*", r"dihapus\w*", r"menghapus\w*", "penghapusan", "delete", "keluarkan",
              "dikeluarkan", "keluarin", r"exclud\w*", "kecualikan", "coret", "dicoret", r"erase\w*", "erasure",
              "unlist", "buang", r"delet\w*", r"unsubscrib\w*")  # fmt: skip
STOP = _any(r"stop\w*", "berhenti", "hentikan", "henti", "cease", "setop", "stopkan", "udahan", "dihentikan")
THIRD = _any("beliau", "his", "her", "him", "dia", "ybs", "yang bersangkutan", "almarhum", "almarhumah")
VENDOR = _any(r"vendors?", r"suppliers?", r"providers?", r"distributors?", "rekanan", "penyedia", "partner",
              r"resellers?", "toko")
PRODUCT = _any("layanan", "service", "services", "paket", "package", "plan", "lisensi", "license", "licence",
               "kontrak", "contract", "managed", "subscription", "produk", "product", "m365", "microsoft",
               "perangkat", "ups", "mode", "baterai", "battery", "server", "aplikasi", "software")  # fmt: skip
MAILWORD = _any("email", "emails", "newsletter", "list", "milis", "mailing", "promosi", "promo", "these", "link",
                "penawaran", "ini", "this", "marketing", "kalian", "you")  # fmt: skip
IF = _any("kalau", "jika", "apabila", "if", "seandainya", "bila", "misalnya", "andaikan", "when", "kalaupun")
TIME = _any("senin", "selasa", "rabu", "kamis", "jumat", "jum'at", "sabtu", "monday", "tuesday", "wednesday",
            "thursday", "friday", "saturday", "besok", "lusa", "tomorrow", "next week", "minggu depan",
            "pekan depan", "timeval", r"jam \d+", "pukul", r"\d+ ?(?:am|pm)", "pagi", "siang", "sore", "malam",
            "afternoon", "morning", "evening", r"tanggal \d+", r"the \d+(?:st|nd|rd|th)?", r"\d+(?:st|nd|rd|th)",
            "dateval", "hari ini", "today", "this week", "minggu ini", r"\d+ (?:des|desember|dec|december|jan|"
            r"januari|january|feb|februari|february|nov|november)")  # fmt: skip
ACCEPT = _any("bisa", "works", "work", "ok", "boleh", "available", "free", "setuju", "confirmed", "confirm",
              "let us", "bagaimana", "how about", "would", "propose", "pilih", "silakan", "see you", "kabari",
              "pencil", "fine", "cocok", "siap", "deal", "kosong", "luang", "sampai ketemu", "suits", "suit",
              "good for", "is good", "ada waktu", "have time", "punya waktu", "can we", "could we")  # fmt: skip
FILLER = words("""please tolong ya pak bu mas mbak bro sis dong deh sih saja thanks and dan ok now it already
sudah seriously just lah kak guys gan mohon very much banget sekali ini kindly asap can could would you bisa
? ! . , : ;
""")  # fmt: skip

# --------------------------------------------------------------------------- cue rules


@dataclass(frozen=True)
class Rule:
    name: str
    intent: str
    strength: int
    pattern: re.Pattern[str]


def _rule(name: str, intent: str, strength: int, pattern: str) -> Rule:
    return Rule(name, intent, strength, re.compile(pattern))


_GAP = r"(?: [^\s.,;:!?()]+){0,%d}"  # up to N words in between, not across punctuation

RULES: tuple[Rule, ...] = (
    # -- opt_out: clear requests to stop all mail
    _rule("remove_me", "opt_out", STRONG, rf"\b{REMOVE}\b{_GAP % 6} (?:{ME}|{LIST})\b"),
    _rule("me_removed", "opt_out", STRONG, rf"\b(?:{ME}|{LIST})\b{_GAP % 5} {REMOVE}\b"),
    _rule("take_off", "opt_out", STRONG, rf"\b(?:take|keep|get){_GAP % 3} off\b|\boff (?:\S+ )?(?:\S+ )?{LIST}\b"),
    _rule("stop_sending", "opt_out", STRONG, rf"\b{STOP}\b{_GAP % 3} (?:{SEND}|{MAILOBJ}|{RECEIVE})\b"),
    _rule("do_not_send", "opt_out", STRONG,
          rf"\b(?:jangan|tidak usah|tidak perlu|do not|never|no need to|tidak boleh|untuk tidak|tidak lagi|no more"
          rf"|not to){_GAP % 2} {SEND}\b"),
    _rule("not_want_mail", "opt_out", STRONG,
          rf"\b(?:tidak mau|tidak ingin|tidak bersedia|keberatan|do not want|does not want|do not wish|prefer not"
          r"|tidak berminat|not interested in|no interest in"
          rf"|rather not|no longer wish|no longer want|not want|would not like|tidak suka)\b{_GAP % 3} "
          rf"(?:{RECEIVE}|be on|on your|{SEND}|dimasukkan|{MAILOBJ})\b"),
    _rule("not_on_list", "opt_out", STRONG,
          rf"\b(?:tidak lagi|jangan|no longer|not be|never be|tidak){_GAP % 2} (?:dimasukkan|dimasukan|masukkan"
          rf"|masukin|included|include|added|add|dicantumkan){_GAP % 3} {LIST}\b"),
    _rule("unsubscribe", "opt_out", STRONG,
          r"\b(?:unsubscribe|optout|opt out|berhenti berlangganan|berhenti langganan|stop langganan"
          r"|stop berlangganan|keluar dari (?:milis|mailing|langganan|daftar))\b"),
    _rule("remove_them", "opt_out", STRONG, rf"\b{REMOVE} (?:them|it|itu|tersebut|semua\w*|all)\b"),
    _rule("asked_before", "opt_out", STRONG,
          rf"\b(?:asked|minta|meminta|request\w*|told)\b{_GAP % 3} (?:to )?(?:{STOP}|remov\w*|unsubscrib\w*"
          r"|dihapus)\b"),
    _rule("no_more_mail", "opt_out", STRONG,
          rf"\b(?:tidak|no longer|not|never|stop|berhenti)\b{_GAP % 2} {RECEIVE}\b{_GAP % 3} {MAILOBJ}\b.* "
          r"(?:lagi|anymore|again|kembali)\b"),
    _rule("spam", "opt_out", STRONG, r"\bspam\w*\b|\b(?:blokir|diblokir|blacklist|block your|blocking your)\b"),
    _rule("legal", "opt_out", STRONG,
          r"\b(?:uu pdp|pdp|undang undang nomor 27|pelindungan data pribadi|perlindungan data pribadi|gdpr"
          r"|article 17|article 21|right to erasure|right to object)\b"),
    # -- opt_out hints: the safe side takes them as opt-outs, flagged for the admin
    _rule("never_signed_up", "opt_out?", WEAK,
          r"\b(?:tidak pernah (?:mendaftar|daftar|subscribe|kasih|memberi\w*)|never (?:signed|subscribed|opted"
          r"|gave|agreed|asked)|without (?:my |our )?(?:consent|permission)|tanpa (?:izin|persetujuan)"
          r"|dari mana|where did you get|how did you get|who gave you)\b"),
    _rule("stop_following_up", "opt_out?", WEAK,
          r"\b(?:stop|berhenti|tidak usah|jangan|no need to|do not|tidak perlu|please stop)\b(?: \S+){0,2} "
          r"(?:follow\w*|fu)\b"),
    _rule("too_much_mail", "opt_out?", WEAK,
          r"\b(?:terlalu (?:banyak|sering)|kebanyakan|too many|too much|annoying|mengganggu|ganggu"
          r"|inbox (?:saya )?(?:sudah )?penuh|bombard\w*|every day|tiap hari|setiap hari)\b"),
    # -- left_company: the addressee is gone
    _rule("left", "left_company", STRONG,
          r"\b(?:resign\w*|mengundurkan diri|tidak (?:lagi )?bekerja (?:di|lagi|dengan|untuk|disini)"
          r"|sudah tidak bekerja|sudah keluar|keluar dari (?:perusahaan|kantor|pt|cv)|tidak di sini lagi"
          r"|not here anymore|no longer here|no longer (?:works? (?:here|at|for|with)|working|with us|with the|at"
          r"|employed|part of|handles|handling|in charge)|(?:has|have|had) left|left the (?:company|firm|"
          r"organisation|organization|team|office)|left (?:pt|cv|our|us|in|last|at the|since|early|\d+)"
          r"|(?:has|have) not worked|not with (?:us|the company)|pensiun|retired|retirement|berpulang"
          r"|meninggal|wafat|passed away|almarhum\w*|pindah kerja|pindah ke (?:perusahaan|pt|kantor|cabang"
          r"|company|tempat)|pindah ke \S+ lain|moved (?:on )?to (?:another|a new|other|our \S+ (?:office|branch))"
          r"|moved on|has moved|mutasi|dimutasi|tidak lagi menjabat|tidak menjabat|purnatugas|purna tugas"
          r"|(?:is|has) gone|sudah tidak ada|tidak (?:lagi )?bergabung|no longer with|will not be returning"
          r"|tidak akan kembali|not coming back|sudah tidak di (?:pt|cv|perusahaan|kantor|sini|\S+ ini)"
          r"|mengakhiri masa (?:tugas|kerja"
          r"|jabatan)|tidak (?:lagi )?bertugas|no longer monitored|tidak (?:lagi )?aktif|last day|hari terakhir)\b"),
    # -- referral: someone else, or another address
    _rule("pointer", "referral", STRONG,
          r"\b(?:hubungi|menghubungi|kontak|contact|reach out to|talk to|speak to|speak with|get in touch with"
          r"|write to|coba ke|coba hubungi|langsung ke|ditujukan kepada|ditujukan ke|tujukan ke|dikirim ke"
          r"|send (?:it|this|them|the \S+|your \S+|future \S+) to|sebaiknya ke|should go to|redirect\w*"
          r"|forward\w*|teruskan|diteruskan|cc|looping in|loop in|copied|over to you|dipegang|handled by"
          r"|in charge|yang pegang|contact person|person in charge|the one to speak|the right person"
          r"|keputusan (?:\S+ ){0,3}di|alamat baru|new address|new email|email baru|ganti domain"
          r"|ganti email|replacement is|penggantinya|pengganti (?:beliau|pak|bu|bapak|ibu)|successor|taken over"
          r"|take over|ambil alih|try our|diganti|digantikan|replaced by|disposisi\w*|didisposisikan"
          r"|(?:ber)?koordinasi dengan|silakan ke|silahkan ke|please go to|(?:di)?arahkan ke|you want|you need to"
          r"|you are looking for|yang (?:urus|handle|pegang|menangani|bertanggung jawab)|attention|attn"
          r"|correspondence to|korespondensi|pic|direct (?:this|it|\S+) to|arahkan ke|alihkan ke)\b"
          r"|\b(?:email|kirim|send|write|forward|teruskan|hubungi|contact|coba|langsung) (?:\S+ ){0,2}(?:ke|to|kepada) "
          r"(?:pak|bu|mas|mbak|mr|mrs|ms|emailaddr|\S+ emailaddr)\b"),
    # -- meeting
    _rule("meet", "meeting", MEDIUM,
          r"\b(?:meeting|meet|ketemu|bertemu|ketemuan|kunjungan|kunjungi|berkunjung|visit|visiting|presentasi"
          r"|presentation|present to|demo|demonstrasi|survei|survey|assessment|zoom|google meet|gmeet|undangan"
          r"|invite|invitation|calendar|kalender|reschedule|appointment|janji|lunch|makan siang|coffee|ngopi"
          r"|catch up|slot|booked|see you|sampai ketemu|sampai jumpa|ruang rapat|datang ke kantor|mampir"
          r"|jadwalkan|diskusi langsung|tatap muka|face to face|video call|vicon|on site demo|come in|come over"
          r"|come by|drop by|(?:a|quick|short|do|have|schedule|set up) (?:\S+ )?call|(?<!at )present)\b"),
    _rule("meeting_accepted", "meeting", STRONG,
          r"\b(?:setuju|bersedia|terima|accept\w*|agree\w*|confirm\w*|booked|boleh|let us|happy to|ingin|mau"
          r"|would like to|atur|arrange)\b(?: \S+){0,4} (?:meeting|meet|ketemu|bertemu|kunjungan|visit|presentasi"
          r"|presentation|demo|survei|survey|assessment|jadwal|call)\b"),
    _rule("time_agreed", "meeting", MEDIUM, rf"\b{TIME}\b(?:.*)\b{ACCEPT}\b|\b{ACCEPT}\b(?:.*)\b{TIME}\b"),
    # -- interested
    _rule("interest", "interested", STRONG, r"\b(?:tertarik|berminat|minat|interested|keen)\b"),
    _rule("asks_for_offer", "interested", STRONG,
          r"\b(?:kirim\w*|dikirim\w*|send|share|minta|request|mohon|tolong|please|bisa|boleh|can you|could you"
          r"|would love|would like|siapkan|buatkan|buat|ajukan|diajukan|include|provide|berikan|kasih|collect"
          r"|put together|need|butuh|perlu|want|ingin|mau|email me|get)\b(?: \S+){0,8} (?:penawaran|quotation"
          r"|quote|proposal|proposals|pricelist|price list|harga|pricing|price|prices|brosur|brochure|katalog"
          r"|catalog|catalogue|company profile|compro|detail|details|spesifikasi|spec|specs"
          r"|info lebih|informasi lebih|demo unit|sample|sampel|rincian|cost|costs|biaya|numbers|valuation|estimate"
          r"|estimasi|gambaran harga|appraisal|penilaian)\b"),
    _rule("yes_please", "interested", MEDIUM,
          r"^ (?:yes|ya|boleh|sure|setuju|absolutely|of course) (?:, )?(?:please|tolong|mau|pak|bu)\b"),
    _rule("quote_us", "interested", STRONG, r"\b(?:please|kindly|pls) quote\b|\bquote (?:the|us|me|our)\b"),
    _rule("call_me", "interested", MEDIUM,
          r"\b(?:call me|telepon saya|hubungi saya|call back|callback|telepon balik|whatsapp saya|contact me"
          r"|reach me|ring me|langsung telepon|telepon saja|call saya)\b"),
    _rule("wants_more", "interested", MEDIUM,
          r"\b(?:learn more|know more|more info|more information|info lebih lanjut|informasi lebih lanjut|tell me more"
          r"|prosedur\w*|procedure|next steps?|how to order|cara order|cara pesan|bagaimana caranya)\b"),
    _rule("will_buy", "interested", MEDIUM,
          r"\b(?:mau ambil|mau beli|mau order|mau pesan|akan beli|akan membeli|ingin membeli|ingin beli|plan to"
          r"|planning to|rencana (?:beli|pengadaan|pindah|upgrade|ganti)|kita rencana|menyusun|merencanakan|mau diganti"
          r"|need to replace|harus diganti|collect proposal|start the process|reviewing our|budget approval"
          r"|interested in|count me in)\b"),
    _rule("positive", "interested", WEAK,
          r"\b(?:sounds good|sounds great|sounds interesting|menarik|pas banget|right time|good timing"
          r"|would love|love to|happy to)\b"),
    # -- not_interested
    _rule("decline", "not_interested", STRONG,
          r"\b(?:not interested|no interest|uninterested|not keen|no thanks|no thank you|not for us|tidak dulu"
          r"|belum dulu|pass for now|will pass|no need|tidak perlu|belum perlu|tidak butuh|belum butuh"
          r"|tidak membutuhkan|belum membutuhkan|do not need|does not need|no requirement|not have (?:any )?"
          r"requirement|nothing needed|tidak ada kebutuhan|belum ada kebutuhan|belum ada rencana|tidak ada rencana"
          r"|tidak ada project|belum ada project|no plans?|not a priority|not now|bukan prioritas|belum prioritas"
          r"|not at this time|not at the moment|not right now|nanti saja|nanti dulu|lain kali|next time"
          r"|maybe later|mungkin nanti|belum bisa|tidak (?:bisa|dapat) (?:melakukan )?(?:beli|membeli|pembelian)"
          r"|cannot buy|can not buy|no budget|tidak ada (?:anggaran|budget)|belum ada (?:anggaran|budget)"
          r"|(?:budget|anggaran) (?:\S+ ){0,5}(?:habis|fully allocated|allocated|is used|exhausted)"
          rf"|{VENDOR} (?:lain|tetap|existing|sendiri|langganan)|(?:another|other|existing|current|our) {VENDOR}"
          r"|(?:happy|satisfied|puas|cocok) (?:with|dengan)|already signed|sudah (?:tanda tangan|deal|kerja sama)"
          r"|(?:tidak|belum) ada (?:\S+ )?(?:anggaran|budget|dana|alokasi)|lain waktu|kapan kapan|another time"
          r"|(?:saat ini|sekarang|for now) belum|not looking|tidak sedang mencari|belum mencari|not planning"
          r"|tidak berencana|belum berencana|in house|internal team|tim internal|already have|sudah ada"
          r"|only (?:buy|purchase|order) (?:through|via|from)|hanya (?:beli|membeli|order) (?:lewat|melalui|dari)"
          r"|we are (?:good|fine|ok|all good|covered|sorted)|sudah cukup|lebih murah|cheaper|terlalu mahal"
          r"|too expensive|lebih mahal|tidak (?:bisa |dapat )?(?:melakukan )?(?:pembelian|membeli)|do not buy"
          r"|(?:dipenuhi|handled|dilakukan|done|managed) (?:oleh|by) (?:kantor pusat|head office|holding|group"
          r"|partner|parent|\S+ pusat)|outsourc\w*|belum (?:memprioritaskan|prioritas)|not (?:a )?(?:good )?fit"
          r"|tidak relevan|not relevant|irrelevant|tidak cocok|kurang cocok|tidak sesuai|tidak diperlukan"
          r"|not needed|no longer needed|tidak dibutuhkan|(?:biasa|usually|always|normally) (?:beli|buy|purchase"
          r"|membeli|order)|try again|coba lagi|kesempatan berikutnya|lain kesempatan|next opportunity"
          r"|another opportunity|pass dulu|skip dulu|(?:tidak|belum) ada (?:need|kebutuhan|rencana|project|plan)"
          r"|budget left|(?:do not|tidak) have (?:any )?(?:budget|anggaran)"
          r"|(?:kalau|apabila|jika|if|when) (?:ada|there is|we) (?:\S+ )?(?:kebutuhan|need)"
          r"|sudah punya|sudah pakai|sudah menggunakan|already use|already using|we are covered|all set"
          r"|sudah renew|already renewed|baru (?:saja )?(?:upgrade|beli|renew|ganti)|just (?:finished|upgraded"
          r"|renewed|bought|replaced)|keep our current|stick with|kontrak (?:\S+ ){0,3}masih|still under contract"
          r"|efisiensi|on hold|hold|terpusat|centrali[sz]ed|belum pas|not the right time|waktunya belum"
          r"|(?:mungkin|maybe|perhaps|nanti|coba|try|check back|hubungi lagi|until|sampai)(?: \S+){0,3} (?:tahun depan"
          r"|next year|next quarter)|(?:tahun depan|next year|next quarter)(?: \S+){0,3} (?:coba|try|hubungi|baru)"
          r"|kurang tertarik|belum tertarik|tidak tertarik|tidak berminat"
          r"|tidak minat|nope|we will pass|i will pass)\b"),
    _rule("negated_interest", "not_interested", STRONG,
          r"\b(?:tidak|kurang|belum|not|no|bukan|never) (?:\S+ )?(?:tertarik|berminat|minat|interested|keen)\b"),
    # -- question
    _rule("asks", "question", MEDIUM,
          r"\b(?:mau tanya|ingin tanya|ingin bertanya|mau bertanya|ingin menanyakan|mohon info|mohon informasi"
          r"|please inform|please advise|let me know if|would like to know|like to know|wondering|quick question"
          r"|pertanyaan|mau nanya|numpang tanya|kindly advise|kindly inform|tanya)\b"),
    # -- other
    _rule("confused", "other", STRONG,
          r"\b(?:ini siapa|siapa ini|who is this|who are you|untuk siapa|apa ini|what is this|tentang apa"
          r"|kurang paham|tidak paham|tidak mengerti|tidak ngerti|do not understand|wrong email|salah kirim"
          r"|sent by mistake|by mistake|abaikan|ignore this|^ ?test ?$|testing|wrong person|salah orang"
          r"|not sure what|tidak tahu ini)\b"),
    _rule("deliverability_hint", "other", STRONG,
          r"\b(?:spam folder|junk folder|folder spam|folder junk|junk|landed in|masuk ke folder|masuk folder"
          r"|spf|dkim|dmarc)\b"),
    _rule("greeting", "other", MEDIUM,
          r"\b(?:apa kabar|how are you|hope all is well|hope you are well|good to hear from you|lama tidak"
          r"|long time no|salam untuk|say hi to|regards to)\b"),
    _rule("acknowledged", "other", WEAK,
          r"\b(?:thanks|terima kasih|thank you|noted|sip|received|diterima|well received|got it|baik|pelajari"
          r"|will review|will look|will study|dipelajari|pertimbangkan|dipertimbangkan|will consider|apa kabar"
          r"|good to hear|hope all is well|salam untuk)\b"),
    _rule("out_of_office", "other", STRONG,
          r"\b(?:out of (?:the )?office|ooo|on leave|annual leave|sedang cuti|cuti|tidak (?:berada )?di kantor"
          r"|away from the office|limited access|akses email terbatas|automatic reply|auto reply|balasan otomatis"
          r"|dinas luar)\b"),
)
_BY_NAME = {r.name: r for r in RULES}

_CONTRAST = re.compile(r"\b(?:tapi|tetapi|namun|but|however|hanya saja|cuma|although|though|meskipun|walaupun)\b")
_NEGATED_INTEREST = re.compile(r"\b(?:tidak|kurang|belum|not|no|bukan|tanpa|never|nothing) (?:\S+ )?"
                               r"(?:tertarik|berminat|minat|interested|keen)\b")  # fmt: skip
_DOUBLE_NEGATION = re.compile(r"\b(?:bukan berarti tidak|bukannya tidak|not un\w+|not that (?:we|i) are not)\b")
_NEGATED_MEETING = re.compile(r"\b(?:tidak perlu|no need|do not need|tidak usah|belum perlu|no) "
                              r"(?:\S+ ){0,2}(?:meeting|meet|ketemu|visit|kunjungan|presentasi|demo)\b"
                              r"|\b(?:tidak|belum) (?:pernah )?(?:ketemu|bertemu)\b")  # fmt: skip
_ALT_CHANNEL = re.compile(r"\b(?:telepon saja|langsung telepon|call me|telepon saya|phone me|ring me|whatsapp saja"
                          r"|whatsapp saya|lewat telepon saja|via whatsapp|by phone|email only|only email"
                          r"|email saja|lewat email saja|call saya)\b")  # fmt: skip
_PHONE_ONLY_NEG = re.compile(r"\b(?:jangan|do not|tidak usah|no need to|please do not) (?:\S+ )?"
                             r"(?:telepon|call|phone|ring)\b")  # fmt: skip
_MY_DATA = re.compile(r"\b(?:my|our|saya|kami) (?:\S+ )?(?:contact|details|data|email|address|alamat|kontak)\b"
                      r"|\b(?:data|contact|kontak|email|alamat|details) (?:\S+ )?(?:saya|kami|me|us)\b")  # fmt: skip
_SELF_POINTER = re.compile(r"\b(?:hubungi|menghubungi|kontak|contact|reach out to|talk to|speak to|coba hubungi"
                           r"|email|kirim|send (?:it|this|them)) (?:ke |to )?(?:saya|me|us|kami|aku)\b")  # fmt: skip
_DOCUMENTS = re.compile(r"\b(?:brosur|brochures?|katalog|catalogs?|catalogues?|generic|template|lampiran"
                        r"|attachments?)\b")  # fmt: skip
_SCHEDULING = re.compile(rf"\b(?:kapan|when|jadwal\w*|schedule|time|bisa|can|could|how about|available|free|{TIME})\b")
_SPAM_HINT = re.compile(r"\b(?:folder|junk|landed|masuk ke|masuk|filter\w*|spf|dkim|dmarc|inbox|deliverab\w*)\b")
_TEMPORARY = re.compile(r"\b(?:dulu|for now|sementara|for the time being|for a while|until)\b")
_CALLBACK_TIME = re.compile(r"\b(?:timeval|jam \d+|pukul|\d+ ?(?:am|pm)|sore ini|siang ini|pagi ini|this afternoon)\b")
_PRODUCT_HOURS = re.compile(r"\b(?:jam kerja|jam operasional|operasional|business hours|office hours|24 ?7|downtime)\b")
_SELF_SUCCESSOR = re.compile(r"\b(?:saya yang pegang|saya yang handle|saya yang menangani|ke saya|to me|i have taken"
                             r"|taken over|saya yang gantikan|saya penggantinya|i am the new|i now handle"
                             r"|saya sekarang yang|saya yang sekarang)\b")  # fmt: skip
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|bls|balas|aw|sv|fw|fwd|tr|r)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)|\n+")
_ABBREVIATION_END = re.compile(r"(?:\b(?:mr|mrs|ms|dr|ir|bpk|sdr|sdri|st|no|jl|tgl|ext|hp|telp|dll|dsb|a\.n|u\.p"
                               r"|p\.s|ybs|yth|cc|up|attn|hj|h|drs|prof|m\.kom|s\.kom|se|mm)\.|\b[A-Z]\.)$",
                               re.I)  # fmt: skip


@dataclass
class _Sentence:
    original: str
    canon: str  # " word word ... " with spaces around, for the rules
    question: bool
    after_contrast: bool


@dataclass
class _Reading:
    """Which rules fired where, and the scores they add up to."""

    sentences: list[_Sentence]
    whole: str
    hits: dict[str, list[int]] = field(default_factory=dict)  # rule name -> sentence indexes

    def fired(self, name: str) -> bool:
        return name in self.hits

    def score(self, intent: str) -> float:
        total = 0.0
        for name, where in self.hits.items():
            rule = _BY_NAME.get(name)
            if rule is not None and rule.intent == intent:
                total += sum(rule.strength * self._weight(rule, i) for i in where)
        return total


    def _weight(self, rule: Rule, i: int) -> float:
        """Half again after "tapi"/"but"; half for a decline asked as a question ("outsourced?")."""
        s = self.sentences[i]
        weight = 1.5 if s.after_contrast else 1.0
        return weight / 2 if rule.intent == "not_interested" and s.question else weight


def _split(text: str) -> list[str]:
    """Sentences and lines; "Mr. Bambang" and "Jl. Sudirman" stay in one."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(text):
        if pieces and _ABBREVIATION_END.search(pieces[-1]) and "\n" not in piece:
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return pieces


def _sentences(text: str) -> list[_Sentence]:
    out: list[_Sentence] = []
    contrast = False
    for piece in _split(text):
        piece = piece.strip()
        if not piece:
            continue
        canon = " " + " ".join(tokens(piece)) + " "
        found = _CONTRAST.search(canon)
        out.append(_Sentence(piece, canon, "?" in piece, contrast or found is not None))
        contrast = contrast or found is not None
    return out


def intent(reply_text: str, subject: str = "") -> Intent:
    """The intent of one human reply: ``reply_text`` is its own text (quotes removed; a sign-off and
    signature may remain, they are cut here), ``subject`` its Subject header."""
    own, signature = split_signature((reply_text or "")[:MAX_TEXT])
    subject_text = _own_subject(subject or "")
    if not own.strip():
        return _from_subject(subject_text, subject or "")
    reading = _read(own)
    if subject_text:
        _add_subject(reading, subject_text)
    return _decide(reading, own, signature)


def _own_subject(subject: str) -> str:
    """A subject the person wrote (no "Re:" in front of ours): part of what they say."""
    if _REPLY_PREFIX.match(subject):
        return ""
    return subject.strip()[:300]


def _from_subject(own_subject: str, subject: str) -> Intent:
    """An empty body: the subject is all there is ("Unsubscribe", "Hapus saya dari daftar")."""
    text = own_subject or _REPLY_PREFIX.sub("", subject)
    reading = _read(text) if text.strip() else _Reading([], " ")
    opt = _opt_out_strength(reading)
    if opt:
        return Intent("opt_out", 0.8, unsure=not own_subject, cues=tuple(reading.hits))
    if own_subject:
        return _decide(reading, own_subject, "")
    return Intent("other", 0.6, cues=("empty",))


def _read(text: str) -> _Reading:
    sentences = _sentences(text)
    whole = " " + " ".join(s.canon.strip() for s in sentences) + " "
    reading = _Reading(sentences, whole)
    for i, sentence in enumerate(sentences):
        for rule in RULES:
            if rule.pattern.search(sentence.canon) and _applies(rule, sentence, whole):
                if rule.name == "meet" and sentence.question and not _SCHEDULING.search(sentence.canon):
                    continue  # "survei gratisnya ada syaratnya?": asks about the offer, books nothing
                reading.hits.setdefault(rule.name, []).append(i)
        clauses = re.split(r" [,;:] ", sentence.canon)
        for k, clause in enumerate(clauses):
            _short_imperatives(reading, i, clause, whole_sentence=len(clauses) == 1, first=k == 0)
    return reading


def _add_subject(reading: _Reading, subject: str) -> None:
    """A subject of the person's own ("Data erasure request") counts like one more sentence."""
    extra = _read(subject)
    base = len(reading.sentences)
    reading.sentences.extend(extra.sentences)
    for name, where in extra.hits.items():
        reading.hits.setdefault(name, []).extend(base + i for i in where)


def _applies(rule: Rule, s: _Sentence, whole: str) -> bool:
    """The exceptions that keep a matching rule from counting: the negations and contexts of the module doc."""
    c = s.canon
    if rule.intent == "opt_out" and re.search(rf"\b{THIRD}\b", c) and rule.name in ("remove_me", "me_removed"):
        return False  # "mohon data beliau dihapus": about someone gone (left_company says the rest)
    if rule.name in ("remove_me", "me_removed", "remove_them") and re.search(
            rf"\b(?:jangan|do not|never|tidak usah|tidak perlu) (?:\S+ )?{REMOVE}\b", c):  # fmt: skip
        return False  # "tolong jangan hapus saya dari daftar": the opposite of an opt-out
    if rule.name == "remove_them" and not _MY_DATA.search(whole):
        return False
    if rule.name == "pointer" and _SELF_POINTER.search(c) and not re.search(r"\bemailaddr\b", c):
        return False  # "kontak saya", "hubungi kami kembali": a call back, not someone else
    if rule.name == "unsubscribe" and _about_product(c):
        return False
    if rule.name == "spam" and _SPAM_HINT.search(c) and "spam" in c:
        return False  # "masuk ke folder spam": a deliverability hint, not a complaint
    if rule.name == "stop_sending" and re.search(r"\b(?:follow\w*|fu)\b", c) and not re.search(
            rf"\b{STOP}\b{_GAP % 3} (?:{SEND}|{MAILOBJ}|{RECEIVE})\b", c.replace("follow", "")):  # fmt: skip
        return False  # "stop following up" is the weak rule's
    if rule.name == "do_not_send" and (_ALT_CHANNEL.search(whole) or _TEMPORARY.search(c)):
        return False  # a channel chosen ("telepon saja") or "for now": the weak rules or the others decide
    if rule.name == "stop_following_up" and _ALT_CHANNEL.search(whole):
        return False
    if rule.name == "interest" and _NEGATED_INTEREST.search(c) and not _DOUBLE_NEGATION.search(c):
        return False
    if rule.name in ("decline", "negated_interest") and _DOUBLE_NEGATION.search(c) and not re.search(
            r"\bbelum pas|not the right", c):  # fmt: skip
        return False
    if rule.name == "decline" and re.search(r"\b(?:sudah ada|already have|sudah punya)\b", c) and not re.search(
            r"\b(?:vendor|kontrak|contract|solusi|solution|provider|supplier|partner|sistem|system|it|tim|team"
            r"|langganan|license|lisensi|ups|firewall|server|semua)\b", c):  # fmt: skip
        return _only_decline_words(c)
    if rule.name == "call_me" and re.search(r"\b(?:jangan|do not|tidak usah|never|tidak perlu) (?:\S+ )?"
                                            r"(?:call|telepon|hubungi|contact|whatsapp|reach|ring)\b", c):
        return False
    if rule.name == "meet" and _NEGATED_MEETING.search(c):
        return False
    if rule.name == "time_agreed" and (s.question or _PRODUCT_HOURS.search(c)):
        return False
    retiring_kit = rule.name == "left" and re.search(r"\b(?:pensiun|retire\w*)\b", c) and re.search(
        r"\b(?:server|laptop|unit|perangkat|device|hardware)\b", c)  # fmt: skip
    return not retiring_kit


def _only_decline_words(c: str) -> bool:
    return bool(re.search(r"\b(?:sudah ada|already have)\b", c)) and len(c.split()) <= 6


def _about_product(c: str) -> bool:
    """ "Kalau berhenti langganan layanan managed-nya, ...", "if we unsubscribe from the plan": the product."""
    mail = re.search(rf"\b{MAILWORD}\b", c)
    if re.search(rf"\b{PRODUCT}\b", c) and not mail:
        return True
    return bool(re.search(rf"\b{IF}\b(?: \S+){{0,3}} (?:berhenti|unsubscribe|stop)", c)) and not mail


_YES = ("yes", "ya", "boleh", "mau", "lanjut", "sure", "setuju", "deal", "gas", "absolutely")


def _short_imperatives(reading: _Reading, i: int, clause: str, whole_sentence: bool, first: bool) -> None:
    """One-word answers and clauses: "Stop.", "Remove aja", "..., stop.", "no", "tidak", "yes", "boleh"."""
    words = [w for w in clause.split() if w not in FILLER]
    if not words or len(words) > 2:
        return
    head = words[0]
    if head in ("stop", "berhenti", "remove", "hapus", "hapusin", "delete", "cease", "henti", "setop", "unsubscribe"):
        if "bare_stop" not in reading.hits or reading.hits["bare_stop"][-1] != i:
            reading.hits.setdefault("bare_stop", []).append(i)
    elif head in ("no", "tidak", "nope", "nah", "belum") and len(words) == 1 and first and i == 0:
        reading.hits.setdefault("bare_no", []).append(i)  # "No, thank you." / "tidak" to "cukup balas tidak"
    elif not whole_sentence:
        return
    elif head in _YES:
        reading.hits.setdefault("bare_yes", []).append(i)


_BY_NAME.update({
    "bare_stop": Rule("bare_stop", "opt_out", STRONG, re.compile("")),
    "bare_no": Rule("bare_no", "not_interested", STRONG, re.compile("")),
    "bare_yes": Rule("bare_yes", "interested", STRONG, re.compile("")),
})  # fmt: skip


# --------------------------------------------------------------------------- decision


def _opt_out_strength(reading: _Reading) -> int:
    """STRONG for a clear request to stop mail, WEAK for a hint of one, 0 for none."""
    strong = [n for n in reading.hits if _BY_NAME[n].intent == "opt_out"]
    if strong == ["stop_sending"] and _buying(reading) and any(
            _DOCUMENTS.search(reading.sentences[i].canon) for i in reading.hits["stop_sending"]):  # fmt: skip
        return 0  # "stop sending the brochures, just give me the price": wants less paper, not less contact
    if strong:
        return STRONG
    if any(_BY_NAME[n].intent == "opt_out?" for n in reading.hits):
        return WEAK
    return 0


def _buying(reading: _Reading) -> bool:
    return any(reading.fired(n) for n in ("asks_for_offer", "quote_us", "will_buy"))


def _about_departed_address(reading: _Reading) -> bool:
    """A colleague asks us to stop writing to a departed person's mailbox: no "me"/"us" in the request."""
    where = {i for n in reading.hits if _BY_NAME[n].intent == "opt_out" for i in reading.hits[n]}
    first_person = re.compile(r"\b(?:saya|me|my|i|kami|us|our|aku)\b")
    return reading.fired("left") and not any(first_person.search(reading.sentences[i].canon) for i in where)


def _decide(reading: _Reading, own: str, signature: str) -> Intent:
    cues = tuple(reading.hits)
    question = _question(reading)
    if not re.search(r"[a-z]", reading.whole):
        return Intent("other", 0.7, cues=("no_words",))
    if reading.fired("out_of_office") and not reading.fired("left"):
        return Intent("other", 0.9, cues=cues)
    positive = max(reading.score("interested"), reading.score("meeting"))
    opt = _opt_out_strength(reading)
    if opt == STRONG and _about_departed_address(reading):
        name, email = _referral(reading, own, signature)
        return Intent("left_company", 0.8, referral_name=name, referral_email=email, question=question, cues=cues)
    if opt == STRONG:
        mixed = positive >= STRONG and not reading.fired("bare_stop")
        return Intent("opt_out", 0.6 if mixed else 0.95, unsure=mixed, question=question, cues=cues)
    if reading.fired("left"):
        name, email = _referral(reading, own, signature)
        return Intent("left_company", 0.9, referral_name=name, referral_email=email, question=question, cues=cues)
    if reading.fired("pointer") and reading.score("meeting") < STRONG:
        name, email = _referral(reading, own, signature)
        if name or email:
            return Intent("referral", 0.85, referral_name=name, referral_email=email, question=question, cues=cues)
        others = max(reading.score(n) for n in ("interested", "meeting", "not_interested", "question"))
        if others < MEDIUM:  # "sudah saya teruskan ke bagian terkait": passed on, to nobody we can name
            return Intent("referral", 0.6, question=question, cues=cues)
    if opt == WEAK:
        if positive >= MEDIUM:
            best = "meeting" if reading.score("meeting") >= reading.score("interested") else "interested"
            return Intent(best, 0.5, unsure=True, question=question, cues=cues)
        return Intent("opt_out", 0.5, unsure=True, question=question, cues=cues)
    return _by_score(reading, question, cues)


_ORDER = ("meeting", "interested", "not_interested", "question", "other")  # ties go to the first


def _by_score(reading: _Reading, question: str | None, cues: tuple[str, ...]) -> Intent:
    scores = {name: reading.score(name) for name in _ORDER}
    if question and scores["question"] == 0 and not reading.fired("confused"):
        scores["question"] = 1.0 + (0.5 if any(s.after_contrast and s.question for s in reading.sentences) else 0)
    if reading.fired("call_me"):  # "call me tomorrow" is a callback; "call me at 4 pm" an appointment
        if any(_CALLBACK_TIME.search(s.canon) for s in reading.sentences):
            scores["meeting"] = max(scores["meeting"], scores["interested"]) + 1.0
        elif not reading.fired("meet"):
            scores["meeting"] = 0.0
    ranked = sorted(_ORDER, key=lambda n: (-scores[n], _ORDER.index(n)))
    best, second = ranked[0], ranked[1]
    top = scores[best]
    if top == 0:
        words = len(reading.whole.split())
        return Intent("other", 0.4 if words >= 8 else 0.7, unsure=words >= 8, question=question, cues=cues)
    margin = (top - scores[second]) / top
    confidence = round(0.5 + 0.45 * margin, 2)
    unsure = margin < 0.25 and {best, second} & {"interested", "meeting"} and {best, second} & {"not_interested"}
    return Intent(best, confidence, unsure=bool(unsure), question=question, cues=cues)


def _question(reading: _Reading) -> str | None:
    """The question the reply asks (its first "?" sentence, or one that says "mau tanya"), quoted."""
    for s in reading.sentences:
        if s.question and not _BY_NAME["confused"].pattern.search(s.canon):
            return s.original[:300]
    where = reading.hits.get("asks")
    return reading.sentences[where[0]].original[:300] if where else None


# --------------------------------------------------------------------------- who the reply points to

_HONORIFIC = (r"(?:Pak|Bapak|Bpk\.?|Bu|Ibu|Mas|Mbak|Mba|Kak|Koh|Ci|Cik|Bang|Uda|Om|Tante|Sdr\.?|Sdri\.?|Saudara"
              r"|Saudari|Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.?|Ir\.?)(?:\s+(?:Hj?|Drs|Dr|Ir|Prof)\.?)*")  # fmt: skip
_NAME_WORD = r"[A-Z][a-z'\u2019-]+"
_NOT_ADDRESS = r"(?![\w.+-]*@)"
_VOCATIVE = re.compile(rf"{_HONORIFIC}\s+[A-Za-z]+(?:\s+[A-Z][a-z]+)?\s*,", re.I)
_HONORIFIC_NAME = re.compile(rf"\b{_HONORIFIC}\s+{_NOT_ADDRESS}([A-Za-z][a-z'\u2019-]+(?:\s+{_NAME_WORD}){{0,2}})\b"
                             rf"{_NOT_ADDRESS}", re.I)  # fmt: skip
_CUE_NAME = re.compile(rf"(?:\b(?:to|is|in|ke|kepada|person|lead|CIO|CTO|CEO|CFO|manager|colleague|rekan|kolega"
                       rf"|atasan|boss|supervisor|contact|hubungi|attention|attn|want)\b[:,]?|[:,(])\s+"
                       rf"{_NOT_ADDRESS}({_NAME_WORD}(?:\s+{_NAME_WORD}){{0,2}})\b{_NOT_ADDRESS}")  # fmt: skip
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_NOT_NAMES = words("""
group it helpdesk help desk team tim department dept departemen hq ho purchasing procurement finance ga hr office
manager head sekretariat bagian the our kantor pusat admin support sales marketing legal cio cto ceo cfo director
direktur operasional owner pengadaan keuangan umum divisi division unit please kindly thanks terima regards dear
hi hello halo yth bapak ibu pak bu mas mbak sir madam mr mrs ms cc email emailnya di dari yang dan atau untuk
procurement's vendor pt cv tbk jakarta bandung surabaya medan singapore indonesia hotel rumah sakit sekolah
mohon silakan silahkan saya kami beliau dia he she they him her i we you your contact person best
""")  # fmt: skip


def _referral(reading: _Reading, own: str, signature: str) -> tuple[str | None, str | None]:
    """The name and address the reply points to; the replier's own (from the signature) when they say
    they took over ("saya yang pegang sekarang", "I've taken over")."""
    if _SELF_SUCCESSOR.search(reading.whole) and signature:
        name, email = _signature_person(signature)
        if name or email:
            return name, email
    pointed = list(reading.hits.get("pointer", []))
    mails = [i for i, s in enumerate(reading.sentences) if "emailaddr" in s.canon]
    left = set(reading.hits.get("left", []))
    candidates = sorted(set(pointed + mails) - (left - set(pointed)))
    for i in candidates:
        s = reading.sentences[i].original
        email = _first_email(s)
        name = _name_in(s, email, last=i in left)
        if name and not email and i + 1 < len(reading.sentences):  # "..., Pak Kevin. Emailnya kevin@..."
            following = reading.sentences[i + 1].original
            if not _name_in(following, None):
                email = _first_email(following)
        if name or email:
            return name, email
    if _SELF_SUCCESSOR.search(reading.whole) and signature:
        return _signature_person(signature)
    return None, None


def _first_email(text: str) -> str | None:
    match = _EMAIL.search(text)
    return match.group(0).rstrip(".") if match else None


def _name_in(sentence: str, email: str | None, last: bool = False) -> str | None:
    """The name a sentence points to: the one just before the address, else the first (the last in a
    sentence that also says someone left: "Bu Ketut sudah resign, diganti Pak Wahyu"); never the
    person greeted ("Mas Dimas, email ini ...")."""
    names: list[tuple[int, str]] = []
    casual = not re.search(r"[A-Z]", sentence)
    for match in _HONORIFIC_NAME.finditer(sentence):
        if _VOCATIVE.match(sentence[match.start():]) and not sentence[: match.start()].strip(" ,"):
            continue
        name = _clean_name(match.group(1), lowercase_ok=casual)
        if name:
            names.append((match.start(1), name))
    if not names:
        for match in _CUE_NAME.finditer(sentence):
            name = _clean_name(match.group(1), lowercase_ok=False)
            if name:
                names.append((match.start(1), name))
    if not names:
        return None
    if email:
        at = sentence.find(email)
        before = [n for n in names if n[0] < at]
        return (before[-1] if before else names[0])[1]
    return names[-1][1] if last else names[0][1]


def _clean_name(raw: str, lowercase_ok: bool) -> str | None:
    words = raw.replace("\u2019", "'").split()
    kept: list[str] = []
    for word in words:
        bare = word.strip("'-.,:;()").lower()
        if bare in _NOT_NAMES or not bare.isalpha():
            break
        if not word[0].isupper() and not (lowercase_ok and not kept):
            break
        kept.append(word.strip("'-.,:;()"))
    return " ".join(kept) or None


def _signature_person(signature: str) -> tuple[str | None, str | None]:
    lines = [line.strip() for line in signature.split("\n") if line.strip()]
    name = None
    for line in lines[1:] if len(lines) > 1 else lines:
        head = re.split(r"\s*[|,\-\u2013]\s*", line)[0].strip()
        words = head.split()
        if (1 <= len(words) <= 4 and all(w[0].isupper() for w in words) and not _EMAIL.search(head)
                and words[0].lower() not in _NOT_NAMES):  # fmt: skip
            name = head
            break
    return name, _first_email(signature)

