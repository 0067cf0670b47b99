-- rate_count.lua: count one request in a fixed window, opened by the first request after
-- the previous window closed (the key expires with its window).
--
-- KEYS[1] the bucket's counter    e.g. {p}:wf:rate:login:127.0.0.1
-- ARGV[1] window length in ms
--
-- Returns {count in this window including this request, ms until the window closes}.

local n = redis.call('INCR', KEYS[1])
if n == 1 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
end
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  -- A counter left without expiry (never by this script): give it one now.
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
