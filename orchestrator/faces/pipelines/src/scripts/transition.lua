-- transition.lua: compare-and-set of a record's status (protocol run or step run).
--
-- KEYS[1] record hash        {p}:pl:run:<id> or {p}:pl:step:<id>
-- ARGV[1] new status         ARGV[2] now (epoch ms)
-- ARGV[3..] statuses the change is allowed from
-- Statuses are stored JSON-encoded (with quotes), as every field of a record hash.
--
-- Returns {0, ''} if the record does not exist, {1, previous} when changed,
-- {2, current} when the current status is not an allowed one (nothing written).

local current = redis.call('HGET', KEYS[1], 'status')
if not current then
  return {0, ''}
end
for i = 3, #ARGV do
  if ARGV[i] == current then
    redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2])
    return {1, current}
  end
end
return {2, current}
