-- commit.lua: apply one change of a job and its side effects, atomically, if the job
-- still has the version the engine read.
--
-- KEYS[1] job hash            {p}:job:<id>
-- KEYS[2] status counters     {p}:counts
-- KEYS[3] timers zset         {p}:timers
-- KEYS[4] leases zset         {p}:leases
-- KEYS[5] task blobs hash     {p}:tasks
-- KEYS[6] job history list    {p}:hist:<id>
-- KEYS[7] known skills set    {p}:skills
-- KEYS[8] quarantine index    {p}:quarantine:<owner> (job id -> quarantined at, epoch ms)
-- KEYS[9] quarantine owners   {p}:quarantine_owners (clients with an index)
-- KEYS[10..] queues ({p}:q:<skill>) and worker sets ({p}:wtasks:<w>, {p}:wcancel:<w>),
--           referred to below by their index in KEYS
--
-- ARGV[1] expected version ("0" = the job must not exist)
-- ARGV[2] new status        ARGV[3] new document (JSON)
-- ARGV[4] history limit     ARGV[5] expire after ms ("0" = keep, "-1" = persist: revived)
-- ARGV[6] wake channel      ARGV[7] command channel
-- ARGV[8] done channel: `<origin>|<job id>` is published there ("" = the job is not ending)
-- ARGV[9] job id
-- ARGV[10] origin: id of the orchestrator committing, prefixed to wake messages
-- ARGV[11] now (epoch ms)   ARGV[12] owner: the client owning the job
-- ARGV[13] the job's blueprint
-- ARGV[14] key prefix "{p}:" of the job index (sets named from the status, blueprint and
--          owner: ix:all, ix:s:<status>, ix:b:<blueprint>, ix:c:<owner>, and the sets of
--          blueprints and owners that have one, ix:bps and ix:owners; all share the hash
--          tag of KEYS[1])
-- ARGV[15..] sections, each a count followed by that many records:
--   set_slots  (field, value)          del_slots  (field)
--   store      (task_id, blob)         enqueue    (key_index, score, member, skill)
--   dequeue    (key_index, member)     drop       (task_id)
--   release    (task_id, wtasks_index) cancel     (wcancel_index, task_id, command_json)
--   timer_add  (member, due_ms)        timer_del  (member)
--   history    (entry_json)
--
-- Returns {1, new_version} or {0, current_version} on a conflict (nothing written).

local job = KEYS[1]
local head = redis.call('HMGET', job, 'v', 'status')
local current = tonumber(head[1] or '0')
if current ~= tonumber(ARGV[1]) then
  return {0, current}
end

local pos = 15
local function take()
  local v = ARGV[pos]
  pos = pos + 1
  return v
end
local function section()
  return tonumber(take())
end

local status = ARGV[2]
local old_status = head[2]
if old_status ~= status then
  if old_status then
    redis.call('HINCRBY', KEYS[2], old_status, -1)
  end
  redis.call('HINCRBY', KEYS[2], status, 1)
end
local version = current + 1
redis.call('HSET', job, 'v', version, 'status', status, 'doc', ARGV[3], 'updated', ARGV[11])

-- The job index: a new job joins all, its blueprint's and its owner's sets (scored by
-- creation); every status change moves it between status sets (scored by the change).
local ix = ARGV[14] .. 'ix:'
if not old_status then
  redis.call('HSET', job, 'bp', ARGV[13], 'owner', ARGV[12], 'created', ARGV[11])
  redis.call('ZADD', ix .. 'all', ARGV[11], ARGV[9])
  redis.call('ZADD', ix .. 'b:' .. ARGV[13], ARGV[11], ARGV[9])
  redis.call('ZADD', ix .. 'c:' .. ARGV[12], ARGV[11], ARGV[9])
  redis.call('SADD', ix .. 'bps', ARGV[13])
  redis.call('SADD', ix .. 'owners', ARGV[12])
end
if old_status ~= status then
  if old_status then
    redis.call('ZREM', ix .. 's:' .. old_status, ARGV[9])
  end
  redis.call('ZADD', ix .. 's:' .. status, ARGV[11], ARGV[9])
end

-- The quarantine index holds the job while it is quarantined (job_status::QUARANTINED);
-- NX keeps the time it entered.
if status == 'quarantined' then
  redis.call('ZADD', KEYS[8], 'NX', ARGV[11], ARGV[9])
  redis.call('SADD', KEYS[9], ARGV[12])
elseif old_status == 'quarantined' then
  redis.call('ZREM', KEYS[8], ARGV[9])
end

for _ = 1, section() do
  local field = take()
  redis.call('HSET', job, field, take())
end
for _ = 1, section() do
  redis.call('HDEL', job, take())
end
for _ = 1, section() do
  local task_id = take()
  redis.call('HSET', KEYS[5], task_id, take())
end
for _ = 1, section() do
  local key = KEYS[tonumber(take())]
  local score = take()
  local member = take()
  local skill = take()
  redis.call('ZADD', key, score, member)
  redis.call('SADD', KEYS[7], skill)
  redis.call('PUBLISH', ARGV[6], ARGV[10] .. '|' .. skill)
end
for _ = 1, section() do
  local key = KEYS[tonumber(take())]
  redis.call('ZREM', key, take())
end
for _ = 1, section() do
  redis.call('HDEL', KEYS[5], take())
end
for _ = 1, section() do
  local task_id = take()
  redis.call('ZREM', KEYS[4], task_id)
  redis.call('SREM', KEYS[tonumber(take())], task_id)
end
for _ = 1, section() do
  local key = KEYS[tonumber(take())]
  local task_id = take()
  redis.call('SADD', key, task_id)
  redis.call('PEXPIRE', key, 86400000)
  redis.call('PUBLISH', ARGV[7], take())
end
for _ = 1, section() do
  local member = take()
  redis.call('ZADD', KEYS[3], take(), member)
end
for _ = 1, section() do
  redis.call('ZREM', KEYS[3], take())
end
local history = section()
if history > 0 then
  local entries = {}
  for i = 1, history do
    entries[i] = take()
  end
  -- One RPUSH for all entries; trim only when over the limit.
  if redis.call('RPUSH', KEYS[6], unpack(entries)) > tonumber(ARGV[4]) then
    redis.call('LTRIM', KEYS[6], -tonumber(ARGV[4]), -1)
  end
end

if ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[8], ARGV[10] .. '|' .. ARGV[9])
end

local expire = tonumber(ARGV[5])
if expire > 0 then
  redis.call('PEXPIRE', job, expire)
  redis.call('PEXPIRE', KEYS[6], expire)
elseif expire < 0 then
  redis.call('PERSIST', job)
  redis.call('PERSIST', KEYS[6])
end
return {1, version}
