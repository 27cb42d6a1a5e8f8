"""What is chosen per conversation, channel or server: the persona and the model. The most
specific choice wins: conversation, then the channel the thread is in, then the server, then
the operator's default. Discord-free; ids in, plain values out."""

from __future__ import annotations

from dataclasses import dataclass

from .store import Conversation, ModelScope, PersonaScope, Store

SCOPES = ("conversation", "channel", "server")  # "kind" in the methods below


@dataclass(frozen=True, slots=True)
class Chosen:
    value: str
    source: str  # "conversation", "channel", "server" or "default"


class Choices:
    def __init__(self, store: Store, *, default_persona: str, default_model: str) -> None:
        self.store = store
        self.default_persona = default_persona
        self.default_model = default_model

    async def persona(self, conversation: Conversation) -> Chosen:
        """The persona in effect for a conversation."""
        return await self.resolve_persona(
            own=conversation.persona,
            channel_id=conversation.parent_id,
            guild_id=conversation.guild_id,
        )

    async def resolve_persona(
        self, *, own: str | None, channel_id: int | None, guild_id: int | None
    ) -> Chosen:
        if own:
            return Chosen(own, "conversation")
        if channel_id is not None:
            text = await self.store.get_default_persona(PersonaScope.CHANNEL, channel_id)
            if text:
                return Chosen(text, "channel")
        if guild_id is not None:
            text = await self.store.get_default_persona(PersonaScope.GUILD, guild_id)
            if text:
                return Chosen(text, "server")
        return Chosen(self.default_persona, "default")

    async def set_persona(self, kind: str, scope_id: int, text: str | None) -> None:
        """``kind``: "conversation" (``scope_id`` the conversation), "channel" or "server"."""
        if kind == "conversation":
            await self.store.set_conversation_persona(scope_id, text)
        else:
            scope = PersonaScope.CHANNEL if kind == "channel" else PersonaScope.GUILD
            await self.store.set_default_persona(scope, scope_id, text)

    async def model(self, conversation: Conversation) -> Chosen:
        """The model a conversation's replies use."""
        return await self.resolve_model(
            conversation_id=conversation.id,
            channel_id=conversation.parent_id,
            guild_id=conversation.guild_id,
        )

    async def resolve_model(
        self, *, conversation_id: int | None, channel_id: int | None, guild_id: int | None
    ) -> Chosen:
        for kind, scope, scope_id in (
            ("conversation", ModelScope.CONVERSATION, conversation_id),
            ("channel", ModelScope.CHANNEL, channel_id),
            ("server", ModelScope.GUILD, guild_id),
        ):
            if scope_id is not None and (name := await self.store.get_model(scope, scope_id)):
                return Chosen(name, kind)
        return Chosen(self.default_model, "default")

    async def set_model(self, kind: str, scope_id: int, name: str | None) -> None:
        scope = {"conversation": ModelScope.CONVERSATION, "channel": ModelScope.CHANNEL}.get(
            kind, ModelScope.GUILD
        )
        await self.store.set_model(scope, scope_id, name)
