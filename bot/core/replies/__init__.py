"""The reply lifecycle: queues per conversation, one reply at a time, shown on a Surface."""

from bot.core.replies.display import Display
from bot.core.replies.job import Deps, Job, Prompt
from bot.core.replies.service import Replies, Said, Stop, Submitted
from bot.core.replies.surface import (
    STOP,
    UNLIMITED,
    Answer,
    Button,
    Failed,
    Gone,
    Limits,
    Question,
    Refused,
    Surface,
    SurfaceError,
)

__all__ = [
    "STOP",
    "UNLIMITED",
    "Answer",
    "Button",
    "Deps",
    "Display",
    "Failed",
    "Gone",
    "Job",
    "Limits",
    "Prompt",
    "Question",
    "Refused",
    "Replies",
    "Said",
    "Stop",
    "Submitted",
    "Surface",
    "SurfaceError",
]
