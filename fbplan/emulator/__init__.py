"""A local Flashback backend: management API, S3 Bridge Node, AI gateway, fault injection.

Public entry points:

    Store(path)                                  SQLite-backed state with the backend's rules
    create_backend_app(store, token, faults)     the management API as a WSGI (Flask) app
    start_emulator(data_path, token, ...)        every service on real ports -> RunningEmulator
    run_forever(data_path, token, ...)           the same, blocking (``fbplan emulator``)
    FaultInjector, FaultRule, parse_faults       faults on demand, around any WSGI app
    ConnectionDropped                            raised in-process for a dropped connection

See `fbplan.emulator.api` for the HTTP behaviour, `fbplan.emulator.store` for the rules and
`fbplan.emulator.admin` for the ``/_emulator/`` admin API.
"""

from __future__ import annotations

from fbplan.emulator.api import create_backend_app
from fbplan.emulator.faults import ConnectionDropped, FaultInjector, FaultRule, parse_faults
from fbplan.emulator.recorder import RequestRecorder
from fbplan.emulator.server import RunningEmulator, run_forever, start_emulator
from fbplan.emulator.store import Store

__all__ = [
    "ConnectionDropped",
    "FaultInjector",
    "FaultRule",
    "RequestRecorder",
    "RunningEmulator",
    "Store",
    "create_backend_app",
    "parse_faults",
    "run_forever",
    "start_emulator",
]
