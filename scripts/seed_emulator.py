"""Seed an AWS emulator (moto in server mode) with what the jobs need: a source distribution and a topic.

The command line of :mod:`devstack.seed` (the ``emulator`` profile of ``docker-compose.yaml`` runs it;
the image holds ``devstack/seed.py`` beside this script). Running it twice against the same emulator
creates nothing new.

    python scripts/seed_emulator.py --endpoint-url http://127.0.0.1:5000          # JSON
    python scripts/seed_emulator.py --endpoint-url http://moto:5000 --shell       # shell variables
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(
    0, str(Path(__file__).resolve().parent.parent)
)  # the repository (or /opt/airflow), for devstack

from devstack.seed import main  # noqa: E402

if __name__ == "__main__":
    main()
