-- update_existing.lua: set fields of a record hash only if the record exists (a partial
-- update must not create a half record), optionally with a companion string key.
--
-- KEYS[1] record hash        e.g. {p}:pl:project:<id>
-- KEYS[2] companion key      e.g. {p}:pl:secrets:<id>, set to ARGV[1] unless it is ''
-- ARGV[1] companion value or ''
-- ARGV[2..] field, value pairs
--
-- Returns the record after the change (HGETALL form); empty if it does not exist.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return {}
end
if #ARGV >= 3 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 2))
end
if ARGV[1] ~= '' then
  redis.call('SET', KEYS[2], ARGV[1])
end
return redis.call('HGETALL', KEYS[1])
