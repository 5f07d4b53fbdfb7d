"""Open311 GeoReport v2 (issue 18): the district's cases readable, and
writable, by the civic tools that already speak it.  The domain only: no
HTTP here (``bot/open311/`` serves it), nothing of Telegram.

This module is the feature's public face::

    common     the privacy filter (which cases are public), status mappings, dates, windows, locale
    keys       API keys of client systems, stored hashed
    catalogue  the services (public problem-report items, localized) and their definitions
    requests   the request list with its filters and paging, one request, a token's request
    filing     POST requests: the form checked, the place routed to a building, the case filed
    updates    FixMyStreet's servicerequestupdates: public steps since a time; a client's note or status
    masking    a client's words as published: phones, email addresses, flat and room numbers masked

What is published and what never is: docs/open311.md.
"""

from __future__ import annotations

from bot.services.open311.catalogue import (
    Attribute,
    Definition,
    PublicService,
    definition,
    services,
)
from bot.services.open311.common import (
    EVERYWHERE,
    Jurisdiction,
    jurisdiction,
    local_iso,
    negotiate_locale,
)
from bot.services.open311.filing import Filed, NewRequest, file_request, parse_new_request
from bot.services.open311.keys import Client, authenticate, create_key, revoke_key
from bot.services.open311.requests import (
    PublicRequest,
    RequestQuery,
    list_requests,
    one_request,
    parse_query,
    token_request,
)
from bot.services.open311.updates import (
    PostedUpdate,
    PublicUpdate,
    UpdateQuery,
    list_updates,
    parse_update_query,
    post_update,
)

__all__ = [
    "Attribute", "Definition", "PublicService", "definition", "services",
    "EVERYWHERE", "Jurisdiction", "jurisdiction", "local_iso", "negotiate_locale",
    "Filed", "NewRequest", "file_request", "parse_new_request",
    "Client", "authenticate", "create_key", "revoke_key",
    "PublicRequest", "RequestQuery", "list_requests", "one_request", "parse_query", "token_request",
    "PostedUpdate", "PublicUpdate", "UpdateQuery", "list_updates", "parse_update_query", "post_update",
]
