-- delete_workflow.lua: remove a record (a workflow, a prompt template) and its index
-- entry together.
--
-- KEYS[1] the record             {p}:wf:workflow:<id> (or {p}:wf:prompt:<id>)
-- KEYS[2] the index of ids       {p}:wf:workflows (or {p}:wf:prompts)
-- ARGV[1] the id
--
-- Returns 1 when there was one, else 0.

local n = redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return n
