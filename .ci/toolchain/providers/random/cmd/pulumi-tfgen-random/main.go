// Command pulumi-tfgen-random generates the Pulumi schema for our random provider.
package main

import (
	pftfgen "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfgen"

	"zentoria.local/toolchain/providers/random/provider"
)

func main() { pftfgen.Main("random", provider.Info()) }
