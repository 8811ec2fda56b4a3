"""Builds the per-process domain services once, in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass

from unison_shared.crypto import Keyring

from .conversations.service import ConversationService
from .dashboard.service import DashboardService
from .keys.service import PersonKeys
from .kv.service import ContextKVService
from .profiles.credentials import PinHasher
from .profiles.service import ProfileService
from .settings import ContextSettings


@dataclass
class Services:
    keys: PersonKeys
    profiles: ProfileService
    dashboards: DashboardService
    conversations: ConversationService
    kv: ContextKVService


def build_services(settings: ContextSettings, keyring: Keyring) -> Services:
    opts = settings.context
    keys = PersonKeys(keyring)
    return Services(keys=keys, profiles=ProfileService(keys, opts, PinHasher(opts)),
                    dashboards=DashboardService(keys, opts),
                    conversations=ConversationService(keys, opts), kv=ContextKVService(keys, opts))
