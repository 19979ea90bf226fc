"""On a machine where nothing answers on PostgreSQL's and Redis's ports, the stacks start their own.

The development and CI machines run both servers; a user's fresh machine may not. The engine test
and ``make up`` then start servers of their own from Debian's packages: this test takes that path
on purpose, by asking for ports where nothing listens.
"""

from __future__ import annotations

import shutil

import pytest
import redis

from devstack.processes import Processes, free_port, listening
from devstack.services import claim_redis_db, postgres_server, redis_server, release_redis_db

# Real processes timed against each other: make test runs these alone, after the parallel suite.
pytestmark = pytest.mark.engine


def test_servers_of_the_stack_s_own_start_serve_and_stop(tmp_path):
    processes = Processes()
    unused_postgres, unused_redis = free_port(), free_port()
    try:
        postgres = postgres_server(processes, tmp_path, unused_postgres)
        assert postgres.port != unused_postgres and "postgres" in [s.name for s in processes.started]
        postgres.execute('CREATE DATABASE "fresh"')
        assert postgres.execute("SELECT current_database()", database="fresh") == [("fresh",)]

        port = redis_server(processes, tmp_path, unused_redis)
        assert port != unused_redis and "redis" in [s.name for s in processes.started]
        number = claim_redis_db(port, "test")
        assert number >= 1 and claim_redis_db(port, "other") != number
        redis.Redis(port=port, db=number).set("key", "value")
        release_redis_db(port, number)
        assert redis.Redis(port=port, db=number).dbsize() == 0
    finally:
        processes.stop_all()
    assert not listening(postgres.port) and not listening(port)
    shutil.rmtree(postgres.data_dir)
