"""What the lifecycle's changes and grants both work with: the settings, the ports, the snapshot's
reader, and the lifecycle's access, views and revocations."""

from __future__ import annotations

from collections.abc import Callable

from chalicelib.kernel.ports import Clock, IamGateway, StateStore
from chalicelib.kernel.snapshot import Reader
from chalicelib.lifecycle.access import Access
from chalicelib.lifecycle.revoking import Revoking
from chalicelib.lifecycle.views import Views
from chalicelib.settings import Settings


class Part:
    def __init__(
        self,
        settings: Settings,
        iam: IamGateway,
        state: StateStore,
        clock: Clock,
        reader: Reader,
        access: Access,
        views: Views,
        revoking: Revoking,
        changes_done: Callable[[], None],
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.clock = clock
        self.reader = reader
        self.access = access
        self.views = views
        self.revoking = revoking
        # Called where a change's changes end and its answer begins (the runner's dry run
        # stops there: what follows only reads, to answer).
        self.changes_done = changes_done
