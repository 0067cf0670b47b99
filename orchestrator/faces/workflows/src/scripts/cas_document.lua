-- cas_document.lua: replace a JSON document (a workflow's versions) only if it is still
-- what the caller read, and index its name; a compare-and-set, so two orchestrators
-- saving versions of one workflow at once cannot lose one.
--
-- KEYS[1] the document           {p}:wf:versions:<name>
-- KEYS[2] the index of names     {p}:wf:versioned (zset, score 0)
-- ARGV[1] the document as read, or '' when there was none
-- ARGV[2] the new document
-- ARGV[3] the name
--
-- Returns 1 when written, 0 when the document changed since it was read.

local current = redis.call('GET', KEYS[1])
if current == false then
  current = ''
end
if current ~= ARGV[1] then
  return 0
end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('ZADD', KEYS[2], 0, ARGV[3])
return 1
