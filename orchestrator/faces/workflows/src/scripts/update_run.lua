-- update_run.lua: replace a history row only if it is still kept (a row dropped as old
-- stays dropped).
--
-- KEYS[1] the rows              {p}:wf:runs:<owner> (hash run id -> row JSON)
-- ARGV[1] the run id
-- ARGV[2] the row (JSON)
--
-- Returns 1 when replaced, 0 when there was no such row.

if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
