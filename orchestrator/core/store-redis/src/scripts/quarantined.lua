-- quarantined.lua: one client's quarantined jobs, newest first.
--
-- KEYS[1] quarantine index   {p}:quarantine:<owner> (job id -> quarantined at, epoch ms)
--
-- ARGV[1] key prefix "{p}:" (for the job keys)    ARGV[2] most jobs to return
--
-- Index entries of jobs that expired (or, defensively, are no longer quarantined) are
-- skipped; prune_quarantine.lua removes them. The job keys are derived from the index;
-- they share the hash tag of KEYS[1], so they live in its slot.
--
-- Returns up to ARGV[2] entries {job_id, quarantined_ms, job} where job is the job hash
-- in HGETALL form.

local limit = tonumber(ARGV[2])
local out = {}
local start = 0
while #out < limit do
  local page = redis.call('ZREVRANGE', KEYS[1], start, start + limit - 1, 'WITHSCORES')
  if #page == 0 then
    break
  end
  for i = 1, #page, 2 do
    local fields = redis.call('HGETALL', ARGV[1] .. 'job:' .. page[i])
    local status
    for f = 1, #fields, 2 do
      if fields[f] == 'status' then
        status = fields[f + 1]
      end
    end
    -- Kept in step with job_status::QUARANTINED.
    if status == 'quarantined' then
      out[#out + 1] = {page[i], page[i + 1], fields}
      if #out >= limit then
        break
      end
    end
  end
  start = start + limit
end
return out
