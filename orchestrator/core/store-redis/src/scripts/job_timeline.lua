-- job_timeline.lua: jobs created, finished and failed per time bucket, counted on the
-- job index (ZCOUNT: O(log n) per bucket, whatever the number of jobs).
--
-- KEYS[1] {p}:ix:all   KEYS[2] {p}:ix:s:finished   KEYS[3] {p}:ix:s:failed
-- KEYS[4] {p}:ix:s:quarantined
-- ARGV[1] first bucket's start (epoch ms)  ARGV[2] bucket length (ms)  ARGV[3] buckets
--
-- Returns {created, finished, failed} per bucket, flat.

local start, len = tonumber(ARGV[1]), tonumber(ARGV[2])
local out = {}
for i = 0, tonumber(ARGV[3]) - 1 do
  local lo = start + i * len
  local hi = lo + len - 1
  out[#out + 1] = redis.call('ZCOUNT', KEYS[1], lo, hi)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[2], lo, hi)
  out[#out + 1] = redis.call('ZCOUNT', KEYS[3], lo, hi) + redis.call('ZCOUNT', KEYS[4], lo, hi)
end
return out
