-- delete_execution.lua: take an execution out of the listings and mark it deleted (its
-- job expires with the job retention; until then the mark hides it).
--
-- KEYS[1] the index of executions  {p}:wf:executions
-- KEYS[2] the deletion mark        {p}:wf:deleted:<id>
-- ARGV[1] the id
-- ARGV[2] how long the mark lives (ms): the job retention
--
-- Returns 1.

redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[2])
return 1
