-- delete_workflow.lua: remove a workflow and its index entry together.
--
-- KEYS[1] the workflow           {p}:wf:workflow:<id>
-- KEYS[2] the index of ids       {p}:wf:workflows
-- ARGV[1] the id
--
-- Returns 1 when there was one, else 0.

local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
