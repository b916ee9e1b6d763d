// Command pulumi-resource-docker is the Pulumi resource provider plugin.
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"

	"zentoria.local/toolchain/providers/docker/provider"
)

// schema.json is generated at build time by pulumi-tfgen-docker and supplied
// to the compiler with -overlay; it is not committed.
//
//go:embed schema.json
var schema []byte

func main() { tfbridge.Main("docker", provider.Version, provider.Info(), schema) }
