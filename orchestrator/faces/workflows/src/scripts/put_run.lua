-- put_run.lua: add (or replace) a history row of a schedule or a webhook and keep only
-- the newest rows.
--
-- KEYS[1] the rows              {p}:wf:runs:<owner> (hash run id -> row JSON)
-- KEYS[2] their order           {p}:wf:runs-order:<owner> (zset run id -> ms)
-- ARGV[1] the run id
-- ARGV[2] when it ran (ms)
-- ARGV[3] the row (JSON)
-- ARGV[4] how many rows to keep
--
-- Returns the number of rows dropped.

redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over <= 0 then
  return 0
end
local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
redis.call('HDEL', KEYS[1], unpack(old))
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
return over
