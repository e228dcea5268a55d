-- (a) the front page: 20 newest articles with author, tags, favorites count.
dofile("bench/workloads/common.lua")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = [[{"query":"{ articles(first: 20) { nodes { slug title description tags favoritesCount publishedAt author { username image } } pageInfo { hasNextPage endCursor } } }"}]]
