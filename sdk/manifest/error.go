package manifest

import (
	"sort"
	"strings"
)

// Codes of an *Error.
const (
	// CodeInvalid: plugin.json breaks a rule; Fields says which, by JSON path.
	CodeInvalid = "invalid_manifest"
	// CodeHubTooOld: the hub is older than the manifest's min_hub_version.
	CodeHubTooOld = "hub_too_old"
)

// Error is a refused manifest (Parse) or hub version (CompatibleWith). It
// names every problem at once, keyed by JSON path ("settings[2].type").
type Error struct {
	Code    string            // CodeInvalid or CodeHubTooOld
	Message string            // one readable sentence
	Fields  map[string]string // JSON path -> why it was refused
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Code + ": " + e.Message
	}
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return e.Code + ": " + e.Message + " (" + strings.Join(parts, "; ") + ")"
}
