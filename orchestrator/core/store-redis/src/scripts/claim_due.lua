-- claim_due.lua: take due members of a time-ordered zset (timers or leases) and hide them
-- for a while, so that one orchestrator handles each; a crashed handler's items come back
-- when the visibility window ends.
--
-- KEYS[1] zset ({p}:timers or {p}:leases)
-- ARGV[1] now (epoch ms)   ARGV[2] limit   ARGV[3] visibility (ms)
-- ARGV[4] (optional) one member: take only it, if it is due (a timer fired at once by
--         the orchestrator that committed it, so that a reaper cannot take it as well)
--
-- Returns the members taken.

local due
if ARGV[4] then
  local score = redis.call('ZSCORE', KEYS[1], ARGV[4])
  if score and tonumber(score) <= tonumber(ARGV[1]) then
    due = {ARGV[4]}
  else
    due = {}
  end
else
  due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
end
local hidden_until = tonumber(ARGV[1]) + tonumber(ARGV[3])
for _, member in ipairs(due) do
  redis.call('ZADD', KEYS[1], hidden_until, member)
end
return due
