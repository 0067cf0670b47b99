-- change_steps.lua: an atomic change of several step runs (CodeMachine loop and trigger
-- policies, retries). The first step is the guard: if it does not match, nothing is
-- written; every further step is changed only if it matches itself.
--
-- KEYS[1..n] step hashes     {p}:pl:step:<id> (KEYS[1] is the guard)
-- ARGV[1] now (epoch ms)
-- ARGV[1+i] the change of KEYS[i], JSON:
--   {"from": [status...] (JSON-encoded, as stored; empty = any),
--    "to": status or absent, "state": raw runtime_state expected ("" = absent) or absent
--    (no check; guard only), "set": {field: JSON-encoded value}, "add_retries": int}
--
-- Returns {0, ''} if the guard step does not exist, {1, previous guard status} when
-- applied, {2, current guard status} when the guard does not match.

local function matches(key, change, check_state)
  local status = redis.call('HGET', key, 'status')
  if not status then
    return false, nil
  end
  local ok = #change.from == 0
  for _, s in ipairs(change.from) do
    if s == status then
      ok = true
    end
  end
  if ok and check_state and change.state ~= nil then
    local state = redis.call('HGET', key, 'runtime_state') or ''
    ok = state == change.state
  end
  return ok, status
end

local changes = {}
for i = 1, #KEYS do
  changes[i] = cjson.decode(ARGV[1 + i])
end
local ok, guard_status = matches(KEYS[1], changes[1], true)
if not guard_status then
  return {0, ''}
end
if not ok then
  return {2, guard_status}
end
for i = 1, #KEYS do
  local c = changes[i]
  local fits = true
  if i > 1 then
    fits = matches(KEYS[i], c, false)
  end
  if fits then
    if c.to then
      redis.call('HSET', KEYS[i], 'status', c.to)
    end
    for field, value in pairs(c.set) do
      redis.call('HSET', KEYS[i], field, value)
    end
    if c.add_retries > 0 then
      local retries = tonumber(redis.call('HGET', KEYS[i], 'retries') or '0') or 0
      redis.call('HSET', KEYS[i], 'retries', tostring(retries + c.add_retries))
    end
    redis.call('HSET', KEYS[i], 'updated_at', ARGV[1])
  end
end
return {1, guard_status}
