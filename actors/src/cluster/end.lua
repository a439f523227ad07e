-- Ends a live session: its last entry says why, then its record goes and its events linger
-- briefly for the followers on other nodes to read that entry.
-- KEYS[1] session hash, KEYS[2] events stream; ARGV[1] reason, ARGV[2] ms to keep the events.
-- Returns the end entry's number, or nil when the session was already gone.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[2], string.format('%d-0', seq), 'end', ARGV[1])
redis.call('DEL', KEYS[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return seq
