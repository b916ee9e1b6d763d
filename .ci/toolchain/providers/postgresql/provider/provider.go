// Package provider holds the Pulumi bridge configuration for our own build of
// the "postgresql" resource provider. Upstream: the newest
// terraform-provider-postgresql release that the Go module proxy serves here
// (github.com/terraform-providers/terraform-provider-postgresql v1.7.1, a
// terraform-plugin-sdk v1 provider; see .ci/toolchain/versions.env).
// Tokens and property names follow the @pulumi/postgresql npm SDK.
package provider

import (
	"fmt"

	"github.com/hashicorp/terraform-plugin-sdk/helper/schema"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge/tokens"
	sdkv1 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v1"
	upstream "github.com/terraform-providers/terraform-provider-postgresql/postgresql"
)

// Version is stamped at build time with -ldflags -X (the @pulumi/postgresql npm SDK version).
var Version = "0.0.0-dev"

// Info returns the bridge ProviderInfo.
func Info() tfbridge.ProviderInfo {
	tf, ok := upstream.Provider().(*schema.Provider)
	if !ok {
		panic(fmt.Sprintf("unexpected upstream provider type %T", upstream.Provider()))
	}
	info := tfbridge.ProviderInfo{
		P:            sdkv1.NewProvider(tf),
		Name:         "postgresql",
		Version:      Version,
		Description:  "PostgreSQL resources for Pulumi programs (Zentoria toolchain build).",
		GitHubOrg:    "terraform-providers",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Config: map[string]*tfbridge.SchemaInfo{
			"sslmode": {Default: &tfbridge.DefaultInfo{EnvVars: []string{"PGSSLMODE"}}},
			"connect_timeout": {Default: &tfbridge.DefaultInfo{
				EnvVars: []string{"PGCONNECT_TIMEOUT"},
				Value:   180,
			}},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"postgresql_grant": {
				Tok:                 tfbridge.MakeResource("postgresql", "index", "Grant"),
				DeleteBeforeReplace: true,
			},
		},
	}
	// The SDK knows postgresql_default_privileges under two tokens:
	// DefaultPrivileges and the older DefaultPrivileg.
	info.RenameResourceWithAlias("postgresql_default_privileges",
		tfbridge.MakeResource("postgresql", "index", "DefaultPrivileg"),
		tfbridge.MakeResource("postgresql", "index", "DefaultPrivileges"),
		"index", "index", nil)
	// Everything else: postgresql_<x> -> postgresql:index/<x>:<X>.
	info.MustComputeTokens(tokens.SingleModule("postgresql_", "index", tokens.MakeStandard("postgresql")))
	// "name" inputs are optional and auto-named, as in the official provider.
	info.SetAutonaming(255, "-")
	return info
}
