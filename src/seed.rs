//! Deterministic demo and benchmark data: the same flags give the same rows,
//! so benchmark runs compare like with like.
//!
//! Rows go in with multi-row INSERTs of `CHUNK` rows, one transaction per
//! table, with explicit ids; derived counters (favorites per article,
//! published articles per tag) are computed here and written with the rows.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use rand::{RngExt, SeedableRng, rngs::StdRng, seq::IndexedRandom};
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait,
    TransactionTrait,
};

use crate::{
    auth::password,
    db::entities::{
        article, article_tag, comment, favorite, follow, tag,
        user::{self, Role},
    },
    domain::Password,
};

/// The password of every seeded user.
pub const PASSWORD: &str = "correct horse battery staple";

/// Rows per INSERT statement: well under the bind-parameter limits of both
/// Postgres (65,535) and SQLite (32,766) for our widest table.
const CHUNK: usize = 1_000;

#[derive(Debug, Clone, Copy, clap::Args)]
pub struct SeedSizes {
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    #[arg(long, default_value_t = 200)]
    pub articles: usize,
    #[arg(long, default_value_t = 1_000)]
    pub comments: usize,
    #[arg(long, default_value_t = 600)]
    pub favorites: usize,
    #[arg(long, default_value_t = 300)]
    pub follows: usize,
    #[arg(long, default_value_t = 24)]
    pub tags: usize,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("the database already has users; seed an empty database")]
    NotEmpty,
    #[error("seeding needs at least one user and one article")]
    TooSmall,
    #[error(transparent)]
    Database(#[from] sea_orm::DbErr),
    #[error(transparent)]
    Hash(#[from] password::HashError),
}

const WORDS: &[&str] = &[
    "rust",
    "graphql",
    "postgres",
    "redis",
    "async",
    "tokio",
    "axum",
    "types",
    "testing",
    "design",
    "cache",
    "latency",
    "queues",
    "indexes",
    "security",
    "frontend",
    "apollo",
    "schema",
    "errors",
    "traits",
    "memory",
    "profiling",
    "deploy",
    "observability",
    "migrations",
    "cursors",
    "writing",
    "reading",
    "travel",
    "cooking",
    "music",
    "science",
    "history",
    "startups",
    "open-source",
];

/// Every seeded timestamp lies after this instant, in a fixed order.
fn epoch() -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default() // 2026-01-01T00:00:00Z
}

