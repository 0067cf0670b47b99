-- cancel_protocol.lua: cancel a protocol run and its unfinished steps in one step.
--
-- KEYS[1] run hash           {p}:pl:run:<id>
-- KEYS[2] run's steps zset   {p}:pl:steps:<id> (member = step id)
-- ARGV[1] now (epoch ms)     ARGV[2] step key prefix "{p}:pl:step:"
-- ARGV[3] cancelled status   ARGV[4] n = how many run statuses follow
-- ARGV[5..4+n] run statuses a cancel applies to; ARGV[5+n..] step statuses it cancels
-- Statuses are JSON-encoded, as stored. Step keys are derived from the zset members;
-- they share the hash tag of the declared keys, so they live in the same slot.
--
-- Returns {0, ''} if the run does not exist, {2, current} if it is not cancellable
-- (completed, failed or already cancelled: nothing written), else
-- {1, previous, step ids cancelled...}.

local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return {0, ''}
end
local n = tonumber(ARGV[4])
local allowed = false
for i = 5, 4 + n do
  if ARGV[i] == current then
    allowed = true
  end
end
if not allowed then
  return {2, current}
end
redis.call('HSET', KEYS[1], 'status', ARGV[3], 'updated_at', ARGV[1])
local out = {1, current}
for _, step_id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  local key = ARGV[2] .. step_id
  local status = redis.call('HGET', key, 'status')
  for i = 5 + n, #ARGV do
    if status == ARGV[i] then
      redis.call('HSET', key, 'status', ARGV[3], 'updated_at', ARGV[1])
      table.insert(out, step_id)
      break
    end
  end
end
return out
