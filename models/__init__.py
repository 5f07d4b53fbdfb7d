"""ORM models, database setup and queries.

Importing this package registers every table on :data:`Base.metadata`.  It
re-exports the public names of its model modules: each one's ``__all__``
says which, so a name is listed once, beside its definition.
"""

from models import (
    appointments,
    audit,
    cases,
    consultations,
    delivery,
    diary,
    family,
    media,
    open311,
    org,
    organisation,
    outbox,
    reports,  # noqa: F401  (the staff reports' indexes on the diary's table)
    users,
)
from models.appointments import *  # noqa: F403
from models.audit import *  # noqa: F403
from models.base import Base, UTCDateTime, utcnow
from models.cases import *  # noqa: F403
from models.consultations import *  # noqa: F403
from models.delivery import *  # noqa: F403
from models.diary import *  # noqa: F403
from models.family import *  # noqa: F403
from models.media import *  # noqa: F403
from models.open311 import *  # noqa: F403
from models.org import *  # noqa: F403
from models.organisation import *  # noqa: F403
from models.outbox import *  # noqa: F403
from models.users import *  # noqa: F403

__all__ = ["Base", "UTCDateTime", "utcnow"] + [
    name
    for module in (org, users, outbox, delivery, cases, media, diary, appointments, audit, open311,
                   consultations, family, organisation)
    for name in module.__all__
]
