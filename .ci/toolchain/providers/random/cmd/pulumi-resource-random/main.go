// Command pulumi-resource-random is the Pulumi resource provider plugin.
package main

import (
	"context"
	_ "embed"

	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"

	"zentoria.local/toolchain/providers/random/provider"
)

// schema.json is generated at build time by pulumi-tfgen-random and supplied
// to the compiler with -overlay; it is not committed.
//
//go:embed schema.json
var schema []byte

func main() {
	pf.Main(context.Background(), "random", provider.Info(), pf.ProviderMetadata{PackageSchema: schema})
}
