"""Every user-facing text, in one place and every supported language: short, specific, and free
of secrets or raw API bodies.

English is the source: each text is written here once, inside ``self._(…)``, which looks it up
in the language's gettext catalog (``bot/locales/<lang>/LC_MESSAGES/messages.po``); a text
missing from a catalog falls back to English. ``pybabel extract -k _ -o messages.pot bot`` lists
them for translators. Placeholders are ``str.format`` fields, the same in every language.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import cache

from bot.core import i18n
from bot.core.discord_limits import MESSAGE_LIMIT
from bot.core.llm import Failure
from bot.core.ratelimit.base import Limit
from bot.core.refusal import Refusal
from bot.core.store import Scope, UsageTotals
from bot.core.toolbox import Offered

THINKING_EN = "*Thinking…*"


# Characters of a persona that /persona show quotes: with its heading, one message of MESSAGE_LIMIT.
PERSONA_QUOTED = MESSAGE_LIMIT - 200


class Texts:
    """The texts in one language; get one with :func:`for_locale`."""

    def __init__(self, language: str, gettext: Callable[[str], str]) -> None:
        self.language = language
        self._ = gettext

    # -- conversations and replies ------------------------------------------------------------

    @property
    def empty_mention(self) -> str:
        return self._("Hi! Mention me with a question, and I'll answer in a thread.")

    @property
    def thread_name_fallback(self) -> str:
        return self._("Chat")

    @property
    def thread_failed(self) -> str:
        return self._("I couldn't open a thread for this: Discord kept failing. Please try again.")

    @property
    def not_saved(self) -> str:
        return self._(
            "I couldn't save your message: my database is unreachable. Please send it again."
        )

    @property
    def not_answered(self) -> str:
        return self._(
            "I couldn't answer your message: my database is unreachable. Please send it again."
        )

    @property
    def discord_failed(self) -> str:
        return self._(
            "I couldn't show the rest of my reply: Discord kept failing. Please try again."
        )

    @property
    def stop_refused(self) -> str:
        return self._("Only the person who asked (or a moderator) can stop this reply.")

    @property
    def not_a_thread_channel(self) -> str:
        return self._(
            "I answer in threads, which this channel doesn't support. Try a text channel."
        )

    @property
    def stop_button(self) -> str:
        return self._("Stop")

    @property
    def reasoning_button(self) -> str:
        return self._("Reasoning")

    @property
    def reasoning_heading(self) -> str:
        return self._("The model's reasoning before this reply:")

    @property
    def no_reasoning(self) -> str:
        return self._("No reasoning was kept for this reply.")

    @property
    def cannot_see_images(self) -> str:
        return self._("*(this model can't see images: I read only the text)*")

    # -- tools ---------------------------------------------------------------------------------

    def tool_line(self, label: str, about: str, state: str, seconds: float) -> str:
        """One tool call while a reply runs (``state``: bot.core.replies.activity.State)."""
        head = f"🔧 **{label}**" + (f" — `{about}`" if about else "")
        took = self._("{seconds} s").format(seconds=f"{seconds:.1f}")
        ends = {
            "running": "…",
            "asking": self._("… waiting for your answer"),
            "done": f"✓ {took}",
            "failed": "✗ " + self._("failed after {took}").format(took=took),
            "refused": "✗ " + self._("not allowed"),
        }
        return f"{head} {ends.get(state, '…')}"

    def tool_lines_left_out(self, count: int) -> str:
        return self._("🔧 … and {count} earlier calls").format(count=count)

    def tools_footer(self, names: list[str]) -> str:
        """The line a finished reply keeps of the tools it used."""
        return "-# 🔧 " + self._("Used: {names}").format(names=", ".join(names))

    @property
    def tools_button(self) -> str:
        return self._("Tools")

    @property
    def tools_heading(self) -> str:
        return self._("The tools this reply used (their results are excerpts):")

    @property
    def no_tool_calls(self) -> str:
        return self._("No tool calls were kept for this reply.")

    def consent_question(self, user_id: int, label: str, server: str, arguments: str) -> str:
        """Asks the person who asked before a tool that acts runs."""
        return self._(
            "<@{user}>, the model wants to use **{tool}** (from {server}) with:\n{arguments}\n"
            "Allow it? Nothing runs until you answer; in a minute I take it as no."
        ).format(user=user_id, tool=label, server=server, arguments=arguments)

    @property
    def allow_button(self) -> str:
        return self._("Allow")

    @property
    def deny_button(self) -> str:
        return self._("Deny")

    @property
    def consent_only_asker(self) -> str:
        return self._("Only the person who asked can answer this.")

    def consent_answered(self, label: str, answer: str) -> str:
        """The question, once answered (``answer``: allowed, denied or timeout)."""
        said = {
            "allowed": self._("✅ **{tool}** allowed"),
            "denied": self._("❌ **{tool}** denied"),
            "timeout": self._("⌛ **{tool}**: no answer, so not run"),
        }
        return said.get(answer, said["timeout"]).format(tool=label)

    # -- Ask about this (a message's context menu) ----------------------------------------------

    @property
    def ask_title(self) -> str:
        return self._("Ask about this message")

    @property
    def ask_label(self) -> str:
        return self._("Your question")

    def asked_about(self, user: str, link: str, question: str) -> str:
        return self._("**{user}** asked about {link}: {question}").format(
            user=user, link=link, question=question
        )

    # -- voice messages -------------------------------------------------------------------------

    def heard(self, words: str) -> str:
        """The line above a reply to a recording: the start of what was heard, so a person sees
        when the transcript went wrong. Markdown in it is shown as typed."""
        return "🎙️ *" + re.sub(r"([\\*_`~|>#\[\]()<@])", r"\\\1", words) + "*"

    @property
    def speak_button(self) -> str:
        return self._("Speak")

    @property
    def speak_unavailable(self) -> str:
        return self._("This bot can't speak: no speech model is set up.")

    @property
    def speak_busy(self) -> str:
        return self._("I'm already reading replies out; please try again in a moment.")

    @property
    def speak_gone(self) -> str:
        return self._("That reply is no longer stored, so I can't read it out.")

    @property
    def speak_cut(self) -> str:
        """Said at the end of a reply read out only in part."""
        return self._("The rest is in the text.")

    def _speech_limits(self) -> dict[Refusal, str]:
        _ = self._
        return {
            Refusal.LIMITED: _("That's more speech than the limits allow right now; please "
                               "wait a minute."),
            Refusal.OVER_BUDGET: _("Today's spending budget is spent, so I can't do speech "
                                   "until it resets (midnight UTC)."),
            Refusal.UNPRICED: _("Speech is off: spending is capped, and the bot's operator "
                                "set no price for the speech model."),
        }  # fmt: skip

    def voice_set(self, scope: Scope, on: bool) -> str:
        if on:
            return self._("Replies are now read out as voice messages in {scope}.").format(
                scope=self._scope(scope)
            )
        return self._("Replies are no longer read out in {scope}.").format(scope=self._scope(scope))

    def voice_shown(self, on: bool, source: Scope | None) -> str:
        _ = self._
        state = _("Replies are read out here") if on else _("Replies are not read out here")
        return f"{state} ({self._chosen(source)})."

    def _chosen(self, source: Scope | None) -> str:
        """Where a model or voice choice in effect was made (None: nowhere, the default)."""
        _ = self._
        return {
            Scope.CONVERSATION: _("chosen for this conversation"),
            Scope.CHANNEL: _("this channel's choice"),
            Scope.GUILD: _("this server's choice"),
            None: _("the bot's default"),
        }[source]

    def speak_failed(self, reason: Refusal) -> str:
        if reason in (Refusal.LIMITED, Refusal.OVER_BUDGET, Refusal.UNPRICED):
            return "🔊 " + self._speech_limits()[reason]
        if reason is Refusal.BUSY:
            return "🔊 " + self.speak_busy
        if reason is Refusal.SPEECH_REFUSED:
            return "🔊 " + self._("The speech service refused to read that reply out.")
        return "🔊 " + self._("I couldn't read that reply out; please try again shortly.")

    def audio_refused(self, reason: Refusal, max_seconds: float) -> str:
        """Why a recording was not transcribed (:func:`bot.core.audio.hear`)."""
        _ = self._
        said = {
            Refusal.NO_SPEECH: _(
                "I can't listen to recordings here: no speech model is set up. Please type it."
            ),
            Refusal.TOO_LONG: _("That recording is too long for me: {limit} at most.").format(
                limit=self.duration(max_seconds)
            ),
            Refusal.BROKEN: _("I couldn't read that recording."),
            Refusal.BUSY: _("I'm busy with other recordings; please send it again in a minute."),
            Refusal.SPEECH_REFUSED: _("The speech service refused that recording."),
            Refusal.SPEECH_FAILED: _(
                "The speech service isn't answering right now; please try again shortly."
            ),
            Refusal.SILENT: _("I couldn't hear anything in that recording."),
            **self._speech_limits(),
        }
        return "🎙️ " + said.get(reason, said[Refusal.BROKEN])

    # -- /tools ---------------------------------------------------------------------------------

    @property
    def tools_none(self) -> str:
        return self._("No tools are available here.")

    def tools_shown(self, offered: Sequence[Offered]) -> str:
        """``/tools show``: each server here, on or off and by whose switch, with its tools."""
        _ = self._
        sources = {
            Scope.CHANNEL: _("switched in this channel"),
            Scope.GUILD: _("switched for this server"),
            None: _("the bot's default"),
        }
        lines = [
            _("Tools here (Manage Server turns a server on or off with /tools on and /tools off):")
        ]
        for server in offered:
            state = _("on") if server.switch.on else _("off")
            names = ", ".join(
                _("{tool} (asks first)").format(tool=tool.name) if tool.acts else tool.name
                for tool in server.tools
            )
            source = sources[server.switch.source]
            line = _("**{server}**: {state} ({source}): {tools}")
            lines.append(line.format(server=server.server, state=state, source=source, tools=names))
        return "\n".join(lines)

    def tools_switched(self, server: str, on: bool, scope: Scope) -> str:
        _ = self._
        said = {
            (Scope.CHANNEL, True): _("**{server}** is now on in this channel and its threads."),
            (Scope.CHANNEL, False): _("**{server}** is now off in this channel and its threads."),
            (Scope.GUILD, True): _(
                "**{server}** is now on in this server, except in channels switched otherwise."
            ),
            (Scope.GUILD, False): _(
                "**{server}** is now off in this server, except in channels switched otherwise."
            ),
        }
        return said[(scope, on)].format(server=server)

    def tools_cleared(self, server: str, scope: Scope, on: bool) -> str:
        """A switch removed: ``on`` is the server's state here now."""
        where = self._("this channel") if scope is Scope.CHANNEL else self._("this server")
        state = self._("on") if on else self._("off")
        return self._(
            "The switch for **{server}** in {where} is cleared; here it is {state} now."
        ).format(server=server, where=where, state=state)

    def tools_unknown(self, server: str) -> str:
        return self._("There is no tool server called {server} here.").format(server=f"`{server}`")

    @property
    def tools_limited(self) -> str:
        return self._("*(stopped: a limit was reached while I was using tools)*")

    @property
    def stopped(self) -> str:
        return self._("*(stopped)*")

    @property
    def stopped_for_shutdown(self) -> str:
        return self._("*(stopped: the bot is restarting)*")

    @property
    def cut_at_message_limit(self) -> str:
        return self._("*(cut short: that is as much as I can show here; ask me to go on)*")

    @property
    def out_of_time(self) -> str:
        return self._("*(stopped: my time to answer here ran out; ask me to go on)*")

    @property
    def interrupted_by_restart(self) -> str:
        return self._("*(interrupted: the bot restarted)*")

    @property
    def retrying(self) -> str:
        return self._("The model service is busy; retrying…")

    @property
    def empty_reply(self) -> str:
        return self._("*(the model returned an empty reply; try rephrasing)*")

    @property
    def length_limit(self) -> str:
        return self._("*(reply cut at the length limit; ask me to continue)*")

    @property
    def allowance_spent(self) -> str:
        return self._(
            "*(the model used its whole token allowance before writing an answer; try a "
            "narrower question, or ask the bot's admins to raise MAX_COMPLETION_TOKENS)*"
        )

    def thinking(self, seconds: float) -> str:
        """Shown while a reasoning model thinks, before its answer starts."""
        text = self._(THINKING_EN)
        return self._("{thinking} ({seconds} s)").format(
            thinking=text, seconds=round(seconds)
        ) if seconds >= 1 else text  # fmt: skip

    def _listed(self, labels: list[str]) -> str:
        bold = [f"**{self._(label)}**" for label in labels]
        if len(bold) == 1:
            return bold[0]
        return self._("{names} and {last}").format(names=", ".join(bold[:-1]), last=bold[-1])

    def cannot_open_thread(self, missing: list[str]) -> str:
        """The bot lacks permissions to open a conversation thread in a channel."""
        return self._(
            "I can't open a thread here: I need the {permissions} permission in this channel."
        ).format(permissions=self._listed(missing))

    def cannot_post(self, permission: str) -> str:
        """Discord refused a reply for a missing permission."""
        return self._("I can't post my reply here: I need the {permission} permission.").format(
            permission=self._listed([permission])
        )

    def failure(self, failure: Failure) -> str:
        _ = self._
        texts = {
            Failure.RATE_LIMITED: _(
                "The model service is busy right now. Please try again in a minute."
            ),
            Failure.QUOTA: _(
                "The bot's API account is out of credit, so I can't answer. "
                "Server admins: check the billing of the OpenAI account."
            ),
            Failure.CONTEXT_LENGTH: _(
                "This conversation no longer fits the model's context window. "
                "Use `/reset` to start over."
            ),
            Failure.AUTH: _(
                "The bot's API key was rejected, so I can't answer. "
                "Server admins: check OPENAI_API_KEY."
            ),
            Failure.MODEL_NOT_FOUND: _(
                "The configured model isn't available on the model server. "
                "Server admins: check OPENAI_MODEL."
            ),
            Failure.UNAVAILABLE: _(
                "The model service is unavailable right now. Please try again shortly."
            ),
            Failure.BAD_REQUEST: _(
                "The model service refused this request. Please try rephrasing."
            ),
            Failure.ROLE_ORDER: _(
                "The model server refused the conversation's format. Server admins: check the "
                "model's chat template, or set ALTERNATE_ROLES=on."
            ),
            Failure.CUT_OFF: _("*(cut off: the model service stopped mid-reply)*"),
            Failure.NO_VISION: _("*(this model can't see images: I read only the text)*"),
            Failure.NO_TOOLS: _("*(this model can't use tools: I answered without them)*"),
        }
        return texts[failure]

    def internal_error(self) -> str:
        return self._("Something went wrong on my side; the error was logged. Please try again.")

    def rate_limited(self, limit: Limit | None, wait: float) -> str:
        _ = self._
        reasons = {
            Limit.SERVER_REQUESTS: _(
                "This server has reached its limit of model requests per minute."
            ),
            Limit.SERVER_TOKENS: _(
                "This server has used its model token allowance for the minute."
            ),
            Limit.PRIVATE_REQUESTS: _(
                "You've reached your limit of model requests per minute outside servers."
            ),
            Limit.PRIVATE_TOKENS: _(
                "You've used your model token allowance for the minute outside servers."
            ),
            Limit.USER_REQUESTS: _("You're sending messages faster than I'm allowed to answer."),
            Limit.ACCOUNT: _("The bot's API account is at its rate limit."),
        }
        seconds = max(1, round(wait))
        when = (
            _("about {seconds} seconds").format(seconds=seconds)
            if seconds < 90
            else _("about {minutes} minutes").format(minutes=round(seconds / 60))
        )
        reason = reasons[limit] if limit in reasons else _("The bot is at its rate limit.")
        return _("{reason} Try again in {when}; your message is saved.").format(
            reason=reason, when=when
        )

    def over_budget(self, limit: Limit, resets_in: float) -> str:
        """A daily spending budget is spent (``limit``: USER_BUDGET or SERVER_BUDGET)."""
        _ = self._
        text = (
            _("This server has reached its daily spending limit for the bot.")
            if limit is Limit.SERVER_BUDGET
            else _("You've reached your daily spending limit for the bot.")
        )
        return _("{limit} It resets at midnight UTC, in {when}.").format(
            limit=text, when=self.duration(resets_in)
        )

    def duration(self, seconds: float) -> str:
        """``3 h 12 min``, ``12 min``: a wait of minutes or hours, rounded up to the minute."""
        minutes = max(1, -(-int(seconds) // 60))
        hours, minutes = divmod(minutes, 60)
        if hours:
            return self._("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
        return self._("{minutes} min").format(minutes=minutes)

    def model_unpriced(self, name: str) -> str:
        return self._(
            "I can't use {name}: spending is capped, and the bot's operator set no price for it."
        ).format(name=f"`{name}`")

    # -- slash commands -----------------------------------------------------------------------

    @property
    def not_a_conversation(self) -> str:
        return self._(
            "This isn't a conversation with me. Mention me or use `/chat` in a channel to start one."
        )

    @property
    def persona_form_title(self) -> str:
        return self._("Set the persona")

    @property
    def persona_form_label(self) -> str:
        return self._("Persona (system message)")

    @property
    def server_only(self) -> str:
        return self._("Server defaults can only be set inside a server.")

    @property
    def not_in_server(self) -> str:
        return self._(
            "I'm not a member of this server, so it has no defaults of mine; "
            "`scope: here` sets this conversation's."
        )

    @property
    def persona_empty(self) -> str:
        return self._("The persona can't be empty. Use `/persona clear` to remove one.")

    def needs_permission(self, permission: str, *, owner: bool = False) -> str:
        label = self._listed([permission])
        if owner:
            return self._(
                "Only the person who started this conversation, or members with the "
                "{permission} permission can do that."
            ).format(permission=label)
        return self._("Only members with the {permission} permission can do that.").format(
            permission=label
        )

    def reset_done(self, name: str) -> str:
        return self._(
            "Conversation reset by {name}: I've deleted my copy of everything said before this "
            "message."
        ).format(name=name)

    def persona_too_long(self, length: int, limit: int) -> str:
        return self._("That persona is {length} characters; the limit is {limit}.").format(
            length=f"{length:,}", limit=f"{limit:,}"
        )

    def _scope(self, scope: Scope) -> str:
        _ = self._
        return {
            Scope.CONVERSATION: _("this conversation"),
            Scope.CHANNEL: _("new conversations in this channel"),
            Scope.GUILD: _("new conversations in this server"),
        }[scope]

    def persona_set(self, scope: Scope) -> str:
        return self._("Persona set for {scope}. It applies from the next reply.").format(
            scope=self._scope(scope)
        )

    def persona_cleared(self, scope: Scope) -> str:
        return self._("Persona cleared for {scope}.").format(scope=self._scope(scope))

    def persona_shown(self, text: str, source: Scope | None) -> str:
        """``source``: where the persona was chosen (None: the built-in default)."""
        _ = self._
        sources = {
            Scope.CONVERSATION: _("set for this conversation"),
            Scope.CHANNEL: _("this channel's default"),
            Scope.GUILD: _("this server's default"),
            None: _("the bot's built-in default"),
        }
        quoted = text if len(text) <= PERSONA_QUOTED else text[:PERSONA_QUOTED] + "…"
        quoted = quoted.replace("```", "`\u200b``")  # keep the code block intact
        heading = _("Persona in effect here ({source}):").format(source=sources[source])
        return f"{heading}\n```\n{quoted}\n```"

    def refused(self, reason: Refusal) -> str:
        """Why this person may not use the bot here (an operator's access lists)."""
        _ = self._
        return {
            Refusal.BLOCKED: _("Sorry, you can't use this bot."),
            Refusal.DMS: _("I don't answer direct messages. Mention me in a server instead."),
            Refusal.GUILD: _("This bot isn't available in this server."),
            Refusal.CHANNEL: _("I don't answer in this channel."),
            Refusal.ROLE: _("Only members with certain roles can use me here."),
            Refusal.MEMBERS: _(
                "I only answer direct messages from members of the servers I serve. "
                "Mention me in a server instead."
            ),
            Refusal.UNCHECKED: _(
                "I couldn't check whether you may use me. Please try again in a minute."
            ),
        }[reason]

    @property
    def not_your_form(self) -> str:
        return self._("This form isn't yours, or it has expired. Open a new one.")

    @property
    def guild_unknown(self) -> str:
        return self._(
            "Discord hasn't shown me this server yet (it may be unavailable for a moment). "
            "Please try again in a moment."
        )

    @property
    def left(self) -> str:
        return self._(
            "I've left this conversation and forgotten it. Mention me to start a new one."
        )

    @property
    def forget_confirm(self) -> str:
        return self._(
            "This deletes everything I stored from you: your messages in every conversation "
            "with me (my replies stay, and I stop re-sending what you said), the summaries and "
            "reasoning that may quote them, and your usage figures. It can't be undone."
        )

    @property
    def forget_button(self) -> str:
        return self._("Delete my data")

    @property
    def cancel_button(self) -> str:
        return self._("Cancel")

    @property
    def forget_cancelled(self) -> str:
        return self._("Nothing was deleted.")

    def forgotten(self, messages: int) -> str:
        return self._("Done: I deleted {count} of your messages and your usage figures.").format(
            count=f"{messages:,}"
        )

    def model_set(self, scope: Scope, name: str) -> str:
        return self._("Model set to {name} for {scope}. It answers from the next reply.").format(
            name=f"`{name}`", scope=self._scope(scope)
        )

    def model_cleared(self, scope: Scope) -> str:
        return self._("Model choice cleared for {scope}.").format(scope=self._scope(scope))

    def model_not_allowed(self, name: str, allowed: tuple[str, ...]) -> str:
        return self._("{name} isn't one of this bot's models: {allowed}.").format(
            name=f"`{name}`", allowed=", ".join(f"`{a}`" for a in allowed)
        )

    def model_refused(self, name: str, reason: Refusal, allowed: tuple[str, ...]) -> str:
        """``/model set`` refused; ``reason`` from :func:`bot.core.policy.model_choice_refusal`."""
        if reason is Refusal.MODEL_UNLISTED:
            return self.model_not_allowed(name, allowed)
        if reason is Refusal.MODEL_NOT_OPEN:
            return self._(
                "Outside servers only the bot's default model, or one its operator opened to "
                "everyone, can be chosen: {name} can't."
            ).format(name=f"`{name}`")
        return self.needs_permission("Manage Server")

    def model_ignored(self, name: str) -> str:
        return self._(
            "The choice of {name} here no longer applies: the bot's operator removed that model."
        ).format(name=f"`{name}`")

    def spend_today(
        self, user: float, user_budget: float | None, server: float | None,
        server_budget: float | None,
    ) -> str:  # fmt: skip
        """Today's spend against the daily budgets, for /usage."""
        _ = self._

        def against(spent: float, budget: float | None) -> str:
            if budget is None:
                return _("{spent} (no daily limit)").format(spent=f"${spent:,.2f}")
            return _("{spent} of {budget}").format(spent=f"${spent:,.2f}", budget=f"${budget:,.2f}")

        lines = [_("**Your spending today:** {amount}").format(amount=against(user, user_budget))]
        if server is not None:
            lines.append(
                _("**Server spending today:** {amount}").format(
                    amount=against(server, server_budget)
                )
            )
        return "\n".join(lines)

    def model_shown(self, name: str, source: Scope | None, window: int, vision: bool) -> str:
        """``source``: where the model was chosen (None: the bot's default)."""
        _ = self._
        sees = _("it can see images") if vision else _("it can't see images")
        return _(
            "Model in effect here: {name} ({source}); a {window}-token context window; {sees}."
        ).format(name=f"`{name}`", source=self._chosen(source), window=f"{window:,}", sees=sees)

    def usage_table(self, rows: list[tuple[str, UsageTotals]]) -> str:
        _ = self._
        lines = [_("Model usage (UTC days):")]
        for label, totals in rows:
            cached = (
                _(", {share} of prompt tokens cached").format(
                    share=f"{totals.cached_tokens / totals.prompt_tokens:.0%}"
                )
                if totals.prompt_tokens and totals.cached_tokens
                else ""
            )
            requests = (
                _("1 request") if totals.requests == 1
                else _("{count} requests").format(count=f"{totals.requests:,}")
            )  # fmt: skip
            cost = (
                _(", about {dollars} (estimated)").format(dollars=f"${totals.cost:,.2f}")
                if totals.cost
                else ""
            )
            lines.append(
                _("**{label}:** {total} tokens ({prompt} prompt + {completion} completion"
                  "{cached}), {requests}{cost}").format(
                    label=_(label), total=f"{totals.total_tokens:,}",
                    prompt=f"{totals.prompt_tokens:,}", completion=f"{totals.completion_tokens:,}",
                    cached=cached, requests=requests, cost=cost,
                )
            )  # fmt: skip
        return "\n".join(lines)


@cache
def for_language(language: str) -> Texts:
    return Texts(language, i18n.gettext_for(language))


def for_locale(locale: str | None) -> Texts:
    """The texts for a Discord locale (``zh-CN``, ``en-US``…); English when unsupported."""
    return for_language(i18n.language_of(locale))


EN = for_language(i18n.DEFAULT)


def is_placeholder(text: str) -> bool:
    """Shown in place of a reply while there is no text yet, in any language; never part of a
    stored answer."""
    text = text.strip()
    return any(
        text == t.retrying or text.startswith(t._(THINKING_EN))
        for t in map(for_language, i18n.LANGUAGES)
    )
