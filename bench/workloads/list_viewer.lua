-- (b) the front page as a logged-in reader, with viewerHasFavorited.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = [[{"query":"{ articles(first: 20) { nodes { slug title description tags favoritesCount viewerHasFavorited publishedAt author { username image } } pageInfo { hasNextPage endCursor } } }"}]]
