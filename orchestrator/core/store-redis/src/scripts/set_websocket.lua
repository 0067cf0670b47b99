-- set_websocket.lua: record whether a worker's WebSocket is connected to an orchestrator.
--
-- KEYS[1] worker hash        {p}:worker:<id>
-- ARGV[1] "1" connected, "0" not      ARGV[2] ttl (ms) for a hash that has none yet
--
-- The socket may connect before the registration: then this creates the hash, with a TTL
-- so that it cannot outlive a worker that never registers (registration keeps the flag).
--
-- Returns 1.

redis.call('HSET', KEYS[1], 'ws', ARGV[1])
if redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
