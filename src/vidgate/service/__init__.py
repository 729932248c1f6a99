"""The business rules, a module per concept: tasks, keys, files and how records are shown."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vidgate.blobs import BlobStore
from vidgate.console.session import SessionSigner
from vidgate.service.admin import Admin
from vidgate.service.characters import Characters
from vidgate.service.files import Files
from vidgate.service.keys import Keys
from vidgate.service.presenting import Presenter
from vidgate.service.tasks import Page, Tasks
from vidgate.service.validation import request_fingerprint
from vidgate.settings import Settings

__all__ = [
    "Admin",
    "Characters",
    "Files",
    "Keys",
    "Page",
    "Presenter",
    "Services",
    "Tasks",
    "request_fingerprint",
]


@dataclass(frozen=True)
class Services:
    """The services of one gateway process, as the routes reach them."""

    settings: Settings
    keys: Keys
    tasks: Tasks
    files: Files
    presenter: Presenter
    blobs: BlobStore

    @cached_property
    def sessions(self) -> SessionSigner:
        """Console sign-ins, signed with the gateway's secret."""
        return SessionSigner(self.blobs.signer.secret, self.settings.console_session_ttl)

    @cached_property
    def characters(self) -> Characters:
        """Characters of OpenAI's videos API, kept with the uploads."""
        return Characters(self.tasks.store, self.blobs)

    @cached_property
    def admin(self) -> Admin:
        """The admin API's rules, over every key and task."""
        return Admin(self.tasks.store, self.tasks)
