-- prune_index.lua: drop job index entries of jobs that are gone (expired).
--
-- KEYS[1] {p}:ix:bps   KEYS[2] {p}:ix:owners (the blueprints and owners with a set)
-- ARGV[1] key prefix "{p}:"
-- ARGV[2] entries older than this (epoch ms, the retention ago) may be gone
-- ARGV[3] most entries looked at per set in one call (bounds the time Redis is held)
--
-- Ended jobs expire a retention after their end, so each set is walked from its oldest
-- entry up to that age: the end statuses' sets (scored by the end) are in expiry order
-- and the walk stops at the first live job; the creation-scored sets (all, blueprints,
-- owners) may hold a long-running job among expired ones, so their walk passes live
-- jobs and stops at the budget or the age. A blueprint or owner whose set is empty is
-- forgotten. Every key shares the hash tag of KEYS[1].
--
-- Returns the number of entries removed.

local ix = ARGV[1] .. 'ix:'
local cutoff, budget = tonumber(ARGV[2]), tonumber(ARGV[3])
local removed = 0
local function gone(id)
  return redis.call('EXISTS', ARGV[1] .. 'job:' .. id) == 0
end
-- Sets in expiry order: stop at the first live job.
for _, status in ipairs({'finished', 'failed', 'cancelled', 'quarantined'}) do
  local key = ix .. 's:' .. status
  for _ = 1, budget do
    local oldest = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, 1)
    if #oldest == 0 or not gone(oldest[1]) then
      break
    end
    redis.call('ZREM', key, oldest[1])
    removed = removed + 1
  end
end
-- Creation-scored sets: pass live jobs.
local function sweep(key)
  local old = redis.call('ZRANGEBYSCORE', key, '-inf', cutoff, 'LIMIT', 0, budget)
  for _, id in ipairs(old) do
    if gone(id) then
      redis.call('ZREM', key, id)
      removed = removed + 1
    end
  end
  return redis.call('EXISTS', key) == 1
end
sweep(ix .. 'all')
for i, set in ipairs({KEYS[1], KEYS[2]}) do
  local kind = i == 1 and 'b:' or 'c:'
  for _, name in ipairs(redis.call('SMEMBERS', set)) do
    if not sweep(ix .. kind .. name) then
      redis.call('SREM', set, name)
    end
  end
end
return removed
