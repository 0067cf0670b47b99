-- claim.lua: hand the best queued tasks among a worker's skills to that worker.
--
-- KEYS[1] leases zset        {p}:leases
-- KEYS[2] task blobs hash    {p}:tasks
-- KEYS[3] timers zset        {p}:timers
-- KEYS[4] status counters    {p}:counts
-- KEYS[5] worker's tasks     {p}:wtasks:<worker>
-- KEYS[6..] queues           {p}:q:<skill>, one per skill in ARGV[7..]
--
-- ARGV[1] now (epoch ms)     ARGV[2] lease deadline (epoch ms)
-- ARGV[3] worker id          ARGV[4] key prefix "{p}:" (for the job and history keys)
-- ARGV[5] history limit      ARGV[6] most tasks to take
-- ARGV[7..] skill names, in the order of KEYS[6..]
--
-- Best = lowest score (score = -priority), then lowest member (members start with the
-- zero-padded enqueue time, so equal priorities are FIFO). The job key is derived from
-- the task; it shares the hash tag of the declared keys, so it lives in their slot.
--
-- Returns the tasks taken, best first (empty when nothing is queued), each as
-- {job_id, task_id, skill, payload, enqueued_ms, result_timeout_ms, remaining, job}
-- where job is the job hash (HGETALL form) as the claim left it.

local now = tonumber(ARGV[1])
local worker = ARGV[3]
local prefix = ARGV[4]
local nskills = #KEYS - 5
local max = tonumber(ARGV[6])
local taken = {}

-- Each pass takes one task; a pass may also drop an orphan (a task its job no longer
-- has), so allow a few more passes than tasks wanted.
for _ = 1, max + 16 do
  if #taken >= max then
    break
  end
  local best_i, best_score, best_member
  if nskills == 1 then
    -- One queue: pop its head in one command.
    local head = redis.call('ZPOPMIN', KEYS[6])
    if head[1] then
      best_i, best_member = 1, head[1]
    end
  else
    for i = 1, nskills do
      local head = redis.call('ZRANGE', KEYS[5 + i], 0, 0, 'WITHSCORES')
      if head[1] then
        local score = tonumber(head[2])
        if best_i == nil or score < best_score or (score == best_score and head[1] < best_member) then
          best_i, best_score, best_member = i, score, head[1]
        end
      end
    end
    if best_i ~= nil then
      redis.call('ZREM', KEYS[5 + best_i], best_member)
    end
  end
  if best_i == nil then
    break
  end

  local queue = KEYS[5 + best_i]
  local skill = ARGV[6 + best_i]
  local task_id = string.match(best_member, '^[^|]*|(.*)$') or best_member
  local blob = redis.call('HGET', KEYS[2], task_id)
  if blob then
    local job_id, rto, enq, payload = string.match(blob, '^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$')
    local job = prefix .. 'job:' .. job_id
    local field = 't:' .. task_id
    local head = redis.call('HMGET', job, field, 'status', 'v')
    local slot = head[1]
    if slot and string.sub(slot, 1, 2) == 'q|' then
      local status = head[2]
      local lease = 'l|' .. skill .. '|' .. worker .. '|' .. ARGV[1]
      local version = tonumber(head[3]) + 1
      if status == 'pending' or status == 'waiting_for_worker' or status == 'awaiting_retry' then
        redis.call('HSET', job, field, lease, 'v', version, 'status', 'running')
        redis.call('HINCRBY', KEYS[4], status, -1)
        redis.call('HINCRBY', KEYS[4], 'running', 1)
      else
        redis.call('HSET', job, field, lease, 'v', version)
      end
      local hist = prefix .. 'hist:' .. job_id
      local length = redis.call('RPUSH', hist, '{"event_type":"task_dispatched","task_id":"' .. task_id ..
        '","worker_id":"' .. worker .. '","timestamp_ms":' .. ARGV[1] .. '}')
      if length > tonumber(ARGV[5]) then
        redis.call('LTRIM', hist, -tonumber(ARGV[5]), -1)
      end
      redis.call('ZADD', KEYS[1], ARGV[2], task_id)
      redis.call('SADD', KEYS[5], task_id)
      redis.call('ZREM', KEYS[3], 'd|' .. job_id .. '|' .. task_id)
      local timeout = tonumber(rto)
      if timeout > 0 then
        redis.call('ZADD', KEYS[3], now + timeout, 'r|' .. job_id .. '|' .. task_id)
      end
      taken[#taken + 1] = {job_id, task_id, skill, payload, enq, rto, redis.call('ZCARD', queue),
        redis.call('HGETALL', job)}
    else
      -- The job moved on (or expired) without taking the task out: drop it.
      redis.call('HDEL', KEYS[2], task_id)
    end
  end
end
return taken
