package httpapi_test

import (
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// TestMemberSkillsAndLanguages: administrators set a technician's routing
// attributes through the members endpoints; the tree and search show them.
func TestMemberSkillsAndLanguages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		e := newEnv(t, db)
		tok := e.master()
		g := e.create(tok, "/api/v1/tech-groups", map[string]any{"name": "Level 1"})
		id := e.create(tok, "/api/v1/members", map[string]any{"role": "technician", "group_id": g, "name": "Grace",
			"email": "grace@example.com", "skills": []string{"printers"}, "languages": []string{"en", "fr"}})

		r := e.do("PATCH", fmt.Sprintf("/api/v1/members/%d", id), tok, map[string]any{"skills": []string{"printers", "scanners"}})
		var m struct {
			Skills    []string `json:"skills"`
			Languages []string `json:"languages"`
		}
		r.json(t, &m)
		if r.Status != http.StatusOK || !reflect.DeepEqual(m.Skills, []string{"printers", "scanners"}) || !reflect.DeepEqual(m.Languages, []string{"en", "fr"}) {
			t.Fatalf("patch: %d %s", r.Status, r.Body)
		}
		if r := e.do("GET", "/api/v1/org/tree", tok, nil); !strings.Contains(string(r.Body), `"skills":["printers","scanners"]`) {
			t.Fatalf("tree lacks the skills: %s", r.Body)
		}
		if r := e.do("GET", "/api/v1/org/search?q=scanners", tok, nil); !strings.Contains(string(r.Body), `"name":"Grace"`) {
			t.Fatalf("search by skill: %s", r.Body)
		}

		long := strings.Repeat("x", 65)
		r = e.do("PATCH", fmt.Sprintf("/api/v1/members/%d", id), tok, map[string]any{"languages": []string{"en", long}})
		_, _, fields := r.errorShape(t)
		if r.Status != http.StatusUnprocessableEntity || fields["languages[1]"] == "" {
			t.Fatalf("too long a language: %d %s", r.Status, r.Body)
		}
	})
}
