"""Why the bot refuses something, in one vocabulary: a person it may not serve here (the
operator's access lists, :mod:`bot.core.policy`), a choice that can't be made where it was asked
for or a model someone may not choose (also the policy's), an image it will not read
(:mod:`bot.core.images`), or a recording it does not transcribe (:mod:`bot.core.audio`). (A
permission someone lacks is named by the permission itself.) The values are stable identifiers,
never shown as they are: the people refused are told :meth:`bot.core.texts.Texts.refused`."""

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
    # A recording, not transcribed (it shows as ``[attached audio: name (not transcribed)]``,
    # and the person is told why; bot.core.audio). BROKEN and BUSY above apply to it too.
    NO_SPEECH = "no_speech"  # no TRANSCRIBE_MODEL
    TOO_LONG = "too_long"  # past AUDIO_MAX_SECONDS, or larger than the speech server takes
    SPEECH_REFUSED = "speech_refused"  # the speech server answered 4xx
    SPEECH_FAILED = "speech_failed"  # it failed otherwise (down, 5xx, timed out)
    SILENT = "silent"  # transcribed, and nothing was said
    # Speech (a recording heard, a reply read out) that the limits or budgets refused.
    LIMITED = "limited"  # the person's or the server's per-minute limits
    OVER_BUDGET = "over_budget"  # a daily spending budget is spent
    UNPRICED = "unpriced"  # a budget is set, and the speech model has no price
    # A persona or model choice, where it was asked for (bot.core.policy.choice_target).
    SERVER_ONLY = "server only"  # scope: server, outside a server
    NOT_IN_SERVER = "not in server"  # scope: server, in a server the bot is not in
    NOT_A_CONVERSATION = "not a conversation"  # scope: here, in a thread that isn't one
    # A model someone may not choose (bot.core.policy.model_choice_refusal).
    MODEL_UNLISTED = "unlisted"  # not one the operator listed
    MODEL_NOT_OPEN = "not open"  # outside servers, only the models open to everyone
    MODEL_NEEDS_MANAGE_SERVER = "needs manage_guild"  # listed, and choosing it needs Manage Server
