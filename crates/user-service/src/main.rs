//! `user-service`: serve the API (default), migrate, seed, mint a token, print OpenAPI.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use kit::config::{Environment, ServiceSettings};
use kit::db::{Database, DatabaseServer};
use kit::telemetry::TelemetryGuard;
use user_service::settings::Settings;
use user_service::store::MIGRATOR;

#[derive(Parser)]
#[command(version, about = "The users API of docs/contract.md", long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default). Without DATABASE_URL it runs an embedded PostgreSQL.
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Bulk-insert N users (through COPY).
    Seed {
        /// How many users to insert.
        #[arg(long, default_value_t = 1000)]
        users: u64,
        /// Write the new ids here, one per line (for load tests).
        #[arg(long)]
        ids_file: Option<PathBuf>,
    },
    /// Mint a bearer token for local use (signed with JWT_SECRET, else the development secret).
    Token {
        /// Space-separated scopes.
        #[arg(long, default_value = "users:read users:write")]
        scope: String,
        /// Lifetime, e.g. 1h, 30m, 7d.
        #[arg(long, default_value = "24h", value_parser = humantime::parse_duration)]
        ttl: Duration,
        /// The token's subject.
        #[arg(long, default_value = "local-developer")]
        sub: String,
    },
    /// Write the fixed `/api/v1/process` batch a load test sends (deterministic JSON).
    ProcessBatch {
        /// Records in the batch.
        #[arg(long, default_value_t = 1000)]
        records: usize,
        /// Write it here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the OpenAPI document.
    Openapi,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "user-service failed");
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let command = cli.command.unwrap_or(Command::Serve);
    if let Command::ProcessBatch { records, out } = &command {
        // Needs no configuration: the batch is the same for every deployment.
        let body = user_service::commands::process_batch::process_batch(*records);
        match out {
            Some(path) => {
                std::fs::write(path, body).with_context(|| format!("writing {}", path.display()))?
            }
            None => writeln!(std::io::stdout(), "{body}")?,
        }
        return Ok(());
    }
    let (settings, environment) = Settings::load()?;
    match command {
        Command::Serve => {
            kit::app::run(
                "user-service",
                settings,
                environment,
                user_service::startup::build,
            )
            .await
        }
        Command::Migrate => {
            let _telemetry = init_logs(&settings)?;
            let (_server, database) = connect(&settings, environment).await?;
            database.migrate(&MIGRATOR).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::Seed { users, ids_file } => seed(&settings, environment, users, ids_file).await,
        Command::Token { scope, ttl, sub } => {
            let token =
                user_service::commands::token::mint(&settings, environment, &sub, &scope, ttl)?;
            writeln!(std::io::stdout(), "{token}")?;
            Ok(())
        }
        // Answered above, before the configuration is read.
        Command::ProcessBatch { .. } => Ok(()),
        Command::Openapi => {
            writeln!(
                std::io::stdout(),
                "{}",
                user_service::routes::openapi::document()
            )?;
            Ok(())
        }
    }
}

/// Logs for `migrate` and `seed` (`serve`'s are `kit::app::run`'s), first saying which
/// configuration folder was read.
fn init_logs(settings: &Settings) -> anyhow::Result<TelemetryGuard> {
    let telemetry = kit::telemetry::init(&settings.log)?;
    tracing::info!(
        config = %kit::config::describe_config_dir(&Settings::config_dir()),
        "settings read"
    );
    Ok(telemetry)
}

async fn connect(
    settings: &Settings,
    environment: Environment,
) -> anyhow::Result<(DatabaseServer, Database)> {
    let server = DatabaseServer::from_settings(&settings.database.shared, environment).await?;
    kit::db::check_reachable(&server.url).await?;
    let database = Database::connect_lazy(&server.url, &settings.database.shared)?;
    Ok((server, database))
}

async fn seed(
    settings: &Settings,
    environment: Environment,
    users: u64,
    ids_file: Option<PathBuf>,
) -> anyhow::Result<()> {
    let _telemetry = init_logs(settings)?;
    let (_server, database) = connect(settings, environment).await?;
    database.migrate(&MIGRATOR).await?;
    let bar = ProgressBar::new(users).with_style(
        ProgressStyle::with_template(
            "{spinner} seeding [{bar:40}] {pos}/{len} users ({per_sec}, eta {eta})",
        )
        .context("the progress template is a constant")?
        .progress_chars("=> "),
    );
    let report =
        user_service::commands::seed::seed(&database, users, ids_file.as_deref(), |done| {
            bar.set_position(done)
        })
        .await?;
    bar.finish_and_clear();
    let rate = report.inserted as f64 / report.elapsed.as_secs_f64().max(1e-9);
    writeln!(
        std::io::stdout(),
        "seeded {} users in {:.1} s ({:.0} users/s){}",
        report.inserted,
        report.elapsed.as_secs_f64(),
        rate,
        ids_file
            .map(|path| format!("; ids in {}", path.display()))
            .unwrap_or_default()
    )?;
    Ok(())
}
