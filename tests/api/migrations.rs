use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectionTrait, Database};

use crate::helpers::TestDatabase;

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let database = TestDatabase::create().await;
    let db = folio::db::connect(&database.url, 1).await.unwrap();
    Migrator::up(&db, None).await.expect("up");
    db.execute_unprepared("SELECT id, username, email FROM users")
        .await
        .unwrap();
    Migrator::down(&db, None).await.expect("down");
    assert!(db.execute_unprepared("SELECT id FROM users").await.is_err());
    Migrator::up(&db, None).await.expect("up again");
    let status = Migrator::get_pending_migrations(&db).await.unwrap();
    assert!(status.is_empty());
    db.close().await.unwrap();
    // The database opens cleanly afterwards, as `folio migrate` leaves it.
    let reopened = Database::connect(&database.url).await.unwrap();
    reopened
        .execute_unprepared("SELECT COUNT(*) FROM articles")
        .await
        .unwrap();
}
