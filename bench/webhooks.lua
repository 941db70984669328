-- wrk script for bench/webhooks.py: replays pre-signed Twilio webhooks from a file
-- ("signature body" per line), each wrk thread its own share in order, for wrk's fixed
-- duration (the file holds more than can be sent in it).
-- wrk <url> -s webhooks.lua -- FILE THREADS EXPECTED_STATUS PATH
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local nthreads, n = tonumber(args[2]), 0
  expected = tonumber(args[3])
  mine = {}
  for line in io.lines(args[1]) do
    if n % nthreads == tid then
      local signature, body = line:match("^(%S+) (.*)$")
      mine[#mine + 1] = wrk.format("POST", args[4], {
        ["Content-Type"] = "application/x-www-form-urlencoded",
        ["X-Twilio-Signature"] = signature,
      }, body)
    end
    n = n + 1
  end
  sent, received, unexpected = 0, 0, 0
end

function request()
  sent = sent + 1
  -- Should the file run out, a request repeats: to the server, a Twilio retry.
  return mine[((sent - 1) % #mine) + 1]
end

function response(status, headers, body)
  received = received + 1
  if status ~= expected then
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
  end
  io.write(string.format("RESULT %d %d %d %.3f %.3f\n", summary.requests, summary.duration,
    bad, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
