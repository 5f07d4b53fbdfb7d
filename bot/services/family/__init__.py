"""Family delegates (docs/family.md): a resident lets a family member act for them.

The resident gets a one-time deep link (``t.me/<bot>?start=fam_<token>``,
valid 24 hours, stored as a hash, used once); the family member opens it and
the resident confirms in chat.  From then on the family member can ask for
help and follow the resident's cases, book and cancel their appointments, and
gets a copy of their reminders and case messages (``bot.services.notify``:
the resident keeps getting them too unless they choose otherwise) and of the
staff notices sent to them (``bot.services.broadcasts``, without the "I have
read it" button: the resident's own confirmation is what counts).  Either
side ends the link at any time.

What a delegate does is recorded as theirs: a case event's actor is the
delegate (the ``submitted`` event says ``delegate: true``), an appointment's
``booked_by_id`` / ``cancelled_by_id`` is the delegate, never the resident.

The cases and appointments services ask :func:`is_delegate` /
:func:`principal` on every call, so a forged button naming someone else is
refused there.

    links   the invitation, confirmation, ending, and who acts for whom

This module is its public face.
"""

from __future__ import annotations

from bot.services.family.links import (
    FAMILY_CB,
    LINK_TTL,
    TOKEN_PREFIX,
    NoticeCopy,
    Person,
    answer_request,
    create_invite,
    delegates,
    end,
    fam_cb,
    is_delegate,
    notice_copies,
    open_invite,
    principal,
    principals,
    set_copies,
    tell_resident,
)

__all__ = [
    "FAMILY_CB",
    "LINK_TTL",
    "TOKEN_PREFIX",
    "NoticeCopy",
    "Person",
    "answer_request",
    "create_invite",
    "delegates",
    "end",
    "fam_cb",
    "is_delegate",
    "notice_copies",
    "open_invite",
    "principal",
    "principals",
    "set_copies",
    "tell_resident",
]
