// Limits the servers and the kernel enforce, each with where it comes from. The schema and
// the budget check every number against these; PostgreSQL's own ranges come from its settings
// table (config/postgresSettings.ts).

/**
 * A C int. PgBouncer keeps every integer setting in one (libusual cfparser.c cf_set_int stores
 * strtol's long into an int, so a larger value wraps silently); Redis declares its integer
 * settings with INT_MAX as the maximum (config.c createIntConfig); PostgreSQL's CONNECTION
 * LIMIT and integer settings are int4.
 */
export const INT_MAX = 2147483647;

/**
 * Seconds whose milliseconds still fit an int: PostgreSQL's millisecond timeouts
 * (statement_timeout, idle_in_transaction_session_timeout: max 2147483647 ms) and Node.js timers
 * (a setTimeout delay above 2147483647 ms fires at once, so the services' *_MS variables must
 * stay below it).
 */
export const MAX_TIMEOUT_SECONDS = Math.floor(INT_MAX / 1000);

/**
 * Linux's default fs.nr_open (fs/file.c: sysctl_nr_open = 1024 * 1024): the largest nofile
 * limit Docker can give a container; above it the container does not start.
 */
export const MAX_OPEN_FILES = 1024 * 1024;

/** Descriptors Redis keeps for itself beyond maxclients (server.h CONFIG_MIN_RESERVED_FDS). */
export const REDIS_RESERVED_FDS = 32;

/**
 * Redis allocates every logical database at start-up (server.c initServer): about 450 bytes
 * each, measured with Redis 7.0 (1,000,000 databases: 450 MB before the first key). The config
 * allows up to INT_MAX, which no host can start; 65536 keeps that under 30 MB.
 */
export const MAX_REDIS_DATABASES = 65536;

/** The largest TCP port. */
export const MAX_PORT = 65535;
