"""The statements of one job's run, over one connection: claim, lock, finish, store, record.

Built once as Core statements with bind parameters: a worker runs them for every job, and
building ORM statements each time cost more than the database work itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Dialect, Row
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from website.database import read_only_transactions
from website.database_timeouts import expect_driver_answer
from website.extensions import db
from website.models import DATA, JOBS, TASKS, JobStatus
from website.services.fetch import Record
from website.services.schedule import TaskRun
from website.services.write_turns import write_turn

__all__ = ["JobOutcome", "JobStore", "LockedTask", "previous_hashes", "transaction"]

MAX_RECORD_KEY_LENGTH = 255  # the width of data.record_key


@dataclass(frozen=True)
class JobOutcome:
    """A job's final state and what its run measured."""

    status: str
    finished_at: datetime
    duration: float | None
    http_status: int | None = None
    not_modified: bool = False
    error: str | None = None
    records_count: int | None = None
    records_added: int | None = None
    records_changed: int | None = None
    records_removed: int | None = None


@dataclass(frozen=True)
class LockedTask:
    """The fields of a locked task that finishing a run reads."""

    id: int
    attempt: int
    max_attempt: int
    task_interval: int | None
    retry_backoff: float
    start_time: datetime
    end_time: datetime | None
    enabled: bool
    next_run_at: datetime | None
    last_data_job_id: int | None
    last_execution_status: str | None
    etag: str | None
    last_modified: str | None
    stale_after: int | None
    stale_at: datetime | None
    last_success_at: datetime | None

    @classmethod
    def from_row(cls, row: Row[*tuple[Any, ...]]) -> LockedTask:
        return cls(**row._mapping)


OUTCOME_FIELDS = tuple(field.name for field in fields(JobOutcome))
_LOCKED_COLUMNS = tuple(TASKS.c[field.name] for field in fields(LockedTask))
# queued -> running, returning the task's fields the fetch needs; no row back means another
# delivery (or nothing) got there first. The task's fields come from scalar subqueries: SQLite's
# RETURNING cannot name a joined table.
CLAIM = (
    update(JOBS)
    .where(JOBS.c.id == bindparam("job_id"), JOBS.c.status == JobStatus.QUEUED.value)
    .values(
        status=JobStatus.RUNNING.value,
        started_at=bindparam("b_started_at"),
        lease_until=bindparam("b_lease_until"),
        worker=bindparam("b_worker"),
    )
    .returning(
        JOBS.c.task_id,
        *(
            select(column).where(TASKS.c.id == JOBS.c.task_id).scalar_subquery().label(column.name)
            for column in (
                TASKS.c.url,
                TASKS.c.parameters,
                TASKS.c.etag,
                TASKS.c.last_modified,
                TASKS.c.last_data_job_id,
            )
        ),
    )
)
# FOR UPDATE on PostgreSQL; SQLite's transactions hold the database's write lock already.
LOCK_TASK = select(*_LOCKED_COLUMNS).where(TASKS.c.id == bindparam("task_id")).with_for_update()
PREVIOUS_HASHES = select(DATA.c.record_key, DATA.c.content_hash).where(
    DATA.c.job_id == bindparam("job_id"), DATA.c.record_key.is_not(None)
)
# Only the run this worker claimed: same task, same start, still running. SQLite may hand a
# deleted job's id to a new job, which must never receive an old run's result.
FINISH = (
    update(JOBS)
    .where(
        JOBS.c.id == bindparam("w_job_id"),
        JOBS.c.task_id == bindparam("w_task_id"),
        JOBS.c.started_at == bindparam("w_started_at"),
        JOBS.c.status == JobStatus.RUNNING.value,
    )
    .values({name: bindparam(f"b_{name}") for name in OUTCOME_FIELDS})
)
# The run a worker process claimed and still runs (a prefork child runs one job at a time).
RUNNING_CLAIM = select(JOBS.c.task_id, JOBS.c.started_at).where(
    JOBS.c.id == bindparam("job_id"),
    JOBS.c.status == JobStatus.RUNNING.value,
    JOBS.c.worker == bindparam("worker"),
)
# A record's row, in this order: payload is the record's canonical JSON text, stored as it is
# (the JSON type would serialise the record again), which both databases accept for JSON.
RECORD_COLUMNS = ("job_id", "task_id", "record_key", "payload", "content_hash")
INSERT_RECORD = insert(DATA).values({name: bindparam(name) for name in RECORD_COLUMNS}).inline()
# PostgreSQL's bulk load: rows streamed in COPY's text format, which psycopg writes in C; an
# INSERT's parameters went through its Python array dumper, escaping every JSON payload.
POSTGRESQL_COPY_RECORDS = f"COPY {DATA.name} ({', '.join(RECORD_COLUMNS)}) FROM STDIN"
RUN_FIELDS = tuple(field.name for field in fields(TaskRun))
# updated_at keeps its value: it tells when the owner last changed the task.
RECORD_RUN = (
    update(TASKS)
    .where(TASKS.c.id == bindparam("task_id"))
    .values(
        {name: bindparam(f"b_{name}") for name in RUN_FIELDS} | {"updated_at": TASKS.c.updated_at}
    )
)


