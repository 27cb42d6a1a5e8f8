"""The REST routes of the fake Discord that the bot uses."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .discord_payloads import (
    application_payload,
    json_response,
    message_payload,
    now_iso,
    snowflake,
    snowflake_age,
)

if TYPE_CHECKING:
    from .discord_server import FakeDiscord

NOT_FOUND = {"message": "Unknown Message", "code": 10008}
MISSING_ACCESS = {"message": "Missing Access", "code": 50001}
TOKEN_LIFETIME = 15 * 60.0  # seconds an interaction's token (its webhook) works
FOLLOWUP_LIMIT = 5  # follow-ups a user-installed app may send for one interaction
TOO_MANY_FOLLOWUPS = {
    "message": "This interaction has hit the maximum number of follow up messages",
    "code": 40094,
}


def _not_found() -> web.Response:
    return json_response(NOT_FOUND, 404)


async def handle(
    fake: FakeDiscord, method: str, path: str, body: Any, query: dict[str, str] | None = None
) -> Any:
    parts = path.strip("/").split("/")
    route = (method, re.sub(r"\d{5,}", "#", path))
    if route == ("GET", "/users/@me"):
        return fake.bot_user.payload()
    if route == ("GET", "/oauth2/applications/@me"):
        return application_payload(fake.app_id, fake.owner)
    if route == ("GET", "/gateway/bot"):
        return {
            "url": fake.gateway_url,
            "shards": 1,
            "session_start_limit": {
                "total": 1000,
                "remaining": 1000,
                "reset_after": 0,
                "max_concurrency": 1,
            },
        }
    if method in ("PUT", "GET") and parts[0] == "applications" and parts[-1] == "commands":
        key = "/".join(parts[2:-1]) or "global"
        if method == "PUT":
            fake.commands[key] = [
                {
                    "description": "",
                    **c,
                    "id": str(snowflake()),  # "" for a context menu
                    "application_id": str(fake.app_id),
                    "version": "1",
                }
                for c in body
            ]
        return fake.commands.get(key, [])
    if route == ("DELETE", "/users/@me/guilds/#"):  # the bot leaves a server
        fake.left_guilds.append(int(parts[-1]))
        return None
    if route == ("GET", "/guilds/#/members/#"):  # a member, found by id
        guild = fake.guilds.get(int(parts[1]))
        if guild is None or not guild.has_bot:
            return json_response(MISSING_ACCESS, 403)
        user = guild.members.get(int(parts[3]))
        if user is None:
            return json_response({"message": "Unknown Member", "code": 10007}, 404)
        return guild.member_payload(user)
    if parts[0] == "channels" and not _bot_may_see(fake, int(parts[1])):
        return json_response(MISSING_ACCESS, 403)  # other people's DMs, servers without it
    if route == ("POST", "/channels/#/typing"):
        return None
    if route == ("GET", "/channels/#"):
        channel = fake.channels.get(int(parts[1]))
        return channel if channel is not None else _not_found()
    if route == ("POST", "/channels/#/messages"):
        return await _send(fake, int(parts[1]), body, fake.bot_user)
    if route == ("GET", "/channels/#/messages"):  # newest first, like Discord
        query = query or {}
        after, limit = int(query.get("after", 0)), int(query.get("limit", 50))
        found = [m for m in reversed(fake.messages[int(parts[1])]) if int(m["id"]) > after]
        return found[-limit:] if after else found[:limit]
    if route == ("GET", "/channels/#/messages/#"):
        message = _find(fake, int(parts[1]), int(parts[3]))
        return message if message is not None else _not_found()
    if route in (("PATCH", "/channels/#/messages/#"), ("DELETE", "/channels/#/messages/#")):
        return await _edit_or_delete(fake, method, int(parts[1]), int(parts[3]), body)
    if route == ("POST", "/channels/#/messages/#/threads"):
        return await _start_thread(fake, int(parts[1]), int(parts[3]), body)
    if parts[0] == "interactions" and parts[-1] == "callback":
        return await _interaction_callback(fake, parts[1], parts[2], body)
    if parts[0] == "webhooks":
        return await _followup(fake, method, parts, body)
    return json_response({"message": f"fake Discord has no route {method} {path}", "code": 0}, 404)


def _bot_may_see(fake: FakeDiscord, channel_id: int) -> bool:
    guild = fake.guild_of(channel_id)
    return channel_id not in fake.private_channels and (guild is None or guild.has_bot)


def _find(fake: FakeDiscord, channel_id: int, message_id: int) -> dict[str, Any] | None:
    return next((m for m in fake.messages[channel_id] if int(m["id"]) == message_id), None)


async def _send(fake: FakeDiscord, channel_id: int, body: dict[str, Any], author) -> Any:
    if channel_id not in fake.channels:
        return _not_found()
    message = message_payload(
        message_id=snowflake(),
        channel_id=channel_id,
        guild=fake.guild_of(channel_id),
        author=author,
        content=body.get("content") or "",
        components=body.get("components"),
    )
    message["allowed_mentions"] = body.get("allowed_mentions")
    message["flags"] = body.get("flags") or 0
    uploads = body.pop("_uploads", {})
    for attachment in body.get("attachments") or []:  # as Discord keeps an upload
        data = uploads.get(f"files[{attachment['id']}]", b"")
        stored_id = snowflake()
        name = f"{stored_id}-{attachment['filename']}"
        fake.files[name] = data
        url = f"http://127.0.0.1:{fake.port}/attachments/{name}"
        message["attachments"].append({
            **{k: v for k, v in attachment.items() if k != "id"}, "id": str(stored_id),
            "size": len(data), "url": url, "proxy_url": url,
        })  # fmt: skip
    message["created_at"] = time.monotonic()  # for benchmarks: when Discord got it
    fake.changed_at[int(message["id"])].append(message["created_at"])
    if body.get("message_reference"):
        message["message_reference"] = body["message_reference"]
        message["type"] = 19
    fake.messages[channel_id].append(message)
    await fake.dispatch("MESSAGE_CREATE", message)
    return message


async def _edit_or_delete(
    fake: FakeDiscord, method: str, channel_id: int, message_id: int, body: Any
) -> Any:
    message = _find(fake, channel_id, message_id)
    if message is None:
        return _not_found()
    if method == "DELETE":
        fake.messages[channel_id].remove(message)
        return None
    for key in ("content", "components", "allowed_mentions"):
        if key in body:
            message[key] = (
                body[key] if body[key] is not None else ([] if key == "components" else None)
            )
    message["edited_timestamp"] = now_iso()
    fake.changed_at[message_id].append(time.monotonic())
    message.setdefault("edits", 0)
    message["edits"] += 1
    await fake.dispatch("MESSAGE_UPDATE", message)
    return message


async def _start_thread(fake: FakeDiscord, channel_id: int, message_id: int, body: Any) -> Any:
    parent = fake.channels.get(channel_id)
    if parent is None or _find(fake, channel_id, message_id) is None:
        return _not_found()
    if message_id in fake.channels:  # as on Discord: one thread per message
        error = {"message": "A thread has already been created for this message", "code": 160004}
        return json_response(error, 400)
    thread = {
        "id": str(message_id),  # as on Discord, a thread started from a message shares its id
        "type": 11,
        "guild_id": parent["guild_id"],
        "parent_id": str(channel_id),
        "owner_id": str(fake.bot_user.id),
        "name": body["name"],
        "last_message_id": None,
        "message_count": 0,
        "member_count": 1,
        "rate_limit_per_user": 0,
        "flags": 0,
        "thread_metadata": {
            "archived": False,
            "auto_archive_duration": body.get("auto_archive_duration", 1440),
            "archive_timestamp": now_iso(),
            "locked": False,
        },
    }
    fake.channels[message_id] = thread
    await fake.dispatch("THREAD_CREATE", {**thread, "newly_created": True})
    return thread


def _interaction_message(
    fake: FakeDiscord, token: str, body: dict[str, Any], *, original: bool = False
) -> dict[str, Any]:
    """A message posted in answer to an interaction (its response, or a follow-up), kept in
    its channel like any other."""
    channel_id = fake.interaction_channels.get(token, 0)
    message = message_payload(
        message_id=snowflake(), channel_id=channel_id, guild=fake.guild_of(channel_id),
        author=fake.bot_user, content=body.get("content") or "", components=body.get("components"),
    )  # fmt: skip
    message["flags"] = body.get("flags") or 0
    message["interaction_token"] = token
    message["interaction_original"] = original
    message["allowed_mentions"] = body.get("allowed_mentions")
    ephemeral = bool(message["flags"] & 64)  # seen only by the user, not in the channel
    (fake.ephemeral if ephemeral else fake.messages)[channel_id].append(message)
    return message


async def _interaction_callback(fake: FakeDiscord, interaction_id: str, token: str, body: Any):
    fake.interaction_responses.append({"token": token, **body})
    data = body.get("data") or {}
    response: dict[str, Any] = {
        "interaction": {
            "id": interaction_id,
            "type": body["type"],
            "response_message_loading": body["type"] == 5,
            "response_message_ephemeral": bool((data.get("flags") or 0) & 64),
        }
    }
    if body["type"] == 4:  # a message in the channel
        message = _interaction_message(fake, token, data, original=True)
        response["interaction"]["response_message_id"] = message["id"]
        response["resource"] = {"type": 4, "message": message}
    pressed = (fake.interactions.get(token) or {}).get("message")
    if body["type"] == 7 and pressed is not None:  # the pressed component's message, updated
        pressed.update({k: data[k] for k in ("content", "components") if k in data})
    return response


def _messages_of(fake: FakeDiscord, token: str) -> list[dict[str, Any]]:
    """The interaction's response and follow-ups, oldest first."""
    stores = (fake.messages, fake.ephemeral)
    found = [m for store in stores for ms in store.values() for m in ms]
    return sorted(
        (m for m in found if m.get("interaction_token") == token), key=lambda m: int(m["id"])
    )


