// Package plugintest tests Tether plugins in isolation: an in-memory fake of
// the host API (FakeHost) and a harness that builds and runs a real plugin
// process against it (Build, Run, Self, ServeIfHelper). Test code only.
package plugintest
