"""The development stack's port probe: a port that a stopped stack's connections leave in TIME_WAIT is free."""

from __future__ import annotations

import socket
import time

from devstack.processes import free_port


def test_a_port_whose_connections_linger_in_time_wait_is_still_free_for_the_next_stack():
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the API server binds
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = server.accept()
    accepted.close()  # the server's end closes first: it stays in TIME_WAIT, as after a stopped stack
    time.sleep(0.1)
    client.close()
    server.close()
    time.sleep(0.1)
    assert free_port(port) == port


def test_a_port_something_listens_on_is_not_offered():
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert free_port(port) != port
