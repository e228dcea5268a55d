-- Shared by every workload: counts responses that carry GraphQL errors
-- (which arrive with HTTP 200, so wrk's own error count misses them).
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  graphql_errors = 0
end

function response(status, headers, body)
  if string.find(body, '"errors":[', 1, true) then
    graphql_errors = graphql_errors + 1
  end
end

function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("graphql_errors")
  end
  io.write("GraphQL errors: " .. total .. "\n")
end
