// Command pulumi-tfgen-docker generates the Pulumi schema for our docker provider.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"zentoria.local/toolchain/providers/docker/provider"
)

func main() { tfgen.Main("docker", provider.Version, provider.Info()) }
