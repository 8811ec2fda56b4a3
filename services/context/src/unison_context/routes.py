"""Every router the context service serves, in the order requests are matched: `/v1`
first, the legacy paths after."""

from __future__ import annotations

from .compat import conversation as legacy_conversation
from .compat import kv as legacy_kv
from .compat import profile as legacy_profile
from .conversations import router as conversations
from .dashboard import router as dashboards
from .persons import router as persons
from .profiles import router as profiles

ROUTERS = [m.router for m in (profiles, dashboards, conversations, persons,
                              legacy_conversation, legacy_profile, legacy_kv)]
