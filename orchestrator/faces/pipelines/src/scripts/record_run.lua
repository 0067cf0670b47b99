-- record_run.lua: creates or replaces one run (a pipeline job attempt) with its log and
-- its artifacts, so a retried result can never leave half a run behind.
--
-- KEYS[1] {p}:pl:seq          id counters (fields `xrun`: listing order, `artifact`)
-- KEYS[2] {p}:pl:xrun:<run>   the run record (JSON string)
-- KEYS[3] {p}:pl:xlog:<run>   its log (string)
-- KEYS[4] {p}:pl:arts:<run>   hash: artifact name -> artifact id
-- KEYS[5] {p}:pl:qjob:<job>   the job's queue index entry (hash; may be missing)
-- KEYS[6..] the listing zsets the run joins when new (all runs, its project's,
--           protocol run's and step's), score = listing order
-- ARGV[1] run id    ARGV[2] run JSON    ARGV[3] log
-- ARGV[4] started_at (epoch ms) for the queue entry, '' for none
-- ARGV[5] artifact metadata key prefix ({p}:pl:art:)
-- ARGV[6] artifact content key prefix ({p}:pl:artc:)
-- ARGV[7..] three per artifact: name, metadata JSON (without its id), content
--
-- Returns the artifact ids, in ARGV order. A run recorded again keeps its listing order
-- and its artifacts' ids (looked up by name).

local fresh = redis.call('EXISTS', KEYS[2]) == 0
redis.call('SET', KEYS[2], ARGV[2])
redis.call('SET', KEYS[3], ARGV[3])
if fresh then
  local order = redis.call('HINCRBY', KEYS[1], 'xrun', 1)
  for i = 6, #KEYS do
    redis.call('ZADD', KEYS[i], order, ARGV[1])
  end
end
if ARGV[4] ~= '' and redis.call('EXISTS', KEYS[5]) == 1 then
  redis.call('HSETNX', KEYS[5], 'started_at', ARGV[4])
end
local ids = {}
for i = 7, #ARGV, 3 do
  local id = redis.call('HGET', KEYS[4], ARGV[i])
  if not id then
    id = tostring(redis.call('HINCRBY', KEYS[1], 'artifact', 1))
    redis.call('HSET', KEYS[4], ARGV[i], id)
  end
  redis.call('SET', ARGV[5] .. id, ARGV[i + 1])
  redis.call('SET', ARGV[6] .. id, ARGV[i + 2])
  ids[#ids + 1] = id
end
return ids
