// Package shim exposes the SDKv2 part of the upstream terraform-provider-docker
// (kreuzwerker). It lives under the upstream module's import path so that it
// may import the upstream's internal/provider package (Go's internal rule is
// checked by import path).
package shim

import (
	"github.com/hashicorp/terraform-plugin-sdk/v2/helper/schema"
	upstream "github.com/terraform-providers/terraform-provider-docker/internal/provider"
)

// NewProvider returns the upstream SDKv2 provider. The upstream's
// plugin-framework half (docker_compose, docker_containers,
// docker_registry_image_tags, actions) is not exposed: the @pulumi/docker npm
// SDK has no resources for it.
func NewProvider(version string) *schema.Provider { return upstream.New(version)() }
