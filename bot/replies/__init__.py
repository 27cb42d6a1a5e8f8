"""The reply lifecycle: queues per conversation, one reply at a time, shown on a Surface."""

from .display import Display
from .job import Deps, Job, Prompt
from .service import Replies, Said, Stop, Submitted
from .surface import (
    STOP,
    UNLIMITED,
    Button,
    Failed,
    Gone,
    Limits,
    Refused,
    Surface,
    SurfaceError,
)

__all__ = [
    "STOP",
    "UNLIMITED",
    "Button",
    "Deps",
    "Display",
    "Failed",
    "Gone",
    "Job",
    "Limits",
    "Prompt",
    "Refused",
    "Replies",
    "Said",
    "Stop",
    "Submitted",
    "Surface",
    "SurfaceError",
]
