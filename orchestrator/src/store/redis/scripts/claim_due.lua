-- claim_due.lua: take due members of a time-ordered zset (timers or leases) and hide them
-- for a while, so that one orchestrator handles each; a crashed handler's items come back
-- when the visibility window ends.
--
-- KEYS[1] zset ({p}:timers or {p}:leases)
-- ARGV[1] now (epoch ms)   ARGV[2] limit   ARGV[3] visibility (ms)
--
-- Returns the members taken.

local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local hidden_until = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], hidden_until, member)
end
return due
