-- progress.lua: set a job's progress if the reporting task is one of its active tasks.
-- Progress does not bump the job version: it never conflicts with a transition.
--
-- KEYS[1] job hash           {p}:job:<id>
-- ARGV[1] task id            ARGV[2] progress JSON
--
-- Returns 1 if set, 0 if the task is not active (stale event).

if redis.call('HEXISTS', KEYS[1], 't:' .. ARGV[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'progress', ARGV[2])
return 1
