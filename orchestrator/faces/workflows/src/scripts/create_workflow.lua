-- create_workflow.lua: save a new record (a workflow, a prompt template) unless its id
-- is taken.
--
-- KEYS[1] the record             {p}:wf:workflow:<id> (or {p}:wf:prompt:<id>)
-- KEYS[2] the index of ids       {p}:wf:workflows (or {p}:wf:prompts; zset, score 0: lexical order)
-- ARGV[1] the id
-- ARGV[2] the record (JSON)
--
-- Returns 1 when saved, 0 when the id exists (nothing changed).

if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[1])
return 1
