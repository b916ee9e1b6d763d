// Package shim exposes the upstream terraform-provider-random framework
// provider. It lives under the upstream module's import path so that it may
// import the upstream's internal/provider package (Go's internal rule is
// checked by import path).
package shim

import (
	fwprovider "github.com/hashicorp/terraform-plugin-framework/provider"
	upstream "github.com/terraform-providers/terraform-provider-random/internal/provider"
)

// NewProvider returns the upstream plugin-framework provider.
func NewProvider() fwprovider.Provider { return upstream.New() }
