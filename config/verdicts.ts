// Section 5's verdicts: a measured value against a warning and a critical level. Section 5's
// tables say "> 80 % of max", "> 0", "> 10/min": a value AT a level is still below it. The alert
// rules and `npm run status` both judge with these, from the same threshold keys
// (monitoring.thresholds.*, redis.warningClients / criticalClients), so a level means the same
// thing in both.
import { Thresholds } from "./schema";

export type Verdict = "ok" | "warning" | "critical";

const SEVERITY: Record<Verdict, number> = { ok: 0, warning: 1, critical: 2 };

/** A warning and a critical level: a value above one has reached it. */
export interface Levels {
    warning: number;
    critical: number;
}

/** ok up to the warning level, warning above it, critical above the critical level. */
export function verdictAbove(value: number, levels: Levels): Verdict {
    if (value > levels.critical) {
        return "critical";
    }
    return value > levels.warning ? "warning" : "ok";
}

/** `used` as a percentage of `limit`; undefined when there is no limit (0 or negative, as PostgreSQL's -1). */
export function percentOf(used: number, limit: number): number | undefined {
    return limit > 0 ? (100 * used) / limit : undefined;
}

/** `used` of `limit` against percentage levels; ok when there is no limit to be measured against. */
export function verdictOfShare(used: number, limit: number, levels: Levels): Verdict {
    const percent = percentOf(used, limit);
    return percent === undefined ? "ok" : verdictAbove(percent, levels);
}

/** The worst of the verdicts (ok for none). */
export function worstVerdict(verdicts: Iterable<Verdict | undefined>): Verdict {
    let worst: Verdict = "ok";
    for (const verdict of verdicts) {
        if (verdict && SEVERITY[verdict] > SEVERITY[worst]) {
            worst = verdict;
        }
    }
    return worst;
}

/** Events counted over `seconds`, per minute (what the `...PerMinute` levels are measured in). */
export function perMinute(count: number, seconds: number): number {
    return seconds > 0 ? (count * 60) / seconds : 0;
}

/** Every metric of section 5's tables and its levels. */
export interface SectionFiveLevels {
    /** 5.1 cl_active: a pool's clients against its client limit, all clients against max_client_conn (percent). */
    pgbouncerClientsPercent: Levels;
    /** 5.1 sv_active: a pool's active server connections against its pool_size (percent). */
    pgbouncerServersPercent: Levels;
    /** 5.1 avg_wait_time: a client's wait for a server connection (milliseconds). */
    pgbouncerWaitMs: Levels;
    /** 5.1 pool errors (per minute). */
    pgbouncerErrorsPerMinute: Levels;
    /** 5.2 connections against max_connections and CONNECTION LIMITs (percent). */
    postgresConnectionsPercent: Levels;
    /** 5.3 connected_clients (clients). */
    redisConnectedClients: Levels;
    /** 5.3 blocked_clients (clients). */
    redisBlockedClients: Levels;
    /** 5.3 rejected_connections (per minute). */
    redisRejectedPerMinute: Levels;
}

/** Section 5's levels from the plan's keys (plan.monitoring.thresholds, plan.redis). */
export function sectionFiveLevels(thresholds: Thresholds, redis: { warningClients: number; criticalClients: number }): SectionFiveLevels {
    return {
        pgbouncerClientsPercent: { warning: thresholds.pgbouncerClientsWarningPercent, critical: thresholds.pgbouncerClientsCriticalPercent },
        pgbouncerServersPercent: { warning: thresholds.pgbouncerServersWarningPercent, critical: thresholds.pgbouncerServersCriticalPercent },
        pgbouncerWaitMs: { warning: thresholds.pgbouncerWaitWarningMs, critical: thresholds.pgbouncerWaitCriticalMs },
        pgbouncerErrorsPerMinute: { warning: thresholds.pgbouncerErrorsWarningPerMinute, critical: thresholds.pgbouncerErrorsCriticalPerMinute },
        postgresConnectionsPercent: { warning: thresholds.postgresConnectionsWarningPercent, critical: thresholds.postgresConnectionsCriticalPercent },
        redisConnectedClients: { warning: redis.warningClients, critical: redis.criticalClients },
        redisBlockedClients: { warning: thresholds.redisBlockedWarning, critical: thresholds.redisBlockedCritical },
        redisRejectedPerMinute: { warning: thresholds.redisRejectedWarningPerMinute, critical: thresholds.redisRejectedCriticalPerMinute },
    };
}
