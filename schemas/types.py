"""All record and enum types in one namespace (defined in common/commands/events/workers)."""

from .analytics import JobContext, JobEventRow
from .audit import AuditEntry
from .base import Record
from .commands import (
    AssignJob,
    CancelJob,
    Command,
    ExpireExecution,
    FireTimer,
    NotifyUpstreamFinished,
    PauseJob,
    RedriveJob,
    RegisterDependent,
    ReportFinished,
    ReportProgress,
    ReportStarted,
    ResumeJob,
    RetryJob,
    ReturnAssignment,
    SubmitJob,
    TimerPurpose,
    UpdateJob,
)
from .common import (
    CommandEnvelope,
    ConcurrencyPolicy,
    Dependency,
    DependencyCondition,
    Envelope,
    HttpTask,
    Jitter,
    JobPatch,
    JobSpec,
    MisfirePolicy,
    Outcome,
    PythonTask,
    Requirements,
    RetryPolicy,
    Schedule,
    ScheduledRun,
    ShellTask,
    Task,
    WorkerEnvelope,
)
from .dispatch import (
    ArmedTimer,
    Assignment,
    CancelExecution,
    DeadLetter,
    DispatchRecord,
    DrainWorker,
    JobReady,
    JobWithdrawn,
    TimerChange,
    WorkerCredit,
)
from .events import (
    CommandRejected,
    DependentRegistered,
    JobAssigned,
    JobCancelled,
    JobCompleted,
    JobDeadLettered,
    JobEvent,
    JobFailed,
    JobPaused,
    JobPending,
    JobProgressed,
    JobQueued,
    JobResumed,
    JobRetryScheduled,
    JobReturned,
    JobScheduled,
    JobStarted,
    JobSubmitted,
    JobUpdated,
    ReportRejected,
    ScheduleEnded,
    ScheduleFired,
    ScheduleRunFinished,
    ScheduleSkipped,
    SkipReason,
    UpstreamSettled,
)
from .keys import KeyCreated, KeyEvent, KeyRevoked, QuotaSet
from .logs import LogChunk
from .results import CausedEvent, CommandResult, CommandStatus
from .secrets import DataKeyCreated, DataKeyDeleted, SecretDeleted, SecretRecord, SecretSet
from .state import Held, IncompleteDecision, JobStateFields, JobStateValue, Liveness, PendingTimer, WorkerLiveness
from .templates import ParamType, Template, TemplateParam, TemplateVersion
from .workers import (
    WorkerDeregistered,
    WorkerDraining,
    WorkerEvent,
    WorkerHeartbeat,
    WorkerLost,
    WorkerRegistered,
)

__all__ = [
    "Record", "Command", "JobEvent", "WorkerEvent", "Task",
    # command results
    "CommandResult", "CausedEvent", "CommandStatus",
    # enums
    "Outcome", "MisfirePolicy", "ConcurrencyPolicy", "Jitter", "DependencyCondition", "TimerPurpose", "SkipReason",
    # common records
    "Envelope", "CommandEnvelope", "WorkerEnvelope", "ShellTask", "HttpTask", "PythonTask", "Schedule",
    "RetryPolicy", "Requirements", "Dependency", "ScheduledRun", "JobSpec", "JobPatch",
    # commands
    "SubmitJob", "CancelJob", "PauseJob", "ResumeJob", "UpdateJob", "RetryJob", "RedriveJob", "AssignJob",
    "ReportStarted", "ReportProgress", "ReportFinished", "FireTimer", "ExpireExecution", "NotifyUpstreamFinished",
    "RegisterDependent", "ReturnAssignment",
    # job events
    "JobSubmitted", "JobPending", "JobScheduled", "JobQueued", "JobAssigned", "JobStarted", "JobProgressed",
    "JobCompleted", "JobFailed", "JobReturned", "JobRetryScheduled", "JobDeadLettered", "JobCancelled", "JobPaused",
    "JobResumed", "JobUpdated", "ScheduleFired", "ScheduleSkipped", "ScheduleRunFinished",
    "ScheduleEnded", "DependentRegistered", "UpstreamSettled", "CommandRejected", "ReportRejected",
    # dispatch records
    "DispatchRecord", "JobReady", "JobWithdrawn", "WorkerCredit", "Assignment", "CancelExecution", "DeadLetter",
    "DrainWorker",
    "ArmedTimer", "TimerChange",
    # worker events
    "WorkerRegistered", "WorkerHeartbeat", "WorkerDraining", "WorkerDeregistered", "WorkerLost",
    # log records
    "LogChunk",
    # processor state
    "Liveness", "Held", "WorkerLiveness", "PendingTimer", "JobStateFields", "IncompleteDecision", "JobStateValue",
    # job templates
    "ParamType", "TemplateParam", "TemplateVersion", "Template",
    # analytics
    "JobEventRow", "JobContext",
    # API keys
    "KeyCreated", "KeyRevoked", "KeyEvent", "QuotaSet",
    # secrets (ciphertexts only)
    "DataKeyCreated", "DataKeyDeleted", "SecretSet", "SecretDeleted", "SecretRecord",
    # the audit trail
    "AuditEntry",
]
