"""Whether this process can serve: what a load balancer's or an orchestrator's probe asks.

A process that runs but cannot reach its database would answer every request with a 503; the
probe should see that, and see it quickly, so that traffic goes to the processes that can
serve. Nothing about any tenant is read or told.
"""

from __future__ import annotations

import asyncio
import logging

from carebook.core.errors import Unavailable
from carebook.db.database import UNAVAILABLE_MESSAGE, Database

logger = logging.getLogger(__name__)

# Probes give up after a few seconds of their own (Kubernetes: 1 s by default, load balancers
# 2 to 10 s); a database that has not answered by then is as good as down for this process.
# Without a bound, a database that accepts connections but never answers would hold the probe
# for the driver's connect timeout (a minute).
TIMEOUT_SECONDS = 5.0


async def ensure_serving(db: Database) -> None:
    """Return when the database answers a query within :data:`TIMEOUT_SECONDS`; raise
    :class:`Unavailable` when it does not, or cannot be reached."""
    timeout = TIMEOUT_SECONDS
    try:
        async with asyncio.timeout(timeout):
            await db.ping()
    except TimeoutError:
        logger.warning("database unavailable: no answer within %g s", timeout)
        raise Unavailable(UNAVAILABLE_MESSAGE) from None
