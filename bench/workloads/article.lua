-- (c) an article page: the article and its 50 oldest comments with authors.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"query":"query($slug: String!) { article(slug: $slug) { title body tags favoritesCount author { username image } comments(first: 50) { totalCount nodes { body createdAt author { username image } } } } }","variables":{"slug":"' .. os.getenv("BENCH_SLUG") .. '"}}'
