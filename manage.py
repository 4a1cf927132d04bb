#!/usr/bin/env python
"""Django's command-line utility. Starts the embedded database and Redis when their URLs are unset."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "quire.settings")
    from quire.embedded import ensure_service_urls

    started = ensure_service_urls()
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    finally:
        for server in started:
            server.stop()


if __name__ == "__main__":
    main()
