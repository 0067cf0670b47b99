-- register.lua: register (or re-register) a worker.
--
-- KEYS[1] worker hash        {p}:worker:<id>
-- KEYS[2] workers zset       {p}:workers
-- KEYS[3] known skills set   {p}:skills
--
-- ARGV[1] now (epoch ms)     ARGV[2] ttl (ms)     ARGV[3] worker id
-- ARGV[4] status             ARGV[5] info JSON    ARGV[6] skills JSON
-- ARGV[7..] skill names
--
-- Returns 1.

-- The WebSocket may connect before the registration arrives: keep what it recorded.
redis.call('HSETNX', KEYS[1], 'registered', ARGV[1])
redis.call('HSETNX', KEYS[1], 'ws', '0')
redis.call('HSET', KEYS[1], 'status', ARGV[4], 'info', ARGV[5], 'skills', ARGV[6], 'last_seen', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[1], ARGV[3])
for i = 7, #ARGV do
  redis.call('SADD', KEYS[3], ARGV[i])
end
return 1
