-- The plain list a search page is compared with: 20 newest articles with
-- their total count.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ articles(first: 20) { totalCount nodes { slug title author { username } } } }"}]]
