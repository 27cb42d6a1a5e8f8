"""The reply lifecycle: queues per conversation, one reply at a time, shown on a Surface."""

from .display import Display
from .job import Deps, Job, Prompt
from .service import Replies, Said, Stop, Submitted
from .surface import STOP, Button, Failed, Gone, Refused, Surface, SurfaceError

__all__ = [
    "STOP",
    "Button",
    "Deps",
    "Display",
    "Failed",
    "Gone",
    "Job",
    "Prompt",
    "Refused",
    "Replies",
    "Said",
    "Stop",
    "Submitted",
    "Surface",
    "SurfaceError",
]
