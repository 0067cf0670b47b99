-- prune_quarantine.lua: drop quarantine index entries of jobs that are gone.
--
-- KEYS[1] owners set         {p}:quarantine_owners (clients with an index)
--
-- ARGV[1] key prefix "{p}:" (for the index and job keys)
-- ARGV[2] most entries to remove in one call (bounds the time the script holds Redis)
--
-- Job keys expire by themselves (PEXPIRE at the end of the job); index entries do not.
-- Jobs expire in the order they were quarantined (one retention for all), so each index
-- is walked from its oldest entry and the walk stops at the first live job: the cost is
-- the number of stale entries plus one lookup per owner. An owner whose index is empty
-- is forgotten. Index and job keys share the hash tag of KEYS[1].
--
-- Returns the number of entries removed.

local budget = tonumber(ARGV[2])
local removed = 0
for _, owner in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local index = ARGV[1] .. 'quarantine:' .. owner
  while removed < budget do
    local oldest = redis.call('ZRANGE', index, 0, 0)
    if #oldest == 0 then
      break
    end
    -- Kept in step with job_status::QUARANTINED.
    if redis.call('HGET', ARGV[1] .. 'job:' .. oldest[1], 'status') == 'quarantined' then
      break
    end
    redis.call('ZREM', index, oldest[1])
    removed = removed + 1
  end
  if redis.call('EXISTS', index) == 0 then
    redis.call('SREM', KEYS[1], owner)
  end
end
return removed
