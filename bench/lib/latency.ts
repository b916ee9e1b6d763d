// Percentiles and throughput computed from pgbench's per-transaction logs (--log), not from its
// summary: several pgbench processes run at once, and the warm-up is left out.
import * as fs from "fs";
import * as path from "path";
import * as readline from "readline";
import type { LatencySummary } from "./results";

/** One pgbench process' transactions: completion time (ms since the epoch) and latency (µs, -1: failed). */
export interface TransactionLog {
    completedMs: number[];
    latencyUs: number[];
}

/** Reads every log file pgbench wrote under `prefix` (`<prefix>.<pid>` and `<prefix>.<pid>.<thread>`). */
export async function readTransactionLog(prefix: string): Promise<TransactionLog> {
    const dir = path.dirname(prefix);
    const base = `${path.basename(prefix)}.`;
    const log: TransactionLog = { completedMs: [], latencyUs: [] };
    for (const name of fs.readdirSync(dir).filter((entry) => entry.startsWith(base))) {
        const lines = readline.createInterface({ input: fs.createReadStream(path.join(dir, name)), crlfDelay: Infinity });
        for await (const line of lines) {
            // client_id transaction_no time script_no time_epoch time_us [schedule_lag] [retries]
            const fields = line.split(" ");
            if (fields.length < 6) {
                continue;
            }
            const completed = Number(fields[4]) * 1000 + Number(fields[5]) / 1000;
            if (!Number.isFinite(completed)) {
                continue;
            }
            const time = fields[2];
            if (time === "skipped") {
                continue;
            }
            const latency = Number(time);
            log.completedMs.push(completed);
            // "failed", "serialization" or "deadlock": a transaction that ended in an error.
            log.latencyUs.push(Number.isFinite(latency) ? latency : -1);
        }
    }
    return log;
}

export function percentile(sorted: Float64Array, fraction: number): number {
    if (sorted.length === 0) {
        return NaN;
    }
    const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(fraction * sorted.length) - 1));
    return sorted[rank];
}

const round = (value: number, digits = 3) => Math.round(value * 10 ** digits) / 10 ** digits;

export function latencySummary(latenciesUs: Float64Array): LatencySummary | null {
    if (latenciesUs.length === 0) {
        return null;
    }
    const sorted = latenciesUs.slice().sort();
    let sum = 0;
    for (const value of sorted) {
        sum += value;
    }
    return {
        count: sorted.length,
        meanMs: round(sum / sorted.length / 1000),
        p50Ms: round(percentile(sorted, 0.5) / 1000),
        p90Ms: round(percentile(sorted, 0.9) / 1000),
        p99Ms: round(percentile(sorted, 0.99) / 1000),
        maxMs: round(sorted[sorted.length - 1] / 1000),
    };
}

export interface WindowSummary {
    windowStartMs: number;
    windowEndMs: number;
    windowSeconds: number;
    transactionsInWindow: number;
    failedInWindow: number;
    transactionsTotal: number;
    tps: number;
    latency: LatencySummary | null;
    longestStallMs: number;
    timeline?: { binMs: number; ok: number[]; failed: number[] };
}

/**
 * Throughput and latency over a window. "common": from the latest first transaction of any
 * process plus the warm-up to the earliest last one (every process running: a steady state);
 * "whole": from the first transaction (or `startedMs` plus the warm-up) to the last one (fault
 * runs, where the dips are the point).
 */
export function summariseWindow(logs: readonly TransactionLog[], options: { mode: "common" | "whole"; warmupMs: number; startedMs: number; timelineBinMs?: number }): WindowSummary {
    const active = logs.filter((log) => log.completedMs.length > 0);
    const total = logs.reduce((sum, log) => sum + log.completedMs.length, 0);
    if (active.length === 0) {
        return { windowStartMs: options.startedMs, windowEndMs: options.startedMs, windowSeconds: 0, transactionsInWindow: 0, failedInWindow: 0, transactionsTotal: 0, tps: 0, latency: null, longestStallMs: 0 };
    }
    const firsts = active.map((log) => log.completedMs.reduce((min, value) => (value < min ? value : min), Infinity));
    const lasts = active.map((log) => log.completedMs.reduce((max, value) => (value > max ? value : max), -Infinity));
    let start: number;
    let end: number;
    if (options.mode === "common") {
        start = Math.max(...firsts) + options.warmupMs;
        end = Math.min(...lasts);
        if (end - start < 500) {
            // Too short for a common window (smoke runs): everything after the warm-up.
            start = Math.min(...firsts);
            end = Math.max(...lasts);
        }
    } else {
        start = Math.max(options.startedMs + options.warmupMs, Math.min(...firsts));
        end = Math.max(...lasts);
    }
    const inWindow: number[] = [];
    let failed = 0;
    const all: number[] = [];
    for (const log of active) {
        for (let index = 0; index < log.completedMs.length; index++) {
            const at = log.completedMs[index];
            all.push(at);
            if (at < start || at > end) {
                continue;
            }
            const latency = log.latencyUs[index];
            if (latency < 0) {
                failed++;
            } else {
                inWindow.push(latency);
            }
        }
    }
    const sortedTimes = Float64Array.from(all).sort();
    let stall = 0;
    for (let index = 1; index < sortedTimes.length; index++) {
        stall = Math.max(stall, sortedTimes[index] - sortedTimes[index - 1]);
    }
    const windowSeconds = Math.max(0.001, (end - start) / 1000);
    const summary: WindowSummary = {
        windowStartMs: start,
        windowEndMs: end,
        windowSeconds: round(windowSeconds, 2),
        transactionsInWindow: inWindow.length,
        failedInWindow: failed,
        transactionsTotal: total,
        tps: round(inWindow.length / windowSeconds, 1),
        latency: latencySummary(Float64Array.from(inWindow)),
        longestStallMs: Math.round(stall),
    };
    if (options.timelineBinMs) {
        const bin = options.timelineBinMs;
        const bins = Math.max(1, Math.ceil((Math.max(...lasts) - options.startedMs) / bin) + 1);
        const ok = new Array<number>(bins).fill(0);
        const bad = new Array<number>(bins).fill(0);
        for (const log of active) {
            log.completedMs.forEach((at, index) => {
                const slot = Math.max(0, Math.floor((at - options.startedMs) / bin));
                if (slot < bins) {
                    (log.latencyUs[index] < 0 ? bad : ok)[slot]++;
                }
            });
        }
        summary.timeline = { binMs: bin, ok, failed: bad };
    }
    return summary;
}
