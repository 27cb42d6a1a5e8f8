"""What is chosen per conversation, channel or server: the persona and the model. The most
specific choice wins: conversation, then the channel the thread is in, then the server, then
the operator's default. Discord-free; ids in, plain values out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.core.store import Conversation, Scope, ScopedChoices, Store

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
