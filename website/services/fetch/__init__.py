"""The fetcher: fetch a task's URL safely, parse its JSON, and extract keyed records.

This package's public interface (used by the engine and the task API):

- ``FetchRequest`` / ``FetchResult`` / ``FetchError``: one HTTP fetch and its outcome.
- ``fetch(request)``: perform it with the current app's settings (raises ``FetchError``).
- ``validate_task_url(url)``: the host-safety check run when a task is created or updated
  (raises ``website.errors.InvalidInput`` naming the ``url`` field).
- ``Record`` / ``extract_records(payload, parameters)``: the records a response holds.
- ``RecordChanges`` / ``diff_records(previous, current)``: added, changed and removed counts.
- ``compile_records_expression(expression)``: check a ``records`` JMESPath expression early.
- ``use_resolver(resolver)``: resolve host names with another ``Resolver`` (tests).

Modules: ``safety`` (URL and host rules), ``addresses`` (which IPs are public), ``resolver``,
``transport`` (connections pinned to vetted addresses, one deadline), ``body`` (capped reading),
``client`` (redirects, conditional requests, errors), ``records`` (selection, keys, changes).
"""

from website.services.fetch.client import USER_AGENT, fetch
from website.services.fetch.records import (
    Record,
    RecordChanges,
    compile_records_expression,
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
    "TIMED_OUT",
    "USER_AGENT",
    "FetchError",
    "FetchRequest",
    "FetchResult",
    "MappingResolver",
    "Record",
    "RecordChanges",
    "Resolver",
    "SystemResolver",
    "compile_records_expression",
    "diff_records",
    "extract_records",
    "fetch",
    "use_resolver",
    "validate_task_url",
]
