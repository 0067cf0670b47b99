-- queue_stats.lua: depth and oldest task of each queue.
--
-- KEYS[1..] queues           {p}:q:<skill>
-- (no ARGV)
--
-- A queue is ordered by score (-priority), then by member, and members start with the
-- zero-padded enqueue time in µs: within one score the first member is the oldest, but
-- the oldest of the queue may sit in any score band. So this visits the first member of
-- each distinct score (ZRANGEBYSCORE from just above the previous score, LIMIT 0 1) and
-- keeps the earliest: O(bands · log n), not O(n).
--
-- Returns, per key in order, {depth, oldest_enqueued_us} (-1 when the queue is empty).

local out = {}
for i, key in ipairs(KEYS) do
  local depth = redis.call('ZCARD', key)
  local oldest = -1
  local head = {}
  if depth > 0 then
    head = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
  end
  while head[1] do
    local sep = string.find(head[1], '|', 1, true)
    local us = sep and tonumber(string.sub(head[1], 1, sep - 1))
    if us and (oldest < 0 or us < oldest) then
      oldest = us
    end
    -- Scores come back in a form that parses to the same double, so '(' excludes
    -- exactly this band.
    head = redis.call('ZRANGEBYSCORE', key, '(' .. head[2], '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  end
  out[i] = {depth, oldest}
end
return out