pub async fn run(db: &DatabaseConnection, sizes: SeedSizes) -> Result<(), SeedError> {
    if sizes.users == 0 || sizes.articles == 0 {
        return Err(SeedError::TooSmall);
    }
    if user::Entity::find().count(db).await? > 0 {
        return Err(SeedError::NotEmpty);
    }
    let mut rng = StdRng::seed_from_u64(sizes.seed);
    // One hash for everyone: hashing each of 10,000 passwords with production
    // argon2 parameters would take minutes and prove nothing.
    let password_hash = password::hash(&Password::parse(PASSWORD).expect("valid")).await?;
    let tags: Vec<String> = (0..sizes.tags.max(1))
        .map(|i| match WORDS.get(i) {
            Some(word) => (*word).to_owned(),
            None => format!("topic-{i}"),
        })
        .collect();

    let users = (1..=sizes.users).map(|id| {
        let at = epoch() + Duration::minutes(id as i64);
        user::ActiveModel {
            id: Set(id as i64),
            username: Set(format!("user{id}")),
            email: Set(format!("user{id}@example.com")),
            password_hash: Set(password_hash.clone()),
            bio: Set(Some(format!("Writer number {id}."))),
            image: Set(None),
            // The first two make the playground's role examples work.
            role: Set(match id {
                1 => Role::Admin,
                2 => Role::Moderator,
                _ => Role::User,
            }),
            created_at: Set(at),
            updated_at: Set(at),
        }
    });
    insert_chunks(db, users).await?;

    // Articles: one in ten stays a draft. Tags and favorites are decided
    // first so the articles' counters can be written with them.
    struct Plan {
        author: i64,
        published: bool,
        tags: Vec<usize>,
        favorites: i32,
    }
    let mut plans: Vec<Plan> = (1..=sizes.articles)
        .map(|id| {
            let count = rng.random_range(1..=4.min(tags.len()));
            let mut chosen: Vec<usize> = (0..tags.len())
                .collect::<Vec<_>>()
                .sample(&mut rng, count)
                .copied()
                .collect();
            chosen.sort_unstable();
            Plan {
                author: rng.random_range(1..=sizes.users) as i64,
                published: id % 10 != 0,
                tags: chosen,
                favorites: 0,
            }
        })
        .collect();
    let published: Vec<i64> = (1..=sizes.articles as i64)
        .filter(|id| plans[(*id - 1) as usize].published)
        .collect();

    let mut favorites = Vec::new();
    let mut pairs = HashSet::new();
    if !published.is_empty() {
        let wanted = sizes.favorites.min(sizes.users * published.len());
        while favorites.len() < wanted {
            let user = rng.random_range(1..=sizes.users) as i64;
            let article = *published.choose(&mut rng).expect("non-empty");
            if pairs.insert((user, article)) {
                plans[(article - 1) as usize].favorites += 1;
                favorites.push((user, article));
            }
        }
    }

    let mut tag_counts = vec![0i32; tags.len()];
    for plan in plans.iter().filter(|plan| plan.published) {
        for tag in &plan.tags {
            tag_counts[*tag] += 1;
        }
    }
    insert_chunks(
        db,
        tags.iter().enumerate().map(|(i, name)| tag::ActiveModel {
            id: Set(i as i64 + 1),
            name: Set(name.clone()),
            article_count: Set(tag_counts[i]),
        }),
    )
    .await?;

    insert_chunks(
        db,
        plans.iter().enumerate().map(|(i, plan)| {
            let id = i as i64 + 1;
            let created = epoch() + Duration::minutes(10 * id);
            let topic = &tags[plan.tags[0]];
            let title = format!("Notes on {topic}, part {id}");
            article::ActiveModel {
                id: Set(id),
                slug: Set(format!("notes-on-{topic}-part-{id}")),
                title: Set(title.clone()),
                description: Set(format!("What I learned about {topic}.")),
                body: Set(body(&title, topic)),
                status: Set(if plan.published {
                    article::Status::Published
                } else {
                    article::Status::Draft
                }),
                author_id: Set(plan.author),
                favorites_count: Set(plan.favorites),
                published_at: Set(plan.published.then_some(created + Duration::minutes(5))),
                created_at: Set(created),
                updated_at: Set(created),
            }
        }),
    )
    .await?;

    insert_chunks(
        db,
        plans.iter().enumerate().flat_map(|(i, plan)| {
            plan.tags
                .iter()
                .enumerate()
                .map(move |(position, tag)| article_tag::ActiveModel {
                    article_id: Set(i as i64 + 1),
                    tag_id: Set(*tag as i64 + 1),
                    position: Set(position as i32),
                })
        }),
    )
    .await?;

    insert_chunks(
        db,
        favorites
            .iter()
            .enumerate()
            .map(|(i, (user, article))| favorite::ActiveModel {
                id: Set(i as i64 + 1),
                user_id: Set(*user),
                article_id: Set(*article),
                created_at: Set(epoch() + Duration::seconds(i as i64)),
            }),
    )
    .await?;

    let mut follows = Vec::new();
    let mut pairs = HashSet::new();
    let possible = sizes.users * sizes.users.saturating_sub(1);
    while follows.len() < sizes.follows.min(possible) {
        let follower = rng.random_range(1..=sizes.users) as i64;
        let followee = rng.random_range(1..=sizes.users) as i64;
        if follower != followee && pairs.insert((follower, followee)) {
            follows.push((follower, followee));
        }
    }
    insert_chunks(
        db,
        follows
            .iter()
            .enumerate()
            .map(|(i, (follower, followee))| follow::ActiveModel {
                id: Set(i as i64 + 1),
                follower_id: Set(*follower),
                followee_id: Set(*followee),
                created_at: Set(epoch() + Duration::seconds(i as i64)),
            }),
    )
    .await?;

    if !published.is_empty() {
        // Discussion is uneven, as on real sites: a tenth of the comments
        // go to one published article in a thousand, so some pages have
        // hundreds of comments and most a handful.
        let popular: Vec<i64> = published.iter().step_by(1000).copied().collect();
        let comments: Vec<(i64, i64)> = (0..sizes.comments)
            .map(|i| {
                let among = if i % 10 == 0 { &popular } else { &published };
                (
                    *among.choose(&mut rng).expect("non-empty"),
                    rng.random_range(1..=sizes.users) as i64,
                )
            })
            .collect();
        insert_chunks(
            db,
            comments.iter().enumerate().map(|(i, (article, author))| {
                // After the article was published, in insertion order.
                let at = epoch()
                    + Duration::minutes(10 * article + 6)
                    + Duration::milliseconds(i as i64);
                comment::ActiveModel {
                    id: Set(i as i64 + 1),
                    article_id: Set(*article),
                    author_id: Set(*author),
                    body: Set(format!("Comment {} on this article.", i + 1)),
                    created_at: Set(at),
                    updated_at: Set(at),
                }
            }),
        )
        .await?;
    }

    reset_sequences(db).await?;
    Ok(())
}

/// About 3 KB of Markdown, the size of a short real article, so benchmarks
/// move realistic amounts of text.
fn body(title: &str, topic: &str) -> String {
    let mut body = format!("# {title}\n\n");
    for paragraph in 1..=16 {
        body.push_str(&format!(
            "Paragraph {paragraph} about {topic}: what worked, what did not, and what \
             we would do differently next time, with the numbers that convinced us.\n\n"
        ));
    }
    body
}

/// Inserts `rows` in chunks inside one transaction.
async fn insert_chunks<A>(
    db: &DatabaseConnection,
    rows: impl Iterator<Item = A>,
) -> Result<(), sea_orm::DbErr>
where
    A: sea_orm::ActiveModelTrait,
{
    let txn = db.begin().await?;
    let mut rows = rows.peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(CHUNK).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(&txn)
            .await?;
    }
    txn.commit().await
}

/// Explicit ids leave Postgres sequences behind; move them past the data so
/// the next insert does not collide. (SQLite tracks this by itself.)
async fn reset_sequences(db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    for table in [
        "users",
        "tags",
        "articles",
        "favorites",
        "follows",
        "comments",
    ] {
        db.execute_unprepared(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
             COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        ))
        .await?;
    }
    Ok(())
}
