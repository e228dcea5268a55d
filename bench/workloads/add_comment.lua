-- (d) a write: addComment on a published article.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"query":"mutation($id: ID!) { addComment(articleId: $id, body: \\"Benchmarked!\\") { id createdAt } }","variables":{"id":"' .. os.getenv("BENCH_ARTICLE_ID") .. '"}}'
