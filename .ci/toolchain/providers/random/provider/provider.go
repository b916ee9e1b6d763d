// Package provider holds the Pulumi bridge configuration for our own build of
// the "random" resource provider (upstream: terraform-provider-random, a
// terraform-plugin-framework provider).
package provider

import (
	pf "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/pf/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	"github.com/terraform-providers/terraform-provider-random/shim"
)

// Version is stamped at build time with -ldflags -X (the @pulumi/random npm SDK version).
var Version = "0.0.0-dev"

// Info returns the bridge ProviderInfo. Every TF type random_<x> becomes
// random:index/random<X>:Random<X>, which is what the @pulumi/random SDK uses.
func Info() tfbridge.ProviderInfo {
	info := tfbridge.ProviderInfo{
		P:            pf.ShimProvider(shim.NewProvider()),
		Name:         "random",
		Version:      Version,
		Description:  "Random values for Pulumi programs (Zentoria toolchain build).",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
	}
	standard := tokens.MakeStandard("random")
	info.MustComputeTokens(tokens.SingleModule("random_", "index",
		func(module, name string) (string, error) { return standard(module, "Random"+name) }))
	return info
}
