-- register.lua: register (or re-register) a worker, taking back the leases recorded for
-- its id unless the same process (same incarnation) registers again.
--
-- KEYS[1] worker hash        {p}:worker:<id>
-- KEYS[2] workers zset       {p}:workers
-- KEYS[3] known skills set   {p}:skills
-- KEYS[4] worker's tasks     {p}:wtasks:<id>
-- KEYS[5] leases zset        {p}:leases
--
-- ARGV[1] now (epoch ms)     ARGV[2] ttl (ms)     ARGV[3] worker id
-- ARGV[4] status             ARGV[5] info JSON    ARGV[6] skills JSON
-- ARGV[7] incarnation ("" = the worker sent none)
-- ARGV[8] deadline (epoch ms) of the leases taken back: hidden from reapers until then,
--         since the caller re-dispatches them at once
-- ARGV[9..] skill names
--
-- A registration comes from a process that starts, or whose registration expired: the
-- tasks recorded for the id belong to a process that is gone. Only a live registration
-- with the same non-empty incarnation keeps them.
--
-- Returns the task ids whose leases were taken back (sorted).

local same_process = false
if ARGV[7] ~= '' and redis.call('HEXISTS', KEYS[1], 'info') == 1 then
  same_process = redis.call('HGET', KEYS[1], 'incarnation') == ARGV[7]
end
-- The WebSocket may connect before the registration arrives: keep what it recorded.
redis.call('HSETNX', KEYS[1], 'registered', ARGV[1])
redis.call('HSETNX', KEYS[1], 'ws', '0')
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'info', ARGV[5], 'skills', ARGV[6], 'last_seen', ARGV[1],
  'incarnation', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
for i = 9, #ARGV do
  redis.call('SADD', KEYS[3], ARGV[i])
end
local revoked = {}
if not same_process then
  for _, task_id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    -- A task in the set without a lease has ended or is being reaped already.
    if redis.call('ZSCORE', KEYS[5], task_id) then
      redis.call('ZADD', KEYS[5], ARGV[8], task_id)
      revoked[#revoked + 1] = task_id
    end
  end
  redis.call('DEL', KEYS[4])
  table.sort(revoked)
end
return revoked
