-- heartbeat.lua: record a worker's heartbeat and push its leases forward.
--
-- KEYS[1] worker hash        {p}:worker:<id>
-- KEYS[2] workers zset       {p}:workers
-- KEYS[3] worker's tasks     {p}:wtasks:<id>
-- KEYS[4] leases zset        {p}:leases
-- KEYS[5] worker's cancels   {p}:wcancel:<id>
--
-- ARGV[1] now (epoch ms)     ARGV[2] ttl (ms)       ARGV[3] lease deadline (epoch ms)
-- ARGV[4] worker id          ARGV[5] status ("" = unchanged)
-- ARGV[6] skills JSON ("" = unchanged)
-- ARGV[7] "1" if ARGV[8..] lists the tasks the worker runs now, else "0"
-- ARGV[8..] task ids
--
-- Leases extended: those of the listed tasks that are this worker's (in KEYS[3]); with no
-- list (a ping), every lease of the worker. A task the worker no longer lists keeps its
-- deadline and expires unless the worker lists it again.
--
-- Returns {0} if the worker is not registered (never, or its registration expired), else
-- {1, task ids to cancel...}: requested cancels of tasks the worker says it runs.

if redis.call('HEXISTS', KEYS[1], 'info') == 0 then
  return {0}
end
redis.call('HSET', KEYS[1], 'last_seen', ARGV[1])
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('HSET', KEYS[1], 'skills', ARGV[6])
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[4])
local out = {1}
if ARGV[7] == '1' then
  for i = 8, #ARGV do
    if redis.call('SISMEMBER', KEYS[3], ARGV[i]) == 1 then
      redis.call('ZADD', KEYS[4], 'XX', ARGV[3], ARGV[i])
    end
    if redis.call('SISMEMBER', KEYS[5], ARGV[i]) == 1 then
      table.insert(out, ARGV[i])
    end
  end
else
  for _, task_id in ipairs(redis.call('SMEMBERS', KEYS[3])) do
    redis.call('ZADD', KEYS[4], 'XX', ARGV[3], task_id)
  end
end
return out