async def _followup(fake: FakeDiscord, method: str, parts: list[str], body: Any) -> Any:
    """/webhooks/{app}/{token}: POST a follow-up; .../messages/{id or @original}: GET, PATCH
    or DELETE the response or a follow-up. The token works for 15 minutes; a user-installed
    app (no server install among the interaction's owners) gets 5 follow-ups."""
    token = parts[2]
    fake.interaction_responses.append({"token": token, "followup": method, **(body or {})})
    interaction = fake.interactions.get(token)
    if interaction is None or snowflake_age(int(interaction["id"])) > TOKEN_LIFETIME:
        return json_response({"message": "Invalid Webhook Token", "code": 50027}, 401)
    mine = _messages_of(fake, token)
    if len(parts) == 3:  # a new follow-up
        user_installed = "0" not in interaction["authorizing_integration_owners"]
        followups = [m for m in mine if not m["interaction_original"]]
        if user_installed and len(followups) >= FOLLOWUP_LIMIT:
            return json_response(TOO_MANY_FOLLOWUPS, 400)
        return _interaction_message(fake, token, body or {})
    wanted = parts[4]
    message = next(
        (m for m in mine if (m["interaction_original"] if wanted == "@original" else
                             m["id"] == wanted)), None,
    )  # fmt: skip
    if message is None:
        return _not_found()
    if method == "DELETE":
        for store in (fake.messages, fake.ephemeral):
            if message in store[int(message["channel_id"])]:
                store[int(message["channel_id"])].remove(message)
        return None
    if method == "PATCH":
        for key in ("content", "components", "allowed_mentions"):
            if key in body:
                message[key] = body[key] if body[key] is not None or key != "components" else []
        message["edits"] = message.get("edits", 0) + 1
        message["edited_timestamp"] = now_iso()
    return message
