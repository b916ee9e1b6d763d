// The stack a user deploys with the defaults, for real: the default prefix and host names
// (zentoria-db, zentoria-postgres, zentoria-redis), PostgreSQL 17 with pgvector, PgBouncer 1.24
// and Redis 8 stand-ins, and the monitoring part on its stand-ins. One deployment, checked
// section by section.
import { useDefaultStack } from "./support/defaultStack";
import { describeInNetwork } from "./sections/inNetwork";
import { describeAttacks } from "./sections/attacks";
import { describeMonitoring } from "./sections/monitoring";
import { ChangeResult, describeLiveChanges } from "./sections/liveChanges";
import { describeOperations } from "./sections/operations";

jest.setTimeout(15 * 60 * 1000);

const stack = useDefaultStack();

describe("on the stack's network, with the default host names (issues 11, 16)", () => describeInNetwork(stack));
// Before the sections that load the stack or are refused logins: those cross section 5's levels.
describe("section 5: exporters, Prometheus and its alerts (issue 12)", () => describeMonitoring(stack));
describe("operating the stack: npm run status (issue 17)", () => describeOperations(stack));
describe("attacks on the default stack: each must be refused (issue 11)", () => describeAttacks(stack));

const changes: ChangeResult[] = [];
describe("changes under load: reload, don't replace (issue 13)", () => describeLiveChanges(stack, changes));
