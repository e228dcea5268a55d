-- The GraphQL layer's ceiling: no resolver touches the database.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ __typename }"}]]
