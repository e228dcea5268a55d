//! The `folio` command: serve, migrate, print the schema, manage users.

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use folio::{
    Application,
    config::{DatabaseSettings, LogFormat, ServeSettings},
    db::{self, entities::user::Role},
    events::{self, Event},
    graphql,
    seed::{self, SeedSizes},
    services::users,
};
use migrations::{Migrator, MigratorTrait};
use tracing_subscriber::EnvFilter;

/// GraphQL execution allocates many small, short-lived objects per request;
/// mimalloc serves that pattern faster than the system allocator (see
/// bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "folio",
    version,
    about = "A GraphQL API server for a publishing platform"
)]
struct Cli {
    /// `text` for people, `json` for log collectors.
    #[arg(
        long,
        env = "FOLIO_LOG_FORMAT",
        value_enum,
        default_value = "text",
        global = true
    )]
    log_format: LogFormat,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (the default).
    Serve(Box<ServeSettings>),
    /// Apply pending migrations, or roll back.
    Migrate {
        #[command(flatten)]
        database: DatabaseSettings,
        /// Roll back this many migrations instead of applying.
        #[arg(long)]
        down: Option<u32>,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
    /// Fill an empty database with deterministic demo or benchmark data.
    /// Every seeded user (user1@example.com, …) has the password
    /// "correct horse battery staple"; user1 is ADMIN, user2 MODERATOR.
    Seed {
        #[command(flatten)]
        database: DatabaseSettings,
        #[command(flatten)]
        sizes: SeedSizes,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Give a user a role, e.g. make the first ADMIN.
    Promote {
        username: String,
        #[arg(value_enum)]
        role: CliRole,
        #[command(flatten)]
        database: DatabaseSettings,
        /// The deployment's Redis: the change is announced there, so open
        /// sockets of the user on every instance check their authority at
        /// once (without it they do within 30 s).
        #[arg(long, env = "REDIS_URL")]
        redis_url: Option<String>,
        #[arg(long, env = "FOLIO_REDIS_PREFIX", default_value = "folio:")]
        redis_prefix: String,
    },
}

#[derive(Clone, Copy, ValueEnum)]
#[value(rename_all = "UPPER")]
enum CliRole {
    User,
    Moderator,
    Admin,
}

impl From<CliRole> for Role {
    fn from(role: CliRole) -> Self {
        match role {
            CliRole::User => Role::User,
            CliRole::Moderator => Role::Moderator,
            CliRole::Admin => Role::Admin,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_tracing(cli.log_format);
    let command = match cli.command {
        Some(command) => command,
        // `folio` alone serves, configured from the environment.
        None => Command::Serve(Box::new(ServeArgs::parse_from(["folio"]).settings)),
    };
    match command {
        Command::Serve(settings) => {
            let app = Application::build(*settings).await?;
            app.run_until_stopped().await?;
        }
        Command::Migrate { database, down } => {
            let db = db::connect(&database.database_url, 1).await?;
            match down {
                Some(steps) => Migrator::down(&db, Some(steps)).await?,
                None => Migrator::up(&db, None).await?,
            }
            println!("migrations done");
        }
        Command::Schema => print!("{}", graphql::sdl()),
        Command::Seed { database, sizes } => {
            let db = db::connect(&database.database_url, 2).await?;
            db::migrate(&db).await?;
            let started = std::time::Instant::now();
            seed::run(&db, sizes).await?;
            println!(
                "seeded {} users, {} articles, {} comments, {} favorites, {} follows in {:.1?}",
                sizes.users,
                sizes.articles,
                sizes.comments,
                sizes.favorites,
                sizes.follows,
                started.elapsed()
            );
        }
        Command::User {
            command:
                UserCommand::Promote {
                    username,
                    role,
                    database,
                    redis_url,
                    redis_prefix,
                },
        } => {
            let db = db::connect(&database.database_url, 1).await?;
            db::migrate(&db).await?;
            let user = users::assign_role(&db, &username, role.into())
                .await
                .with_context(|| format!("promoting {username}"))?;
            println!("{} is now {:?}", user.username, user.role);
            if let Some(url) = redis_url.filter(|url| !url.is_empty()) {
                let changed = Event::AccountChanged { user_id: user.id };
                events::publish_once(&url, &redis_prefix, changed)
                    .await
                    .context("announcing the change on Redis")?;
            }
        }
    }
    Ok(())
}

/// Serve settings parsed from the environment alone.
#[derive(Parser)]
struct ServeArgs {
    #[command(flatten)]
    settings: ServeSettings,
}

fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,sea_orm=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
