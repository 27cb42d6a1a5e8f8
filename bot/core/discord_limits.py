"""Discord's limits, in one place. Numbers from Discord's API documentation."""

MESSAGE_LIMIT = 2000  # characters in one message the bot sends
USER_MESSAGE_LIMIT = 4000  # characters a person may send in one message (with Nitro; 2000 without)
THREAD_NAME_LIMIT = 100  # characters in a thread name
CHOICES_LIMIT = 25  # choices one autocomplete answer may offer
CHOICE_NAME_LIMIT = 100  # characters in a choice's name
TEXT_INPUT_LIMIT = 4000  # characters in a modal's text input
EDIT_INTERVAL = 1.3  # seconds between edits in one channel (Discord allows about 5 per 5 s)
GLOBAL_LIMIT = 50  # REST requests per bot token in any second (interactions, webhooks exempt)
GLOBAL_WINDOW = 1.0  # seconds: the window that GLOBAL_LIMIT and our budget count in
# Our budget in any one window: 10% under Discord's limit, for what this process cannot see (other
# clients on the same token, how Discord draws its windows; see bot/pacing.py).
GLOBAL_RATE = 45
# Seconds a request without an answer counts as in flight: then its place frees itself, should
# its answer never be seen (a process that died while it held a place in Redis).
REQUEST_LEASE = 30.0
PRIORITY_RESERVE = 10  # of GLOBAL_RATE per window, that progress edits and typing leave free
MIN_GLOBAL_RATE = 2 * PRIORITY_RESERVE  # so that progress edits keep at least half the budget
# Discord allows about 5 edits per 5 s in a channel; the window here has a margin for the time
# between an edit's slot and its arrival (discord.py sends one request per channel at a time).
EDITS_PER_WINDOW = 5
EDIT_WINDOW = 6.0

# Discord's JSON error codes (the "code" of an error body), as the Discord side tells them apart.
UNKNOWN_MESSAGE = 10008
UNKNOWN_WEBHOOK = 10015
MISSING_ACCESS = 50001
INVALID_WEBHOOK_TOKEN = 50027
THREAD_ALREADY_CREATED = 160004  # "A thread has already been created for this message"
