-- seed_jobs.lua: stored jobs for the listing scenario of baton-bench, written the way
-- commit.lua writes a job and its index entries (the fields GET /api/v1/jobs reads: a job
-- hash with status, bp, owner, created, updated; the sets ix:all, ix:b:<bp>, ix:c:<owner>
-- scored by creation, ix:s:<status> scored by the last change; ix:bps, ix:owners), so
-- that a million jobs take seconds instead of the hours their real lives would.
--
-- KEYS: none (every key is under ARGV[1], one hash tag)
-- ARGV[1] key prefix "{p}:"     ARGV[2] first job number   ARGV[3] jobs to write
-- ARGV[4] now (epoch ms)        ARGV[5] span of creation times back from now (ms)
-- ARGV[6] the owner of every 50th job (the client token's own client)
--
-- Mix: 90 % finished, 5 % failed, 3 % quarantined, 1 % cancelled, 1 % pending; 20
-- blueprints bp-0..bp-19 and one job in a thousand of blueprint `rare`; 50 clients.
-- Returns the number of jobs written.

local p, first, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local now, span, own = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
local ix = p .. 'ix:'
local doc = string.rep('x', 200)
for i = first, first + n - 1 do
  -- A fixed scramble of i: the same jobs every run, spread over the mix.
  local h = (i * 2654435761) % 4294967296
  local id = string.format('%08x-%04x-4%03x-%04x-%012x', h, i % 65536, (i * 7) % 4096,
    32768 + h % 16384, (i * 48271) % 281474976710656)
  local created = now - (h % span)
  local updated = created + 50 + h % 5000
  local r = h % 1000
  local status = 'finished'
  if r >= 990 then status = 'pending'
  elseif r >= 980 then status = 'cancelled'
  elseif r >= 950 then status = 'quarantined'
  elseif r >= 900 then status = 'failed' end
  local b = math.floor(h / 1000) % 1000
  local bp = (b == 0) and 'rare' or ('bp-' .. (b % 20))
  local owner = (i % 50 == 0) and own or ('client-' .. (i % 50))
  if status == 'pending' then updated = created end
  redis.call('HSET', p .. 'job:' .. id, 'v', 3, 'status', status, 'doc', doc,
    'updated', updated, 'bp', bp, 'owner', owner, 'created', created)
  redis.call('ZADD', ix .. 'all', created, id)
  redis.call('ZADD', ix .. 'b:' .. bp, created, id)
  redis.call('ZADD', ix .. 'c:' .. owner, created, id)
  redis.call('ZADD', ix .. 's:' .. status, updated, id)
  redis.call('SADD', ix .. 'bps', bp)
  redis.call('SADD', ix .. 'owners', owner)
end
return n
