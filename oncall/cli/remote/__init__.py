"""The responders' commands, against a running service's API: ``login``, ``logout``,
``whoami``, ``incidents``, ``ack``, ``resolve``, ``escalate``, ``shifts`` and ``override``.
They need no database here, only the address of the service and an API token
(``oncall login``; or ``ONCALL_URL`` and ``ONCALL_TOKEN``).

One module per group of commands: ``account`` (login, logout, whoami), ``incidents``
(incidents, ack, resolve, escalate), ``shifts`` (shifts, override); ``oncall.cli.COMMANDS``
imports only the one a command needs."""
