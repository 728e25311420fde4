package main

import (
	"github.com/tetherhq/tether/core/pluginhost"
	"github.com/tetherhq/tether/plugins/posturl"
	"github.com/tetherhq/tether/sdk"
)

// bundledPlugin is a first-party plugin compiled into this binary and run
// as `tether plugin run <id>`.
type bundledPlugin struct {
	manifest []byte
	new      func() sdk.Plugin
}

// bundled lists the first-party plugins by id; only cmd/tether knows them
// (core never imports plugins/*).
var bundled = map[string]bundledPlugin{
	"posturl": {manifest: posturl.Manifest, new: func() sdk.Plugin { return posturl.New() }},
}

func bundledManifests() []pluginhost.Bundled {
	out := make([]pluginhost.Bundled, 0, len(bundled))
	for _, b := range bundled {
		out = append(out, pluginhost.Bundled{Manifest: b.manifest})
	}
	return out
}
