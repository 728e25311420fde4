// Package org owns the organisation tree (ORG-*, CH-1..CH-3): the root, admin
// and technician groups, members, the ten channels, and who may see or change
// which unit. It stores rows in nodes, members, admin_tech_groups, channels,
// channel_groups and channel_exclusions; it never hashes passwords or resolves settings.
package org
