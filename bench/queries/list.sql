-- (a) list as one SQL statement: the 20 newest published articles with
-- author name, tags and favorites count (21 rows, the 21st telling whether
-- there is a next page). bench/compare/run drives it with pgbench to show
-- the database's own limit on this workload.
SELECT a.slug, a.title, a.description, a.published_at, u.username, a.favorites_count,
       ARRAY(SELECT t.name FROM article_tags at JOIN tags t ON t.id = at.tag_id
             WHERE at.article_id = a.id ORDER BY at.position) AS tags
FROM articles a
JOIN users u ON u.id = a.author_id
WHERE a.status = 'PUBLISHED'
ORDER BY a.published_at DESC, a.id DESC
LIMIT 21;
