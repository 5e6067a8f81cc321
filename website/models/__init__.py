"""The database model: users own tasks, tasks have jobs, jobs bring back data."""

from website.models.api_key import ApiKey
from website.models.data import Data
from website.models.job import FINAL_JOB_STATUSES, Job, JobStatus
from website.models.task import Task, TaskState
from website.models.user import Role, User
from website.models.webhook import EventStatus, EventType, Webhook, WebhookDelivery, WebhookEvent

__all__ = [
    "API_KEYS",
    "DATA",
    "FINAL_JOB_STATUSES",
    "JOBS",
    "TASKS",
    "USERS",
    "WEBHOOK_EVENTS",
    "ApiKey",
    "Data",
    "EventStatus",
    "EventType",
    "Job",
    "JobStatus",
    "Role",
    "Task",
    "TaskState",
    "User",
    "Webhook",
    "WebhookDelivery",
    "WebhookEvent",
]

# The tables themselves. Statements of their plain columns (not the models' attributes) skip the
# ORM's per-statement work: the hottest reads and the engine's per-job statements use these.
TASKS = Task.__table__
JOBS = Job.__table__
DATA = Data.__table__
USERS = User.__table__
API_KEYS = ApiKey.__table__
WEBHOOK_EVENTS = WebhookEvent.__table__
