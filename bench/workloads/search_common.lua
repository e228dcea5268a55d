-- The worst search: a word every seeded article holds, so the count covers
-- all 100,000 of them.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ articles(first: 20, filter: { search: \"numbers\" }) { totalCount nodes { slug title author { username } } } }"}]]
