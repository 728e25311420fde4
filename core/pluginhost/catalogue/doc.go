// Package catalogue owns the plugins table and the plugins directory: installing (from a directory or a
// .tar.gz, safely), registering bundled plugins, pinning each executable's SHA-256, enable/disable and state.
// It must not start or talk to plugin processes; the supervisor runs what the catalogue describes.
package catalogue
