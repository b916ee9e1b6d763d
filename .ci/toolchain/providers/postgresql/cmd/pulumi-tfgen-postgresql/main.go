// Command pulumi-tfgen-postgresql generates the Pulumi schema for our postgresql provider.
package main

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfgen"

	"zentoria.local/toolchain/providers/postgresql/provider"
)

func main() { tfgen.Main("postgresql", provider.Version, provider.Info()) }
