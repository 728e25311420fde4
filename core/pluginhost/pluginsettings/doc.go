// Package pluginsettings owns each plugin's per-unit settings: the manifest's schema plus an enabled switch,
// scoped, inherited and saved like every setting (ORG-8) through core/settings, one section "plugin.<id>".
// It must never return or store a secret in clear: secrets are sealed at rest and shown only as {"set": true}.
package pluginsettings