class JobStore:
    """The per-job statements, run on ``connection`` (in its transaction)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def claim(
        self, job_id: int, started_at: datetime, lease_until: datetime, worker: str
    ) -> Row[Any] | None:
        """queued -> running, returning ``task_id, url, parameters, etag, last_modified,
        last_data_job_id``.

        None when another delivery (or nothing) got there first: a duplicate changes nothing.
        """
        parameters = {
            "job_id": job_id,
            "b_started_at": started_at,
            "b_lease_until": lease_until,
            "b_worker": worker,
        }
        row: Row[Any] | None = self.connection.execute(CLAIM, parameters).first()
        return row

    def running_claim(self, job_id: int, worker: str) -> Row[Any] | None:
        """``task_id, started_at`` of the job if ``worker`` claimed it and it still runs."""
        row: Row[Any] | None = self.connection.execute(
            RUNNING_CLAIM, {"job_id": job_id, "worker": worker}
        ).first()
        return row

    def lock_task(self, task_id: int) -> LockedTask | None:
        row = self.connection.execute(LOCK_TASK, {"task_id": task_id}).first()
        return None if row is None else LockedTask.from_row(row)

    def lock_tasks(self, task_ids: set[int]) -> dict[int, LockedTask]:
        """Several tasks, locked in id order (a fixed order keeps PostgreSQL free of deadlocks)."""
        statement = (
            select(*_LOCKED_COLUMNS)
            .where(TASKS.c.id.in_(sorted(task_ids)))
            .order_by(TASKS.c.id)
            .with_for_update()
        )
        return {row.id: LockedTask.from_row(row) for row in self.connection.execute(statement)}

    def previous_hashes(self, job_id: int) -> dict[str, str]:
        """``{record_key: content_hash}`` of a job's records."""
        return dict(self.connection.execute(PREVIOUS_HASHES, {"job_id": job_id}).all())

    def finish(self, job_id: int, task_id: int, started_at: datetime, outcome: JobOutcome) -> bool:
        """running -> the outcome's final state; False when the run is no longer this one."""
        parameters = {
            "w_job_id": job_id,
            "w_task_id": task_id,
            "w_started_at": started_at,
            **{f"b_{name}": value for name, value in asdict(outcome).items()},
        }
        return bool(self.connection.execute(FINISH, parameters).rowcount == 1)

    def insert_records(self, job_id: int, task_id: int, records: Sequence[Record]) -> None:
        """All of a job's records in one statement.

        Handed to the driver as they are: the values are plain ints and strings (the payload
        already JSON text), so SQLAlchemy's per-row parameter processing has nothing to do.
        PostgreSQL gets them by COPY, on the same connection and in the same transaction.
        """
        if not records:
            return
        rows = [  # RECORD_COLUMNS, in order
            (
                job_id,
                task_id,
                None if record.key is None else record.key[:MAX_RECORD_KEY_LENGTH],
                record.document,
                record.content_hash,
            )
            for record in records
        ]
        if self.connection.dialect.name == "postgresql":
            self._copy_rows(POSTGRESQL_COPY_RECORDS, rows)
        else:
            sql = _insert_records_sql(self.connection.dialect)
            self.connection.exec_driver_sql(sql, rows)

    def _copy_rows(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        """``COPY ... FROM STDIN`` of ``rows`` through psycopg, with a statement's deadline; its
        errors raised as SQLAlchemy's, like those of every other statement."""
        driver_connection = self.connection.connection.driver_connection  # psycopg's
        assert driver_connection is not None
        expect_driver_answer(self.connection)
        try:
            with driver_connection.cursor() as cursor, cursor.copy(statement) as copy:
                for row in rows:
                    copy.write_row(row)
        except self.connection.dialect.loaded_dbapi.Error as error:
            raise DBAPIError.instance(
                statement, None, error, self.connection.dialect.loaded_dbapi.Error
            ) from error

    def record_run(self, task_id: int, run: TaskRun) -> None:
        """Write a finished run's fields on its task."""
        parameters = {f"b_{name}": value for name, value in asdict(run).items()}
        self.connection.execute(RECORD_RUN, {"task_id": task_id, **parameters})


@lru_cache(maxsize=4)
def _insert_records_sql(dialect: Dialect) -> str:
    """``INSERT_RECORD`` as this dialect's SQL with positional markers, for tuples of values."""
    paramstyle = "qmark" if dialect.paramstyle == "qmark" else "format"  # "?" or "%s"
    dialect_class: Any = type(dialect)  # every SQLAlchemy dialect takes a paramstyle
    return str(INSERT_RECORD.compile(dialect=dialect_class(paramstyle=paramstyle)))


def previous_hashes(job_id: int) -> dict[str, str]:
    """``{record_key: content_hash}`` of a job's records, read outside any write transaction
    (on SQLite a snapshot that leaves the write lock to others), in one query."""
    with read_only_transactions(), db.engine.connect() as connection:
        return JobStore(connection).previous_hashes(job_id)


@contextmanager
def transaction() -> Iterator[JobStore]:
    """One transaction on a connection of its own, committed at the end of the block.

    On SQLite it runs in the write turn. A job checks a connection out for each of its
    transactions, never across its fetch: a worker's threads then share a few pooled
    connections instead of each holding one while it waits for the network.
    """
    with write_turn(), db.engine.connect() as connection:
        connection.begin()
        try:
            yield JobStore(connection)
        except BaseException:
            _roll_back(connection)
            raise
        connection.commit()


def _roll_back(connection: Connection) -> None:
    """Roll back, or drop the connection when it cannot: a statement interrupted mid-way (a
    worker's time limit) leaves the driver inside a command, and the caller's exception, not
    the rollback's, is what matters."""
    try:
        connection.rollback()
    except SQLAlchemyError:
        connection.invalidate()
