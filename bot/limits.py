"""Discord's limits, in one place. Numbers from Discord's API documentation."""

MESSAGE_LIMIT = 2000  # characters in one message
THREAD_NAME_LIMIT = 100  # characters in a thread name
EDIT_INTERVAL = 1.3  # seconds between edits in one channel (Discord allows about 5 per 5 s)
GLOBAL_RATE = 40.0  # requests per second for the whole process (Discord allows 50 per token)
GLOBAL_BURST = 40
FINAL_RESERVE = 10  # of the burst, kept for final edits so finished replies go first
