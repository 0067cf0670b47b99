-- claim_due.lua: take the schedules due now, so that one orchestrator fires each tick:
-- each taken entry's score moves to the end of the claim (a lease); one that is not
-- committed by then (its claimer died) is due again and taken by another.
--
-- KEYS[1] the due set           {p}:wf:schedules:due (zset: id -> when to look at it, ms)
-- ARGV[1] now (ms)
-- ARGV[2] the end of the claim (ms)
-- ARGV[3] most entries to take
--
-- Returns the ids taken (each now scored ARGV[2]).

local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(ids) do
  redis.call('ZADD', KEYS[1], ARGV[2], id)
end
return ids
