-- delete_hook.lua: remove a webhook, its index entry and its history together.
--
-- KEYS[1] the webhook           {p}:wf:hook:<id>
-- KEYS[2] the index of ids      {p}:wf:hooks (zset, score 0)
-- KEYS[3] its run rows          {p}:wf:runs:hook:<id>
-- KEYS[4] their order           {p}:wf:runs-order:hook:<id>
-- KEYS[5] delivery counts        {p}:wf:hook-stats (hash <id>:count, <id>:last)
-- ARGV[1] the id
--
-- Returns 1 when there was one, else 0.

local n = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[5], ARGV[1] .. ':count', ARGV[1] .. ':last')
return n
