"""A fake Discord (gateway websocket + REST) on 127.0.0.1 for the real discord.py client.

It keeps every channel's messages, records every request with a timestamp, can be told to fail a
route, and models two of Discord's rate limits, answering with the 429s discord.py honours (they
carry a ``Via`` header, as Cloudflare's do; discord.py treats a 429 without one as a ban):

* per channel, more than 5 edits in 5 s;
* the global limit: at most ``global_limit`` (50) REST requests in any sliding one-second window,
  interaction callbacks and webhooks (``/interactions/``, ``/webhooks/``) exempt. Every request
  that gets past this limit counts, whatever the route answers; one refused by it does not.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import json
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .discord_payloads import (
    FakeGuild,
    FakeUser,
    json_response,
    message_payload,
    now_iso,
    snowflake,
)
from .discord_routes import handle
from .serving import serve

EDIT_LIMIT = 5
EDIT_WINDOW = 5.0
GLOBAL_LIMIT = 50  # REST requests per bot token in any one-second window
GLOBAL_WINDOW = 1.0
GLOBAL_EXEMPT = ("/interactions/", "/webhooks/")  # token in the URL; no global limit


@dataclass
class Recorded:
    method: str
    path: str
    body: Any
    at: float
    status: int = 0  # the status the fake answered with
    counted: bool = False  # a REST request that counts against the global limit


@dataclass
class Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float = 1.0


VOICE_MESSAGE = 1 << 13  # a message's flag: it is a voice message


@dataclass
class FakeDiscord:
    token: str = "fake-discord-token"
    reject_intents: bool = False  # close the gateway with 4014, as when the intent is off
    requests: list[Recorded] = field(default_factory=list)
    messages: dict[int, list[dict[str, Any]]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    ephemeral: dict[int, list[dict[str, Any]]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    channels: dict[int, dict[str, Any]] = field(default_factory=dict)
    guilds: dict[int, FakeGuild] = field(default_factory=dict)
    interaction_responses: list[dict[str, Any]] = field(default_factory=list)
    interaction_channels: dict[str, int] = field(default_factory=dict)  # token -> channel
    interactions: dict[str, dict[str, Any]] = field(default_factory=dict)  # token -> payload
    # DMs between people and group DMs: the bot is in none of them (403 on its REST calls);
    # only a user-installed app's interactions reach them.
    private_channels: dict[int, dict[str, Any]] = field(default_factory=dict)
    commands: dict[str, list[Any]] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)  # attachments, served by the fake CDN
    # For benchmarks: message id -> when each post and edit of it was handled (time.monotonic(),
    # as a message's "created_at"), kept out of the payloads.
    changed_at: dict[int, list[float]] = field(
        default_factory=lambda: collections.defaultdict(list)
    )
    global_limit: int = GLOBAL_LIMIT
    enforce_global_limit: bool = True  # False: never answer a global 429
    clock: Callable[[], float] = time.monotonic  # request times and both rate limits
    edit_429s: int = 0
    left_guilds: list[int] = field(default_factory=list)  # servers the bot left
    global_429s: int = 0
    all_429s: int = 0

    def __post_init__(self) -> None:
        self.bot_user = FakeUser(snowflake(), "threadbot", bot=True)
        self.owner = FakeUser(snowflake(), "owner")
        self.app_id = self.bot_user.id
        self._faults: list[Fault] = []
        self._holds: list[tuple[str, re.Pattern[str], asyncio.Event]] = []
        self._shards: dict[web.WebSocketResponse, tuple[int, int]] = {}  # socket -> shard
        self.identified: list[tuple[int, int]] = []  # (shard id, count) of each IDENTIFY
        self._edits: dict[int, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self._global: collections.deque[float] = collections.deque()  # admitted, last window
        self._sockets: list[web.WebSocketResponse] = []
        self._seq = 0
        self._changed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/", self._gateway)
        app.router.add_get("/attachments/{name}", self._attachment)
        app.router.add_route("*", "/api/v10/{tail:.*}", self._rest)
        self._runner, self.port = await serve(app)

    async def stop(self) -> None:
        for _, _, gate in self._holds:
            gate.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    # -- world building -------------------------------------------------------------------------

    def add_guild(self, name: str = "Guild", *, has_bot: bool = True) -> FakeGuild:
        """A server; without the bot (``has_bot=False``), the gateway never tells the bot of
        it, its REST calls there are refused, and only user installs of the app reach it."""
        guild = FakeGuild(snowflake(), name, self.owner.id, has_bot=has_bot)
        if has_bot:
            guild.members[self.bot_user.id] = self.bot_user
        guild.members[self.owner.id] = self.owner
        self.guilds[guild.id] = guild
        return guild

    def add_channel(self, guild: FakeGuild, name: str = "general") -> int:
        channel_id = guild.add_text_channel(name)
        self.channels[channel_id] = guild.channels[channel_id]
        return channel_id

    def add_dm(self, user: FakeUser) -> int:
        """A direct-message channel between ``user`` and the bot."""
        channel_id = snowflake()
        self.channels[channel_id] = {
            "id": str(channel_id), "type": 1, "last_message_id": None,
            "recipients": [user.payload()],
        }  # fmt: skip
        return channel_id

    def add_group_dm(self, *users: FakeUser) -> int:
        """A group DM of ``users`` (channel type 3), without the bot."""
        channel_id = snowflake()
        self.private_channels[channel_id] = {
            "id": str(channel_id), "type": 3, "last_message_id": None, "name": None,
            "icon": None, "owner_id": str(users[0].id), "recipients": [u.payload() for u in users],
        }  # fmt: skip
        return channel_id

    def add_private_dm(self, user: FakeUser, other: FakeUser) -> int:
        """A DM between two people (channel type 1, as ``user`` sees it), without the bot."""
        channel_id = snowflake()
        self.private_channels[channel_id] = {
            "id": str(channel_id), "type": 1, "last_message_id": None,
            "recipients": [other.payload()],
        }  # fmt: skip
        return channel_id

    def add_member(self, guild: FakeGuild, name: str, permissions: int = 0) -> FakeUser:
        user = FakeUser(snowflake(), name, permissions=permissions)
        guild.members[user.id] = user
        return user

    def add_role(self, guild: FakeGuild, name: str, *members: FakeUser) -> int:
        """A role in ``guild``, held by ``members``."""
        role = snowflake()
        guild.roles[role] = name
        for member in members:
            guild.member_roles.setdefault(member.id, []).append(role)
        return role

    async def bot_joins(self, guild: FakeGuild) -> None:
        """The bot is added to ``guild`` (a server it was not in): GUILD_CREATE."""
        guild.has_bot = True
        guild.members[self.bot_user.id] = self.bot_user
        await self.dispatch("GUILD_CREATE", guild.payload())

    async def guild_unavailable(self, guild: FakeGuild) -> None:
        """An outage: GUILD_DELETE with ``unavailable``, the bot still a member."""
        await self.dispatch("GUILD_DELETE", {"id": str(guild.id), "unavailable": True})

    def guild_of(self, channel_id: int) -> FakeGuild | None:
        guild_id = self.channels.get(channel_id, {}).get("guild_id")
        return self.guilds.get(int(guild_id)) if guild_id else None

    def _bots_guilds(self) -> list[FakeGuild]:
        return [guild for guild in self.guilds.values() if guild.has_bot]

    def threads(self) -> list[dict[str, Any]]:
        return [c for c in self.channels.values() if c["type"] == 11]

    def fail(
        self, method: str, path: str, status: int, *, times: int = 1, retry_after: float = 1.0
    ):
        """Answer the next ``times`` requests matching ``method`` and the ``path`` regex with
        ``status`` (429s carry Discord's body and headers)."""
        self._faults.append(Fault(method, re.compile(path), status, times, retry_after))

    def hold(self, method: str, path: str) -> asyncio.Event:
        """Keep requests matching ``method`` and the ``path`` regex waiting until the returned
        event is set (a slow Discord)."""
        gate = asyncio.Event()
        self._holds.append((method, re.compile(path), gate))
        return gate

    # -- acting as users ------------------------------------------------------------------------

    async def user_says(
        self,
        channel_id: int,
        author: FakeUser,
        content: str,
        *,
        mention_bot: bool = False,
        mention_bot_role: bool = False,
        files: list[tuple[str, bytes, str | None]] = (),
        reply_to: dict[str, Any] | None = None,
        forward: dict[str, Any] | None = None,
        voice: tuple[bytes, float | None] | None = None,
    ) -> dict[str, Any]:
        """Post as a user; ``files`` are (filename, bytes, content type) attachments;
        ``reply_to`` a message this one replies to, ``forward`` a message it forwards;
        ``voice`` (OGG/Opus bytes, the length Discord states) makes it a voice message, as the
        mobile apps send one: flag 8192, no text, one ``voice-message.ogg`` attachment with
        ``duration_secs`` and ``waveform``."""
        if mention_bot:
            content = f"{self.bot_user.mention()} {content}".rstrip()
        guild = self.guild_of(channel_id)
        bot_role = guild.id + 1 if guild is not None else None  # the bot's managed role
        if mention_bot_role:
            content = f"<@&{bot_role}> {content}".rstrip()
        message = message_payload(
            message_id=snowflake(),
            channel_id=channel_id,
            guild=guild,
            author=author,
            content=content,
            mentions=[self.bot_user] if mention_bot else [],
            role_mentions=[bot_role] if mention_bot_role and bot_role else [],
        )
        for filename, data, content_type in files:
            attachment_id = snowflake()
            self.files[f"{attachment_id}-{filename}"] = data
            url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}-{filename}"
            message["attachments"].append({
                "id": str(attachment_id), "filename": filename, "size": len(data), "url": url,
                "proxy_url": url, "content_type": content_type,
            })  # fmt: skip
        if voice is not None:
            data, seconds = voice
            attachment_id = snowflake()
            self.files[f"{attachment_id}-voice-message.ogg"] = data
            url = f"http://127.0.0.1:{self.port}/attachments/{attachment_id}-voice-message.ogg"
            message["flags"] = message.get("flags", 0) | VOICE_MESSAGE
            message["attachments"].append({
                "id": str(attachment_id), "filename": "voice-message.ogg", "size": len(data),
                "url": url, "proxy_url": url, "content_type": "audio/ogg",
                "waveform": base64.b64encode(bytes(64)).decode(), "flags": 0,
                **({"duration_secs": seconds} if seconds is not None else {}),
            })  # fmt: skip
        if reply_to is not None:
            message.update(type=19, referenced_message=reply_to, message_reference={
                "type": 0, "message_id": reply_to["id"], "channel_id": reply_to["channel_id"],
            })  # fmt: skip
        if forward is not None:
            message["message_reference"] = {
                "type": 1, "message_id": forward["id"], "channel_id": forward["channel_id"],
            }  # fmt: skip
            snapshot = {k: forward[k] for k in ("type", "content", "embeds", "attachments",
                                                "timestamp", "edited_timestamp", "flags")}  # fmt: skip
            message["message_snapshots"] = [{"message": snapshot}]
        self.messages[channel_id].append(message)
        await self.dispatch("MESSAGE_CREATE", message)
        return message

    async def _attachment(self, request: web.Request) -> web.Response:
        self.requests.append(Recorded("GET", request.path, None, self.clock(), 200))
        data = self.files.get(request.match_info["name"])
        return web.Response(body=data) if data is not None else web.Response(status=404)

    async def user_edits(self, message: dict[str, Any], content: str) -> None:
        message.update(content=content, edited_timestamp=now_iso())
        await self.dispatch("MESSAGE_UPDATE", message)

    async def user_deletes(self, message: dict[str, Any]) -> None:
        channel_id = int(message["channel_id"])
        self.messages[channel_id].remove(message)
        data = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            data["guild_id"] = message["guild_id"]
        await self.dispatch("MESSAGE_DELETE", data)

    async def click(self, message: dict[str, Any], user: FakeUser, custom_id: str | None = None):
        """Press a button on ``message`` (the first one unless ``custom_id`` is given)."""
        buttons = [c for row in message["components"] for c in row["components"]]
        button = next(b for b in buttons if custom_id in (None, b["custom_id"]))
        data = {"custom_id": button["custom_id"], "component_type": 2}
        return await self._interaction(3, int(message["channel_id"]), user, data, message=message)

    async def invoke(
        self,
        channel_id: int,
        user: FakeUser,
        command: str,
        subcommand: str | None = None,
        *,
        locale: str = "en-US",
        seconds_ago: float = 0.0,
        **options: str | int | bool,
    ) -> str:
        """Use a slash command (``/persona set text:...``); returns the interaction token.
        ``seconds_ago``: the interaction was made that long ago (its token expires sooner)."""
        kinds = {str: 3, int: 4, bool: 5}
        values = [{"name": k, "type": kinds[type(v)], "value": v} for k, v in options.items()]
        if subcommand is not None:
            values = [{"name": subcommand, "type": 1, "options": values}]
        synced = [c for cs in self.commands.values() for c in cs if c["name"] == command]
        data = {
            "id": synced[0]["id"] if synced else str(snowflake()),
            "name": command,
            "type": 1,
            "options": values,
        }
        return await self._interaction(
            2, channel_id, user, data, locale=locale, id=str(snowflake(seconds_ago))
        )

    async def use_on_message(self, message: dict[str, Any], user: FakeUser, name: str) -> str:
        """Use a message's context-menu command (Apps → ``name``); returns the token."""
        synced = [c for cs in self.commands.values() for c in cs if c["name"] == name]
        data = {
            "id": synced[0]["id"] if synced else str(snowflake()), "name": name, "type": 3,
            "target_id": message["id"], "resolved": {"messages": {message["id"]: message}},
        }  # fmt: skip
        return await self._interaction(2, int(message["channel_id"]), user, data)

    async def autocomplete(
        self,
        channel_id: int,
        user: FakeUser,
        command: str,
        subcommand: str,
        option: str,
        typed: str,
    ) -> list[dict[str, Any]]:
        """Type ``typed`` into an option with autocomplete; the choices the bot offers."""
        values = [{"name": option, "type": 3, "value": typed, "focused": True}]
        synced = [c for cs in self.commands.values() for c in cs if c["name"] == command]
        data = {"id": synced[0]["id"] if synced else str(snowflake()), "name": command, "type": 1,
                "options": [{"name": subcommand, "type": 1, "options": values}]}  # fmt: skip
        token = await self._interaction(4, channel_id, user, data)
        (answer,) = await self.wait_for(lambda: self.responses_to(token))
        return answer["data"]["choices"]

    async def submit_modal(self, token: str, user: FakeUser, values: dict[str, str]) -> str:
        """Submit the modal that the interaction ``token`` was answered with."""
        modal = next(
            r["data"] for r in self.interaction_responses if r["token"] == token and r["type"] == 9
        )
        rows = [
            {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
            for k, v in values.items()
        ]
        data = {"custom_id": modal["custom_id"], "components": rows}
        return await self._interaction(5, self.interaction_channels[token], user, data)

    def responses_to(self, token: str) -> list[dict[str, Any]]:
        """What the bot answered an interaction with (the callback, then any follow-ups)."""
        return [r for r in self.interaction_responses if r["token"] == token]

    async def _interaction(
        self, kind: int, channel_id: int, user: FakeUser, data: dict[str, Any], **extra: Any
    ) -> str:
        guild = self.guild_of(channel_id)
        private = self.private_channels.get(channel_id)
        # Where it was used (0 a server, 1 the bot's DM, 2 another DM or a group DM), and who
        # installed the app there (0: the server, or "0" in the bot's DM; 1: the user).
        context = 2 if private else 0 if guild is not None else 1
        owners = {"0": str(guild.id) if guild else "0"}
        if private or (guild is not None and not guild.has_bot):
            owners = {"1": str(user.id)}
        payload: dict[str, Any] = {
            "id": str(snowflake()),
            "application_id": str(self.app_id),
            "type": kind,
            "data": data,
            "channel_id": str(channel_id),
            "channel": private or self.channels.get(channel_id, {"id": str(channel_id), "type": 1}),
            "token": f"itoken-{snowflake()}",
            "version": 1,
            "locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": owners,
            "context": context,
            "attachment_size_limit": 26_214_400,
            "app_permissions": str((1 << 53) - 1),
            **extra,
        }
        if guild is not None:
            member = guild.member_payload(user)
            member["permissions"] = str(guild.permissions_of(user))
            payload.update(guild_id=str(guild.id), member=member, guild_locale=guild.locale)
        else:
            payload["user"] = user.payload()
        self.interaction_channels[payload["token"]] = channel_id
        self.interactions[payload["token"]] = payload
        await self.dispatch("INTERACTION_CREATE", payload)
        return payload["token"]

    # -- waiting --------------------------------------------------------------------------------

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Wait until ``predicate()`` is truthy; return its value. Re-checked on every change here,
        and every 20 ms for predicates about the bot's own state."""
        async with asyncio.timeout(timeout), self._changed:
            while not (result := predicate()):
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.02)
            return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def bot_messages(self, channel_id: int) -> list[dict[str, Any]]:
        return [m for m in self.messages[channel_id] if int(m["author"]["id"]) == self.bot_user.id]

    def peak_requests(self, window: float = GLOBAL_WINDOW) -> int:
        """The most requests that count against the global limit (refused ones included) that
        arrived within any ``window`` seconds: what the bot sent at its busiest, for benchmarks
        and for checking a pacer, which the limit itself would hide."""
        times = sorted(r.at for r in self.requests if r.counted)
        most = first = 0
        for last, at in enumerate(times):
            while at - times[first] >= window:
                first += 1
            most = max(most, last - first + 1)
        return most

    # -- gateway --------------------------------------------------------------------------------

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send an event to the shard that owns it, as Discord routes them: a guild's events
        to shard ``(guild_id >> 22) % shard_count``, DMs to shard 0."""
        self._seq += 1
        frame = json.dumps({"op": 0, "t": event, "s": self._seq, "d": data})
        guild_id = data.get("id") if event.startswith("GUILD_") else data.get("guild_id")
        for ws in list(self._sockets):
            if not ws.closed and self._owns(ws, int(guild_id) if guild_id else None):
                await ws.send_str(frame)
        await self._notify()

    def _owns(self, ws: web.WebSocketResponse, guild_id: int | None) -> bool:
        shard = self._shards.get(ws)
        if shard is None:  # not sharded: every event
            return True
        shard_id, count = shard
        return shard_id == (0 if guild_id is None else (guild_id >> 22) % count)

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            payload = json.loads(frame.data)
            if payload["op"] == 1:
                await ws.send_json({"op": 11})
            elif payload["op"] == 2:
                if self.reject_intents:
                    await ws.close(code=4014, message=b"Disallowed intent(s).")
                    break
                self._sockets.append(ws)
                shard = payload["d"].get("shard")
                if shard is not None:
                    self._shards[ws] = (int(shard[0]), int(shard[1]))
                    self.identified.append((int(shard[0]), int(shard[1])))
                await self._ready(ws)
        if ws in self._sockets:
            self._sockets.remove(ws)
        self._shards.pop(ws, None)
        return ws

    async def _ready(self, ws: web.WebSocketResponse) -> None:
        self._seq += 1
        ready = {
            "v": 10,
            "user": self.bot_user.payload(),
            "guilds": [
                {"id": str(g.id), "unavailable": True}
                for g in self._bots_guilds()
                if self._owns(ws, g.id)
            ],
            "session_id": "fake-session",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.app_id), "flags": 0},
        }
        if shard := self._shards.get(ws):
            ready["shard"] = list(shard)
        await ws.send_json({"op": 0, "t": "READY", "s": self._seq, "d": ready})
        for guild in self._bots_guilds():
            if not self._owns(ws, guild.id):
                continue
            self._seq += 1
            await ws.send_json({"op": 0, "t": "GUILD_CREATE", "s": self._seq, "d": guild.payload()})
        await self._notify()

    # -- REST -----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.Response:
        path = "/" + request.match_info["tail"]
        uploads: dict[str, bytes] = {}
        if request.content_type.startswith("multipart/"):  # files: a payload_json part beside
            body = None
            form = await request.post()
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(str(value))
                elif isinstance(value, web.FileField):
                    uploads[name] = value.file.read()
            if isinstance(body, dict):
                body["_uploads"] = uploads  # files[n] -> bytes, for the route to attach
        else:
            body = await request.json() if request.can_read_body else None
        counted = not path.startswith(GLOBAL_EXEMPT)
        record = Recorded(request.method, path, body, self.clock(), counted=counted)
        self.requests.append(record)
        try:
            response = await self._answer(request, record)
            record.status = response.status
            return response
        finally:
            await self._notify()

    async def _answer(self, request: web.Request, record: Recorded) -> web.Response:
        path, body = record.path, record.body
        webhook = not record.counted  # /interactions/, /webhooks/: the token is in the URL
        if not webhook and request.headers.get("Authorization") != f"Bot {self.token}":
            return json_response({"message": "401: Unauthorized", "code": 0}, 401)
        for method, pattern, gate in self._holds:
            if method == request.method and pattern.search(path):
                await gate.wait()
        if record.counted and self.enforce_global_limit:
            limited = self._global_limit(record.at)
            if limited is not None:
                return limited
        fault = self._fault(request.method, path)
        if fault is not None:
            return fault
        if request.method == "PATCH" and re.fullmatch(r"/channels/\d+/messages/\d+", path):
            limited = self._edit_limit(int(path.split("/")[2]), record.at)
            if limited is not None:
                return limited
        result = await handle(self, request.method, path, body, dict(request.query))
        if result is None:
            return web.Response(status=204)
        if isinstance(result, web.Response):
            return result
        return json_response(result)

    def _fault(self, method: str, path: str) -> web.Response | None:
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.pattern.search(path):
                fault.times -= 1
                if fault.status == 429:
                    return self._too_many(fault.retry_after)
                return json_response({"message": "Server error", "code": 0}, fault.status)
        return None

    def _global_limit(self, now: float) -> web.Response | None:
        """A sliding-window log: the (limit+1)-th request within one second is refused until
        the oldest admitted one leaves the window, and ``retry_after`` says when (rounded up to
        the millisecond, so that a retry at that moment may go)."""
        window = self._global
        while window and now - window[0] >= GLOBAL_WINDOW:
            window.popleft()
        if len(window) < self.global_limit:
            window.append(now)
            return None
        self.global_429s += 1
        self.all_429s += 1
        retry_after = math.ceil((window[0] + GLOBAL_WINDOW - now) * 1000 - 1e-6) / 1000
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": True,
        }
        headers = {  # as Discord documents them: no bucket headers on a global limit
            "Via": "1.1 google",
            "Retry-After": str(math.ceil(retry_after)),
            "X-RateLimit-Global": "true",
            "X-RateLimit-Scope": "global",
        }
        return json_response(body, 429, headers)

    def _edit_limit(self, channel_id: int, now: float) -> web.Response | None:
        window = self._edits[channel_id]
        while window and now - window[0] > EDIT_WINDOW:
            window.popleft()
        if len(window) >= EDIT_LIMIT:
            self.edit_429s += 1
            return self._too_many(round(EDIT_WINDOW - (now - window[0]), 3))
        window.append(now)
        return None

    def _too_many(self, retry_after: float) -> web.Response:
        self.all_429s += 1
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": str(EDIT_LIMIT),
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "user",
        }
        return json_response(body, 429, headers)
