"""Residents' privacy rights (PIPL): a copy of what is stored about them
(:func:`export_user_data`), erasure of their identity (:func:`erase_user`),
retention of raw updates and sent texts (:func:`purge_expired`, run
daily by ``jobs.py``), and the words a person wrote before agreeing to the
privacy notice, offered back once they have (:func:`words_before_consent`).
See docs/privacy.md.

The privacy notice and its consent live with registration
(:mod:`bot.services.users`: ``needs_privacy_consent``, ``agree_to_privacy``).
"""

from bot.services.privacy.earlier import notice_just_above, words_before_consent
from bot.services.privacy.erase import ERASED_TEXT, erase_user
from bot.services.privacy.export import export_user_data
from bot.services.privacy.retention import PurgeResult, purge_expired

__all__ = ["ERASED_TEXT", "PurgeResult", "erase_user", "export_user_data", "notice_just_above", "purge_expired",
           "words_before_consent"]
