"""What is chosen per conversation, channel or server: the persona, the model, and which tool
servers are on. The most specific choice wins: conversation, then the channel the thread is in,
then the server, then the operator's default. Discord-free; ids in, plain values out."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.policy import Kind, Place
from bot.core.store import Conversation, Scope, ScopedChoices, Store, ToolSwitches
from bot.core.toolbox import Switch

if TYPE_CHECKING:
    from bot.core.models import Models


@dataclass(frozen=True, slots=True)
class Chosen:
    value: str
    source: Scope | None  # where it was chosen; None: the operator's default
    ignored: str | None = None  # a more specific choice that may no longer answer (a model)


class Choices:
    def __init__(self, store: Store, *, default_persona: str, models: Models) -> None:
        self.store = store
        self.default_persona = default_persona
        self.models = models  # the model in effect is Models.effective's answer

    async def for_conversation(self, conversation: Conversation) -> tuple[Chosen, Chosen]:
        """The persona and the model in effect for a conversation, with one query."""
        scoped = await self._scoped(conversation.id, conversation.parent_id, conversation.guild_id)
        return self._persona(conversation.persona, scoped), self.models.effective(scoped)

    async def for_reply(self, conversation: Conversation) -> tuple[Chosen, Chosen, bool]:
        """The persona, the model, and whether the reply is read out (/voice), in one query."""
        scoped = await self._scoped(conversation.id, conversation.parent_id, conversation.guild_id)
        persona, model = self._persona(conversation.persona, scoped), self.models.effective(scoped)
        return persona, model, voiced(scoped)[0]

    async def voice_for(self, conversation: Conversation) -> tuple[bool, Scope | None]:
        """Whether replies here are read out, and where that was chosen (None: nowhere)."""
        scoped = await self._scoped(conversation.id, conversation.parent_id, conversation.guild_id)
        return voiced(scoped)

    async def set_voice(self, scope: Scope, scope_id: int, on: bool | None) -> None:
        await self.store.set_voice(scope, scope_id, on)

    async def for_place(
        self, *, channel_id: int | None, guild_id: int | None
    ) -> tuple[Chosen, Chosen]:
        """The persona and the model a new conversation would start with here."""
        scoped = await self._scoped(None, channel_id, guild_id)
        return self._persona(None, scoped), self.models.effective(scoped)

    def _persona(self, own: str | None, scoped: ScopedChoices) -> Chosen:
        for text, source in (
            (own, Scope.CONVERSATION),
            (scoped.channel_persona, Scope.CHANNEL),
            (scoped.guild_persona, Scope.GUILD),
        ):
            if text:
                return Chosen(text, source)
        return Chosen(self.default_persona, None)

    async def set_persona(self, scope: Scope, scope_id: int, text: str | None) -> None:
        """``scope_id``: the conversation's, the channel's or the server's id."""
        if scope is Scope.CONVERSATION:
            await self.store.set_conversation_persona(scope_id, text)
        else:
            await self.store.set_default_persona(scope, scope_id, text)

    async def _scoped(
        self, conversation_id: int | None, channel_id: int | None, guild_id: int | None
    ) -> ScopedChoices:
        return await self.store.get_choices(
            conversation_id=conversation_id, channel_id=channel_id, guild_id=guild_id
        )

    async def set_model(self, scope: Scope, scope_id: int, name: str | None) -> None:
        await self.store.set_model(scope, scope_id, name)

    async def tool_switches(self, place: Place, defaults: Mapping[str, bool]) -> dict[str, Switch]:
        """Whether each tool server (name: on by the operator's default) is on here: the
        :data:`bot.core.toolbox.Switches` of the toolbox. One query, none outside servers."""
        channel_id, guild_id = switch_scopes(place)
        if channel_id is None and guild_id is None:
            return switched(defaults, ToolSwitches())
        stored = await self.store.tool_switches(channel_id=channel_id, guild_id=guild_id)
        return switched(defaults, stored)

    async def set_tool_switch(
        self, scope: Scope, scope_id: int, server: str, on: bool | None
    ) -> None:
        """Turn a server on or off for a channel or a server (None: back to the scope above)."""
        await self.store.set_tool_switch(scope, scope_id, server, on)


def switch_scopes(place: Place) -> tuple[int | None, int | None]:
    """The channel and the server whose tool switches apply in ``place``: a thread follows its
    channel's; outside servers the bot is in (DMs, places reached only by /chat), none."""
    if place.guild_id is None or place.absent:
        return None, None
    thread = place.kind is Kind.THREAD and place.parent_id is not None
    return (place.parent_id if thread else place.channel_id), place.guild_id


def switched(defaults: Mapping[str, bool], stored: ToolSwitches) -> dict[str, Switch]:
    """Each server's state: the channel's switch, else the server's, else the operator's
    default (``enabled`` in MCP_CONFIG); in the order of ``defaults``."""
    states = {}
    for server, default in defaults.items():
        if server in stored.channel:
            states[server] = Switch(stored.channel[server], Scope.CHANNEL)
        elif server in stored.guild:
            states[server] = Switch(stored.guild[server], Scope.GUILD)
        else:
            states[server] = Switch(default)
    return states


def voiced(scoped: ScopedChoices) -> tuple[bool, Scope | None]:
    """Whether replies are read out: the conversation's choice, else its channel's, else the
    server's; off unless chosen somewhere."""
    for on, source in (
        (scoped.conversation_voice, Scope.CONVERSATION),
        (scoped.channel_voice, Scope.CHANNEL),
        (scoped.guild_voice, Scope.GUILD),
    ):
        if on is not None:
            return on, source
    return False, None
