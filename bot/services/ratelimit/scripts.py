"""The Redis limiter's Lua scripts: each decision is one script, so it is atomic across every
process sharing the keys, and costs one round trip.

They do exactly what :class:`~bot.core.ratelimit.local.TokenBucket` and ``LocalLimiter.decide`` do,
in the same floating-point steps, so both limiters make the same decisions. A bucket is one
string key, ``"<level> <updated>"`` (``%.17g``, so doubles survive the round trip); no key means
a full bucket, so a bucket that refills to full is deleted and every key expires
``margin`` milliseconds after its bucket would be full. Time is the Redis server's (``TIME``),
so processes with skewed clocks agree; a test may pass its own clock instead (``now``).
Needs Redis 5 or newer (scripts replicated by their effects, so ``TIME`` may precede writes).
"""

from __future__ import annotations

_COMMON = """
local function clock(given)
  if given ~= '' then return tonumber(given) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

-- TokenBucket._refill: the level now, refilled at capacity per minute (no key: full).
local function level_of(key, capacity, now)
  local raw = redis.call('GET', key)
  if not raw then return capacity end
  local space = string.find(raw, ' ', 1, true)
  local level = tonumber(string.sub(raw, 1, space - 1))
  local updated = tonumber(string.sub(raw, space + 1))
  return math.min(capacity, level + math.max(0, now - updated) * (capacity / 60))
end

local function save(key, capacity, level, now, margin)
  if level >= capacity then
    redis.call('DEL', key)
  else
    local ttl = math.ceil((capacity - level) * 60 / capacity * 1000) + margin
    redis.call('SET', key, string.format('%.17g %.17g', level, now), 'PX', ttl)
  end
end

-- LocalLimiter.decide's verdict: the longest wait and its limit's rank (0, 0: granted), and
-- each bucket's level now. KEYS and ARGV as ACQUIRE's.
-- Equal waits name the limit that sorts last, as Python's max() over (wait, Limit) does:
-- ACCOUNT (1) < SERVER_REQUESTS (2) < SERVER_TOKENS (3) < USER_REQUESTS (4), and a person's
-- private scope ranks PRIVATE_REQUESTS and PRIVATE_TOKENS as the server's (redis.LIMITS).
local function decide(now, amounts)
  local best_wait, best_rank = 0, 0
  local levels = {}
  for i = 1, 3 do
    local capacity = tonumber(ARGV[i])
    if capacity > 0 then
      local level = level_of(KEYS[i], capacity, now)
      levels[i] = level
      local needed = math.min(amounts[i], capacity)
      local wait = 0
      if level < needed then wait = (needed - level) * 60 / capacity end
      if wait > best_wait or (wait == best_wait and i + 1 > best_rank) then
        best_wait, best_rank = wait, i + 1
      end
    end
  end
  local hold = redis.call('GET', KEYS[4])
  if hold then
    local wait = math.max(0, tonumber(hold) - now)
    if wait > best_wait then best_wait, best_rank = wait, 1 end
  end
  return best_wait, best_rank, levels
end
"""

ACQUIRE = (
    _COMMON
    + """
-- LocalLimiter.decide.
-- KEYS: the scope's requests, its tokens, the user's requests (buckets), account (hold-until)
-- ARGV: the scope's rpm and tpm (a server's, or a person's private ones), user_rpm (0: off),
--       tokens, now ('' for the server's), margin (ms)
-- Returns {0, 0} when granted (and charged), else {ceil(wait * 10), rank of the limit}.
local now = clock(ARGV[5])
local margin = tonumber(ARGV[6])
local amounts = {1, tonumber(ARGV[4]), 1}
local best_wait, best_rank, levels = decide(now, amounts)
local granted = best_wait <= 0
for i = 1, 3 do
  if levels[i] then
    local level = levels[i]
    if granted then level = level - amounts[i] end
    save(KEYS[i], tonumber(ARGV[i]), level, now, margin)
  end
end
if granted then return {0, 0} end
return {math.ceil(best_wait * 10), best_rank}
"""
)

ADJUST = (
    _COMMON
    + """
-- TokenBucket.give (delta > 0, settle) and take (delta < 0, charge).
-- KEYS: server tokens; ARGV: capacity, delta, now ('' for the server's), margin (ms)
local now = clock(ARGV[3])
local capacity = tonumber(ARGV[1])
local level = math.min(capacity, level_of(KEYS[1], capacity, now) + tonumber(ARGV[2]))
save(KEYS[1], capacity, level, now, tonumber(ARGV[4]))
return 1
"""
)

HOLD = (
    _COMMON
    + """
-- AccountGate.observe: hold everyone until now + seconds, unless held longer already.
-- KEYS: account; ARGV: seconds, now ('' for the server's), margin (ms)
local now = clock(ARGV[2])
local seconds = tonumber(ARGV[1])
local hold = redis.call('GET', KEYS[1])
if hold and tonumber(hold) >= now + seconds then return 0 end
redis.call('SET', KEYS[1], string.format('%.17g', now + seconds), 'PX',
  math.ceil(seconds * 1000) + tonumber(ARGV[3]))
return 1
"""
)

# Spending budgets (bot.core.ratelimit.spending): dollars spent per UTC day, one float key per person
# and per server (INCRBYFLOAT), expiring ``ttl`` milliseconds after the day's end.

RESERVE = """
-- LocalSpending.decide.
-- KEYS: the person's spend today, then the server's (absent outside servers)
-- ARGV: the person's budget, the server's ('' for none), amount (dollars), ttl (ms)
-- Returns 0 when granted (and reserved), 1 when the person's budget is spent, 2 the server's.
local amount = tonumber(ARGV[3])
for i = 1, #KEYS do
  local budget = tonumber(ARGV[i])
  if budget then
    local spent = tonumber(redis.call('GET', KEYS[i]) or '0')
    if spent + amount > budget then return i end
  end
end
for i = 1, #KEYS do
  redis.call('INCRBYFLOAT', KEYS[i], amount)
  redis.call('PEXPIRE', KEYS[i], ARGV[4])
end
return 0
"""

SPEND = """
-- LocalSpending.adjust and add: add delta (a settlement may be negative; never below 0).
-- KEYS: spend keys; ARGV: delta (dollars), ttl (ms)
for i = 1, #KEYS do
  local spent = tonumber(redis.call('INCRBYFLOAT', KEYS[i], ARGV[1]))
  if spent < 0 then redis.call('SET', KEYS[i], '0') end
  redis.call('PEXPIRE', KEYS[i], ARGV[2])
end
return 1
"""


PEEK = (
    _COMMON
    + """
-- ACQUIRE's decision without charging or saving anything (LocalLimiter.decide, charge=False).
-- KEYS and ARGV as ACQUIRE's. Returns {0, 0} when it would be granted, else as ACQUIRE.
local now = clock(ARGV[5])
local best_wait, best_rank = decide(now, {1, tonumber(ARGV[4]), 1})
if best_wait <= 0 then return {0, 0} end
return {math.ceil(best_wait * 10), best_rank}
"""
)
