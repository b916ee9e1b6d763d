// The Zentoria data tier's policy pack: `pulumi preview --policy-pack policy` (see "Reviewing a change" in README.md).
import { PolicyPack } from "@pulumi/policy";
import { zentoriaPolicies } from "./policies";

new PolicyPack("zentoria-data-tier", {
    description: "Security and data-loss rules of the Zentoria data tier (mandatory) and container hygiene (advisory).",
    policies: zentoriaPolicies(),
});
