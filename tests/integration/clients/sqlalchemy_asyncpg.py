"""SQLAlchemy 2 + asyncpg as the AI orchestrator connects: create_async_engine(<exported URL>).

Reads one JSON object on stdin (the URL carries a password: never an argument):
  url                        the exported postgresql+asyncpg:// URL, used verbatim
  label                      written with every row, to count them afterwards
  connections                concurrent workers, each on its own connection (the pool size)
  transactions               transactions per worker
  application_name           optional: connect_args server_settings, as the README says
  pgbouncer_without_prepared optional: the README's extra connect_args for a PgBouncer that
                             does not keep prepared statements (before 1.21, or 0)
Prints one JSON report on stdout: transactions committed, errors by message, the backend
PIDs the transactions ran on, the application names the server saw.
"""

import asyncio
import json
import sys
import uuid
from collections import Counter
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

INSERT = text("insert into client_probe (client, label, n) values ('sqlalchemy+asyncpg', :label, :n)")
COUNT = text("select count(*) from client_probe where label = :label")
WHO = text("select pg_backend_pid() as pid, current_setting('application_name') as app, cast(:n as integer) + 1 as next")


def connect_args(request):
    args = {}
    if request.get("application_name"):
        args["server_settings"] = {"application_name": request["application_name"]}
    if request.get("pgbouncer_without_prepared"):
        # SQLAlchemy's documented recipe for PgBouncer: unique statement names, and asyncpg's
        # own statement cache off (the URL's prepared_statement_cache_size=0 is SQLAlchemy's).
        args["prepared_statement_name_func"] = lambda: f"__asyncpg_{uuid.uuid4()}__"
        args["statement_cache_size"] = 0
    return args


@dataclass
class Tally:
    committed: int = 0
    errors: Counter = field(default_factory=Counter)


def first_line(error):
    return (str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__])[0]


async def worker(engine, request, tally, pids, apps):
    async with engine.connect() as conn:
        for n in range(request["transactions"]):
            try:
                async with conn.begin():
                    await conn.execute(INSERT, {"label": request["label"], "n": n})
                    (count,) = (await conn.execute(COUNT, {"label": request["label"]})).one()
                    row = (await conn.execute(WHO, {"n": n})).one()
                    if row.next != n + 1 or count < 1:
                        raise AssertionError(f"wrong answer: {tuple(row)}, count {count}")
                    pids.add(row.pid)
                    apps.add(row.app)
                tally.committed += 1
            except Exception as error:  # every failure is counted, none stops the run
                tally.errors[first_line(error)] += 1
                if conn.closed or conn.invalidated:
                    return


async def main():
    request = json.load(sys.stdin)
    engine = create_async_engine(
        request["url"],
        pool_size=request["connections"],
        max_overflow=0,
        connect_args=connect_args(request),
    )
    tally = Tally()
    apps = set()
    pids = set()
    try:
        await asyncio.gather(*(worker(engine, request, tally, pids, apps) for _ in range(request["connections"])))
    finally:
        await engine.dispose()
    json.dump(
        {
            "transactions": tally.committed,
            "errors": dict(tally.errors),
            "backendPids": sorted(pids),
            "applicationNames": sorted(apps),
        },
        sys.stdout,
    )


asyncio.run(main())
