-- A search box: the 20 newest articles about one topic (about 1 in 35 of
-- the seeded articles), with their total count.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ articles(first: 20, filter: { search: \"postgres\" }) { totalCount nodes { slug title author { username } } } }"}]]
