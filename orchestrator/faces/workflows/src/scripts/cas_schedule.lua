-- cas_schedule.lua: write a schedule only if its document is still what the caller read
-- (and, for the orchestrator that fired it, its claim still stands), together with its
-- place in the due set and the index of ids: creating, replacing, pausing, resuming,
-- deleting and committing a fired tick are all this one compare-and-set.
--
-- KEYS[1] the document          {p}:wf:schedule:<id>
-- KEYS[2] the due set           {p}:wf:schedules:due (zset: id -> when to look at it, ms)
-- KEYS[3] the index of ids      {p}:wf:schedules (zset, score 0)
-- KEYS[4] its run rows          {p}:wf:runs:schedule:<id> (hash run id -> row)
-- KEYS[5] their order           {p}:wf:runs-order:schedule:<id> (zset run id -> ms)
-- ARGV[1] the id
-- ARGV[2] the document as read, or '' when there must be none
-- ARGV[3] the new document, or '' to delete the schedule and its runs
-- ARGV[4] when it is due next (ms), or '' when it is not due (paused)
-- ARGV[5] the due score a claim set, which must still be there, or '' (not checked)
--
-- Returns 1 when written, 0 when the document or the claim changed since.

local current = redis.call('GET', KEYS[1])
if current == false then
  current = ''
end
if current ~= ARGV[2] then
  return 0
end
if ARGV[5] ~= '' then
  local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
  if score == false or tonumber(score) ~= tonumber(ARGV[5]) then
    return 0
  end
end
if ARGV[3] == '' then
  redis.call('DEL', KEYS[1], KEYS[4], KEYS[5])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 1
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[3], 0, ARGV[1])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1])
end
return 1
