package org

import (
	"strings"

	"github.com/tetherhq/tether/core/fault"
)

// MaxAttributes bounds a technician's skills and languages: routing filters
// iterate these lists, so their length is part of every filter's cost bound
// (routing.MaxListLen).
const MaxAttributes = 32

// Attributes are a technician's routing attributes, edited by administrators.
type Attributes struct {
	// Skills are free names such as "printers" or "networking".
	Skills []string `json:"skills" validate:"max=32,dive,min=1,max=64"`
	// Languages are the languages the technician speaks, BCP 47 tags ("en", "fr-CA").
	Languages []string `json:"languages" validate:"max=32,dive,min=1,max=64"`
}

// normaliseList trims every item and drops repeats, keeping the first
// spelling; a nil list stays nil (a patch leaving the field alone).
func normaliseList(in []string) []string {
	if in == nil {
		return nil
	}
	out := make([]string, 0, len(in))
	seen := make(map[string]bool, len(in))
	for _, s := range in {
		s = strings.TrimSpace(s)
		if s != "" && seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// checkAttributes refuses routing attributes on members who are not
// technicians: only technicians are routed sessions.
func checkAttributes(role Kind, skills, languages []string) error {
	if role == KindTechnician {
		return nil
	}
	fields := map[string]string{}
	if len(skills) > 0 {
		fields["skills"] = "only technicians have skills"
	}
	if len(languages) > 0 {
		fields["languages"] = "only technicians have languages"
	}
	if len(fields) > 0 {
		return fault.Fields(fields)
	}
	return nil
}

func deref(l *[]string) []string {
	if l == nil {
		return nil
	}
	return *l
}
