"""ACM load from one process, for the rate-cap test: paced clients in threads and shared waits at once.

Run as ``python -m tests.acm_load CAP CONN_ID [CONN_ID...] -- ARN...`` with the connections in the
environment. It runs in a process of its own so that its timing is not disturbed by the emulator
and the proxy that count its calls.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time


def main(argv: list[str]) -> int:
    from cloudfront_ssl.aws import pacing
    from cloudfront_ssl.aws.acm import acm_hook
    from cloudfront_ssl.steps.triggers import CertificatesIssuedTrigger

    split = argv.index("--")
    cap, conn_ids, arns = float(argv[0]), argv[1:split], argv[split + 1 :]
    pacing.reset_limiter("acm", cap)

    def describe_all() -> None:
        client = acm_hook(conn_ids[0]).conn
        for arn in arns * 2:
            client.describe_certificate(CertificateArn=arn)

    threads = [threading.Thread(target=describe_all) for _ in range(3)]
    for thread in threads:
        thread.start()

    async def wait_in_groups() -> list[dict]:
        # One shared view per connection, each sweeping every 0.2 s, all under the one cap.
        triggers = [
            CertificatesIssuedTrigger(arns, conn_id, 0.2, deadline=time.time() + 5)
            for conn_id in conn_ids
            for _ in range(3)
        ]

        async def first(trigger: CertificatesIssuedTrigger) -> dict:
            async for event in trigger.run():
                return event.payload
            return {}

        return await asyncio.gather(*(first(trigger) for trigger in triggers))

    events = asyncio.run(wait_in_groups())
    for thread in threads:
        thread.join()
    print(sorted({event["status"] for event in events}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
