// Package provider holds the Pulumi bridge configuration for our own build of
// the "docker" resource provider (upstream: kreuzwerker/terraform-provider-docker,
// SDKv2 part). Tokens and property names follow the @pulumi/docker npm SDK.
package provider

import (
	"github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfbridge"
	shimv2 "github.com/pulumi/pulumi-terraform-bridge/v3/pkg/tfshim/sdk-v2"
	"github.com/terraform-providers/terraform-provider-docker/shim"
)

// Version is stamped at build time with -ldflags -X (the @pulumi/docker npm SDK version).
var Version = "0.0.0-dev"

func res(name string) *tfbridge.ResourceInfo {
	return &tfbridge.ResourceInfo{Tok: tfbridge.MakeResource("docker", "index", name)}
}

func fn(name string) *tfbridge.DataSourceInfo {
	return &tfbridge.DataSourceInfo{Tok: tfbridge.MakeDataSource("docker", "index", name)}
}

// Info returns the bridge ProviderInfo.
func Info() tfbridge.ProviderInfo {
	container := res("Container")
	container.DeleteBeforeReplace = true
	container.Fields = map[string]*tfbridge.SchemaInfo{
		// A list, but one command: keep the singular name the SDK uses.
		"command":           {Name: "command"},
		"networks_advanced": {Name: "networksAdvanced"},
	}
	remoteImage := res("RemoteImage")
	remoteImage.Fields = map[string]*tfbridge.SchemaInfo{"name": {Name: "name"}}

	info := tfbridge.ProviderInfo{
		P:            shimv2.NewProvider(shim.NewProvider(Version)),
		Name:         "docker",
		Version:      Version,
		Description:  "Docker resources for Pulumi programs (Zentoria toolchain build).",
		MetadataInfo: tfbridge.NewProviderMetadata(nil),
		Config: map[string]*tfbridge.SchemaInfo{
			"host": {Default: &tfbridge.DefaultInfo{
				Value:   "unix:///var/run/docker.sock",
				EnvVars: []string{"DOCKER_HOST"},
			}},
			"registry_auth": {Name: "registryAuth", MaxItemsOne: tfbridge.False()},
		},
		Resources: map[string]*tfbridge.ResourceInfo{
			"docker_buildx_builder": res("BuildxBuilder"),
			"docker_config":         res("ServiceConfig"),
			"docker_container":      container,
			"docker_image":          remoteImage,
			"docker_network":        res("Network"),
			"docker_plugin":         res("Plugin"),
			"docker_registry_image": res("RegistryImage"),
			"docker_secret":         res("Secret"),
			"docker_service":        res("Service"),
			"docker_tag":            res("Tag"),
			"docker_volume":         res("Volume"),
		},
		DataSources: map[string]*tfbridge.DataSourceInfo{
			"docker_image":                    fn("getRemoteImage"),
			"docker_logs":                     fn("getLogs"),
			"docker_network":                  fn("getNetwork"),
			"docker_plugin":                   fn("getPlugin"),
			"docker_registry_image":           fn("getRegistryImage"),
			"docker_registry_image_manifests": fn("getRegistryImageManifests"),
		},
	}
	// Like the official provider: "name" inputs become optional and are
	// auto-named from the Pulumi resource name.
	info.SetAutonaming(255, "-")
	return info
}
