"""The fetcher: fetch a task's URL safely, parse its JSON, and extract keyed records.

The engine calls ``fetch``, ``extract_records`` and ``diff_records``; the task API calls
``validate_task_url`` and the schema ``compile_records_expression`` and ``RESERVED_HEADERS``.
``docs/fetcher.md`` describes each module.
"""

from website.services.fetch.client import fetch
from website.services.fetch.expression import compile_records_expression
from website.services.fetch.headers import RESERVED_HEADERS, USER_AGENT
from website.services.fetch.records import (
    Record,
    RecordChanges,
    RecordLimits,
    diff_records,
    extract_records,
)
from website.services.fetch.request import (
    FAILED,
    TIMED_OUT,
    FetchError,
    FetchRequest,
    FetchResult,
)
from website.services.fetch.resolver import (
    MappingResolver,
    Resolver,
    SystemResolver,
    use_resolver,
)
from website.services.fetch.safety import validate_task_url

__all__ = [
    "FAILED",
    "RESERVED_HEADERS",
    "TIMED_OUT",
    "USER_AGENT",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "MappingResolver",
    "Record",
    "RecordChanges",
    "RecordLimits",
    "Resolver",
    "SystemResolver",
    "compile_records_expression",
    "diff_records",
    "extract_records",
    "fetch",
    "use_resolver",
    "validate_task_url",
]
