// Command ackplugin acknowledges every event without doing anything: the
// delivery benchmarks measure the hub's side of a real plugin process.
package main

import (
	"context"

	"github.com/tetherhq/tether/sdk"
)

type plugin struct{}

var _ sdk.EventHandler = plugin{}

func (plugin) Describe() sdk.Description {
	return sdk.Description{ID: "ack", Name: "Ack", Version: "1.0.0"}
}

func (plugin) HandleEvent(context.Context, sdk.Event) sdk.Result { return sdk.Acked() }

func main() { sdk.Serve(plugin{}) }
