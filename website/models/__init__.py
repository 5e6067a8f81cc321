"""The database model: users own tasks, tasks have jobs, jobs bring back data."""

from website.models.data import Data
from website.models.job import FINAL_JOB_STATUSES, Job, JobStatus
from website.models.task import Task, TaskState
from website.models.user import Role, User

__all__ = ["FINAL_JOB_STATUSES", "Data", "Job", "JobStatus", "Role", "Task", "TaskState", "User"]
