"""Knowledge base: returnees' questions matched to short, sourced answers in Albanian and Serbian.

Pure code: it reads YAML files and ranks text; no database, no network. Ranking is lexical, and
hybrid with a small embedding model shipped in a package once `load_embeddings` has run
(`bot.kb.semantic`).

Content lives in ``content/kb/<topic id>.yaml``, one topic per file::

    id: health.doctor
    title: {sq: "...", sr: "..."}           # Serbian always in Cyrillic
    answer:
      sq: ["core answer", "more", ...]      # parts: short paragraphs, each fits a phone screen
      sr: ["...", ...]                      # (under 600 characters), core answer first, and the
                                            # last part names the next step: which office to see
    phrasings: {sq: [...], sr: [...]}       # at least 6 per language, as people really type
    keywords: {sq: [...], sr: [...]}        # optional extra search words
    related: [other.topic]                  # optional
    sources: [{title: "...", url: "https://..."}]
    checked: 2026-11-27                     # when the facts were last checked

**The {municipality} placeholder.** An answer part may contain ``{municipality}``. Such a part
is optional: ``Topic.parts(locale, municipality=name)`` puts the person's municipality name
(already in the person's language and script) in its place, and with ``municipality=None``
the whole part is left out. The first part must not contain it, so that the core answer always
stands. No other placeholder is allowed; ``kb check`` reports one.

Serbian is authored in Cyrillic only; the "sr-Latn" locale is derived with
``bot.text.cyrillic_to_latin``.

Public API::

    kb = KnowledgeBase.load(Path("content/kb"))   # KnowledgeBaseError names a bad file
    kb.problems()                                  # [] when the content is complete
    m = kb.match(text, lang=None)                  # m.kind: "answer" | "unsure" | "none"
    m.ranked                                       # [(topic id, score 0-1), ...] best first
    kb.rank(text, lang=None, limit=3)
    kb.load_embeddings()                           # hybrid ranking once the model is loaded (a thread)
    kb.topic(id).title(locale); kb.topic(id).parts(locale, municipality=None)
    kb.topics                                      # ids in a stable order
    bot.kb.safety.is_emergency(text)               # someone may be in danger
"""

from bot.kb.knowledge import REQUIRED_TOPICS, KnowledgeBase, Match
from bot.kb.topic import LOCALES, KnowledgeBaseError, Source, Topic

__all__ = ["LOCALES", "REQUIRED_TOPICS", "KnowledgeBase", "KnowledgeBaseError", "Match", "Source", "Topic"]
