"""Why the bot refuses something, in one vocabulary: a person it may not serve here (the
operator's access lists, :mod:`bot.core.policy`), or an image it will not read
(:mod:`bot.core.images`). The values are stable identifiers, never shown as they are: the
people refused are told :meth:`bot.core.texts.Texts.refused`."""

from __future__ import annotations

from enum import StrEnum


class Refusal(StrEnum):
    # A person, by the operator's access lists (bot.core.policy).
    BLOCKED = "blocked"
    DMS = "dms"
    GUILD = "guild"
    CHANNEL = "channel"
    ROLE = "role"
    MEMBERS = "members"  # DMs: only an allowed member of an allowed server, when lists are set
    UNCHECKED = "unchecked"  # those lists need a look-up that failed just now
    # An image, not read (it shows as ``[attached image: name (not readable)]``; bot.core.images).
    NOT_ALLOWED = "not_allowed"  # not an image, or not one of images.FORMATS
    TOO_MANY_PIXELS = "too_many_pixels"  # past images.MAX_PIXELS, by its header
    BROKEN = "broken"  # a decoder error: truncated, corrupt, a bomb Pillow caught itself
    BUSY = "busy"  # too many images waiting to be decoded
