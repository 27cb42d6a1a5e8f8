"""JSON payloads in the shapes Discord's API v10 sends, for the fake Discord server."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DISCORD_EPOCH_MS = 1_420_070_400_000
_sequence = itertools.count()


def snowflake(seconds_ago: float = 0.0) -> int:
    """Increasing ids with a real timestamp, like Discord's (``seconds_ago``: an older one)."""
    ms = int((time.time() - seconds_ago) * 1000) - DISCORD_EPOCH_MS
    return (ms << 22) | (next(_sequence) % (1 << 22))


def snowflake_age(snowflake_id: int) -> float:
    """Seconds since the id was made."""
    return time.time() - ((snowflake_id >> 22) + DISCORD_EPOCH_MS) / 1000


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


@dataclass
class FakeUser:
    id: int
    username: str
    bot: bool = False
    permissions: int = 0  # extra guild permissions (e.g. MANAGE_MESSAGES) on top of @everyone
    denied: int = 0  # permissions taken away (as a channel override would)

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "username": self.username,
            "discriminator": "0",
            "global_name": self.username,
            "avatar": None,
            "bot": self.bot,
        }

    def mention(self) -> str:
        return f"<@{self.id}>"


EVERYONE_PERMISSIONS = (
    (1 << 10)  # view channel
    | (1 << 11)  # send messages
    | (1 << 16)  # read message history
    | (1 << 31)  # use application commands
    | (1 << 35)  # create public threads
    | (1 << 38)  # send messages in threads
)
ADMINISTRATOR = 1 << 3


@dataclass
class FakeGuild:
    id: int
    name: str
    owner_id: int
    channels: dict[int, dict[str, Any]] = field(default_factory=dict)
    members: dict[int, FakeUser] = field(default_factory=dict)
    bot_permissions: int = ADMINISTRATOR  # the bot's managed role
    locale: str = "en-US"  # the server's preferred locale
    has_bot: bool = True  # False: a server where only people's installs of the app reach
    roles: dict[int, str] = field(default_factory=dict)  # extra roles, id -> name
    member_roles: dict[int, list[int]] = field(default_factory=dict)  # user id -> role ids

    @property
    def bot_role(self) -> int:
        return self.id + 1

    def add_text_channel(self, name: str) -> int:
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.id),
            "name": name,
            "position": len(self.channels),
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
        }
        return channel_id

    def member_payload(self, user: FakeUser) -> dict[str, Any]:
        roles = [str(self.id + 1)] if user.bot else []
        roles += [str(role) for role in self.member_roles.get(user.id, [])]
        return {
            "user": user.payload(),
            "roles": roles,
            "joined_at": now_iso(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "nick": None,
        }

    def permissions_of(self, user: FakeUser) -> int:
        granted = (
            EVERYONE_PERMISSIONS | user.permissions | (self.bot_permissions if user.bot else 0)
        )
        return granted & ~user.denied

    def payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "owner_id": str(self.owner_id),
            "icon": None,
            "unavailable": False,
            "member_count": len(self.members),
            "large": False,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": str(self.id),
                    "name": "@everyone",
                    "permissions": str(EVERYONE_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                },
                {
                    "id": str(self.id + 1),
                    "name": "bot",
                    "permissions": str(self.bot_permissions),
                    "position": 1,
                    "color": 0,
                    "hoist": False,
                    "managed": True,
                    "mentionable": False,
                    "flags": 0,
                    "tags": {"bot_id": str(next(u.id for u in self.members.values() if u.bot))},
                },
            ]
            + [
                {
                    "id": str(role),
                    "name": name,
                    "permissions": "0",
                    "position": 2,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
                for role, name in self.roles.items()
            ],
            "channels": list(self.channels.values()),
            "threads": [],
            "members": [self.member_payload(u) for u in self.members.values()],
            "voice_states": [],
            "presences": [],
            "premium_tier": 0,
            "preferred_locale": self.locale,
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "joined_at": now_iso(),
        }


def message_payload(
    *,
    message_id: int,
    channel_id: int,
    guild: FakeGuild | None,
    author: FakeUser,
    content: str,
    mentions: list[FakeUser] | None = None,
    role_mentions: list[int] | None = None,
    components: list[Any] | None = None,
    message_type: int = 0,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "author": author.payload(),
        "content": content,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [u.payload() for u in mentions or []],
        "mention_roles": [str(r) for r in role_mentions or []],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": message_type,
        "flags": 0,
        "components": components or [],
    }
    if guild is not None:
        data["guild_id"] = str(guild.id)
        member = guild.member_payload(author)
        member.pop("user")
        data["member"] = member
    return data


def application_payload(app_id: int, owner: FakeUser) -> dict[str, Any]:
    return {
        "id": str(app_id),
        "name": "threadbot",
        "icon": None,
        "description": "",
        "bot_public": True,
        "bot_require_code_grant": False,
        "owner": owner.payload(),
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
        "summary": "",
        "interactions_endpoint_url": None,
    }


def json_response(
    data: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly application/json (no charset).
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
