"""Which channels are conversations, in memory, so that messages not for the bot cost nothing.

Bounded: it holds up to ``capacity`` ids. While the store has no more conversations than that,
the index is complete and a miss is a sure "no". Past it, a miss is "unknown" (the caller asks
the store once) and the answers are remembered in a bounded LRU.

Only conversations that messages reach are in it: a place reached only through a user-installed
app's /chat (``Conversation.via_interaction``) is stored under its channel's id, like a DM, but
the index says "no" for it, so ``on_message`` never answers there, even once the bot joins that
server. A column rather than a key space of its own: the id stays the channel's, so deleting
the channel, /forget and retention find it as they find any other, and a thread's owner who
later mentions the bot there adopts it as an ordinary conversation (the store flips it).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

CAPACITY = 200_000  # about 20 MB of ints and set slots at the most


class ConversationIndex:
    def __init__(self, capacity: int = CAPACITY) -> None:
        self.capacity = capacity
        self.complete = True  # every conversation in the store is in ``_known``
        self._known: OrderedDict[int, bool] = OrderedDict()  # id -> is a conversation

    def load(self, ids: Iterable[int], *, complete: bool) -> None:
        """Fill from the store at start-up (the newest ids first)."""
        for conversation_id in ids:
            self._known[conversation_id] = True
            self._known.move_to_end(conversation_id, last=False)
        self.complete = complete

    def lookup(self, channel_id: int) -> bool | None:
        """True or False when known; None when only the store can tell."""
        found = self._known.get(channel_id)
        if found is not None:
            self._known.move_to_end(channel_id)
            return found
        return False if self.complete else None

    def remember(self, channel_id: int, is_conversation: bool) -> None:
        if not is_conversation and self.complete:
            return  # a complete index needs no negative entries
        self._known[channel_id] = is_conversation
        self._known.move_to_end(channel_id)
        while len(self._known) > self.capacity:
            _, evicted = self._known.popitem(last=False)
            if evicted:
                self.complete = False  # a conversation left memory: misses are unsure now

    def forget(self, channel_id: int) -> None:
        """It is no conversation any more (deleted, or the bot left it)."""
        if self.complete:
            self._known.pop(channel_id, None)
        else:
            self.remember(channel_id, False)

    def __len__(self) -> int:
        return len(self._known)
