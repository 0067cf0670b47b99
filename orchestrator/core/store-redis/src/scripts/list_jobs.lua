-- list_jobs.lua: a page of the job index, newest first (see baton_store::listing).
--
-- KEYS[1] the index walked     {p}:ix:all | {p}:ix:s:<status> | {p}:ix:b:<bp> | {p}:ix:c:<owner>
-- ARGV[1] key prefix "{p}:" (for the job hashes, same hash tag)
-- ARGV[2] the cursor's score, or the highest score taken ("+inf" or epoch ms)
-- ARGV[3] the cursor's id ("" = no cursor: entries scored ARGV[2] are in)
-- ARGV[4] lowest score taken ("-inf" or epoch ms)
-- ARGV[5] most jobs answered          ARGV[6] most entries looked at
-- ARGV[7] status filter ("" = any)    ARGV[8] blueprint filter
-- ARGV[9] owner filter                ARGV[10] text the id contains
--
-- The walk goes by rank (ZREVRANGE order: score, then member, both descending), from
-- the first entry after the cursor, so ties in score page exactly.
--
-- Returns {rows, next_score, next_id}: rows flat, {id, status, bp, owner, created,
-- updated, ...}; next_* empty when the index has nothing further. Entries whose job
-- is gone (expired) are dropped from KEYS[1] on the way.

local limit = tonumber(ARGV[5])
local budget = tonumber(ARGV[6])
local low = ARGV[4] == '-inf' and -math.huge or tonumber(ARGV[4])
local rank
local skip_score, skip_id = nil, ARGV[3]
if ARGV[2] == '+inf' then
  rank = 0
elseif skip_id == '' then
  rank = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf')
else
  -- After the cursor: past every higher score, then past the ties at or above its id.
  rank = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf')
  skip_score = tonumber(ARGV[2])
end
local rows = {}
local found, looked = 0, 0
local last_score, last_id = '', ''
local chunk = 200
while true do
  local batch = redis.call('ZREVRANGE', KEYS[1], rank, rank + chunk - 1, 'WITHSCORES')
  if #batch == 0 then
    return {rows, '', ''}
  end
  local removed = 0
  for i = 1, #batch, 2 do
    local id, score = batch[i], tonumber(batch[i + 1])
    if score < low then
      return {rows, '', ''}
    end
    local skip = skip_score ~= nil and score == skip_score and id >= skip_id
    if not skip then
      if found >= limit or looked >= budget then
        return {rows, last_score, last_id}
      end
      looked = looked + 1
      last_score, last_id = batch[i + 1], id
      local h = redis.call('HMGET', ARGV[1] .. 'job:' .. id, 'status', 'bp', 'owner', 'created', 'updated')
      if not h[1] then
        redis.call('ZREM', KEYS[1], id)
        removed = removed + 1
      elseif (ARGV[7] == '' or h[1] == ARGV[7]) and (ARGV[8] == '' or h[2] == ARGV[8])
        and (ARGV[9] == '' or h[3] == ARGV[9])
        and (ARGV[10] == '' or string.find(id, ARGV[10], 1, true)) then
        found = found + 1
        rows[#rows + 1] = id
        rows[#rows + 1] = h[1]
        rows[#rows + 1] = h[2] or ''
        rows[#rows + 1] = h[3] or ''
        rows[#rows + 1] = h[4] or '0'
        rows[#rows + 1] = h[5] or h[4] or '0'
      end
    end
  end
  -- Removed entries shifted the ranks after them.
  rank = rank + #batch / 2 - removed
end
