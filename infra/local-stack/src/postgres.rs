//! A private PostgreSQL cluster for the local stack and the tests, run from the machine's own
//! PostgreSQL binaries in a data directory of ours (installing Debian's `postgresql` package
//! when no binaries are found). It listens on 127.0.0.1 only, requires a password (SCRAM; made
//! once and kept in `password` beside the cluster, readable by its owner only, since any local
//! user or a page in a browser could reach the port), and keeps PostgreSQL's default durability
//! (fsync on).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{anyhow, bail, Context, Result};
use tokio::process::Command;

/// How Banter's databases are created, whatever the cluster's defaults: byte-order collation,
/// but UTF-8 character classification (message search lower-cases every script with the
/// database's LC_CTYPE; a cluster made with `--no-locale` would lower-case ASCII only).
pub const DATABASE_LOCALE: &str =
    "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C.UTF-8'";

pub struct PrivatePostgres {
    data_dir: PathBuf,
    bin_dir: PathBuf,
    pub port: u16,
    /// PostgreSQL refuses to run as root; then it runs as the `postgres` user.
    run_as: Option<&'static str>,
    password: String,
}

pub const USER: &str = "banter";
pub const DATABASE: &str = "banter";

impl PrivatePostgres {
    pub async fn new(data_dir: &Path, port: u16) -> Result<Self> {
        let bin_dir = match find_bin_dir() {
            Some(dir) => dir,
            None => {
                install_postgres().await?;
                find_bin_dir()
                    .ok_or_else(|| anyhow!("PostgreSQL binaries not found after installing"))?
            }
        };
        let run_as = crate::debian::is_root().await.then_some("postgres");
        std::fs::create_dir_all(data_dir)?;
        let data_dir = data_dir.canonicalize()?;
        let password = password(&data_dir.join("password"))?;
        Ok(Self {
            data_dir,
            bin_dir,
            port,
            run_as,
            password,
        })
    }

    /// The URL of the `banter` database.
    pub fn url(&self) -> String {
        self.url_of(DATABASE)
    }

    /// The URL of the maintenance database (for creating databases).
    pub fn admin_url(&self) -> String {
        self.url_of("postgres")
    }

    fn url_of(&self, database: &str) -> String {
        format!(
            "postgres://{USER}:{}@127.0.0.1:{}/{database}",
            self.password, self.port
        )
    }

    /// The URL without its password, for logs.
    pub fn redacted_url(&self) -> String {
        format!("postgres://{USER}:***@127.0.0.1:{}/{DATABASE}", self.port)
    }

    fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("cluster")
    }

    fn command(&self, program: &str) -> Command {
        let path = self.bin_dir.join(program);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.stdin(Stdio::null());
        cmd
    }

    async fn run(&self, program: &str, args: &[&str]) -> Result<std::process::Output> {
        let out = self
            .command(program)
            .args(args)
            .output()
            .await
            .with_context(|| format!("running {program}"))?;
        Ok(out)
    }

    /// Create the cluster if needed, start it unless it runs already, and create the `banter`
    /// database.
    pub async fn start(&self) -> Result<()> {
        let cluster = self.cluster_dir();
        let cluster_s = cluster.to_string_lossy().into_owned();
        if let Some(user) = self.run_as {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(&self.data_dir)
                .status()
                .await?;
            if !status.success() {
                bail!(
                    "could not hand {} to the {user} user",
                    self.data_dir.display()
                );
            }
        }
        if !cluster.join("PG_VERSION").exists() {
            let pwfile = self
                .data_dir
                .join("password")
                .to_string_lossy()
                .into_owned();
            let out = self
                .run(
                    "initdb",
                    &[
                        "-D",
                        &cluster_s,
                        "-U",
                        USER,
                        "-A",
                        "scram-sha-256",
                        "--pwfile",
                        &pwfile,
                        "-E",
                        "UTF8",
                        // Byte-order collation, but a UTF-8 character classification: message
                        // search lower-cases every script with the database's LC_CTYPE.
                        "--lc-collate=C",
                        "--lc-ctype=C.UTF-8",
                        "--lc-messages=C",
                    ],
                )
                .await?;
            if !out.status.success() {
                bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
            }
        }
        let running = self
            .run("pg_ctl", &["-D", &cluster_s, "status"])
            .await?
            .status
            .success();
        if !running {
            // pg_stat_statements (in Debian's server package): `banter-bench` counts round
            // trips and plans per delivered message with it. Shared buffers of 512 MB, not the
            // default 128: a search over a million messages reads a user's 20,000 of them from
            // about 16,000 pages (128 MB), so with the default every search evicted the last
            // one's pages (memory is taken as pages are used, not up front).
            let options = format!(
                "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c max_connections=200 \
                 -c shared_buffers=512MB \
                 -c shared_preload_libraries=pg_stat_statements -c pg_stat_statements.track_planning=on",
                self.port, cluster_s
            );
            let log = self.data_dir.join("postgres.log");
            let out = self
                .run(
                    "pg_ctl",
                    &[
                        "-D",
                        &cluster_s,
                        "-l",
                        &log.to_string_lossy(),
                        "-o",
                        &options,
                        "-w",
                        "-t",
                        "60",
                        "start",
                    ],
                )
                .await?;
            if !out.status.success() {
                let tail = std::fs::read_to_string(&log).unwrap_or_default();
                let tail: Vec<&str> = tail.lines().rev().take(10).collect();
                bail!(
                    "pg_ctl start failed: {}\n{}",
                    String::from_utf8_lossy(&out.stderr),
                    tail.join("\n")
                );
            }
        }
        self.ensure_database(DATABASE).await
    }

    /// `CREATE DATABASE name` unless it exists (with [`DATABASE_LOCALE`]).
    pub async fn ensure_database(&self, name: &str) -> Result<()> {
        let (client, connection) =
            tokio_postgres::connect(&self.admin_url(), tokio_postgres::NoTls).await?;
        let task = tokio::spawn(connection);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await?
            .is_some();
        if !exists {
            client
                .batch_execute(&format!("CREATE DATABASE \"{name}\" {DATABASE_LOCALE}"))
                .await?;
        }
        drop(client);
        let _ = task.await;
        Ok(())
    }

    /// Crash and restart the cluster (immediate mode: no checkpoint, recovery from the WAL on
    /// start), as a fault test does.
    pub async fn restart_immediately(&self) -> Result<()> {
        let cluster = self.cluster_dir().to_string_lossy().into_owned();
        // The log file again: without it the new server would write to (and hold open) our pipe.
        let log = self
            .data_dir
            .join("postgres.log")
            .to_string_lossy()
            .into_owned();
        let out = self
            .run(
                "pg_ctl",
                &[
                    "-D",
                    &cluster,
                    "-l",
                    &log,
                    "-m",
                    "immediate",
                    "-w",
                    "-t",
                    "60",
                    "restart",
                ],
            )
            .await?;
        if !out.status.success() {
            bail!(
                "pg_ctl restart failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }

    /// Stop the cluster (fast shutdown: connections are closed, data is kept).
    pub async fn stop(&self) -> Result<()> {
        let cluster = self.cluster_dir().to_string_lossy().into_owned();
        let out = self
            .run("pg_ctl", &["-D", &cluster, "-m", "fast", "-w", "stop"])
            .await?;
        if !out.status.success() {
            bail!(
                "pg_ctl stop failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    }
}

/// The cluster's superuser password: made once (122 random bits), kept in `path`, mode 0600.
fn password(path: &Path) -> Result<String> {
    if let Ok(existing) = std::fs::read_to_string(path) {
        if !existing.trim().is_empty() {
            return Ok(existing.trim().to_owned());
        }
    }
    let password = uuid::Uuid::new_v4().simple().to_string();
    std::fs::write(path, &password).with_context(|| format!("writing {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(password)
}

/// The newest `/usr/lib/postgresql/<version>/bin`, or the directory of `initdb` on PATH.
fn find_bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").exists())
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(PathBuf::from)
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists())
}

async fn install_postgres() -> Result<()> {
    tracing::info!("PostgreSQL not found; installing Debian's postgresql package");
    crate::debian::install(&["postgresql"])
        .await
        .map_err(|e| anyhow::anyhow!("PostgreSQL is not installed ({e}), or set DATABASE_URL"))
}
