-- replace_timer.lua: remove one timer and optionally add another, in one step.
--
-- KEYS[1] timers zset        {p}:timers
-- ARGV[1] old member         ARGV[2] new member ("" = none)   ARGV[3] new due (epoch ms)
--
-- Returns 1.

redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[2])
end
return 1
