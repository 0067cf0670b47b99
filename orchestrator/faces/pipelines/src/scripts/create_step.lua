-- create_step.lua: create a step run unless its run already has one at that index.
--
-- KEYS[1] run hash           {p}:pl:run:<run id>
-- KEYS[2] run's steps zset   {p}:pl:steps:<run id> (score = step index, member = step id)
-- KEYS[3] new step hash      {p}:pl:step:<step id>
-- ARGV[1] step index         ARGV[2] step id
-- ARGV[3..] field, value pairs of the new record
--
-- Returns {0} if the run does not exist, {2, existing step id} if the index is taken,
-- {1} when created.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {0}
end
local existing = redis.call('ZRANGEBYSCORE', KEYS[2], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
if #existing > 0 then
  return {2, existing[1]}
end
redis.call('HSET', KEYS[3], unpack(ARGV, 3))
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
return {1}
