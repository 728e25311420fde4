package e2e

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportRules enforces ARCHITECTURE.md's rules between rooms:
// plugins and sdk never import core; core and sdk never import plugins.
func TestImportRules(t *testing.T) {
	const mod = "github.com/tetherhq/tether/"
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", "../...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	checked := 0
	for dec.More() {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		checked++
		room := strings.SplitN(strings.TrimPrefix(p.ImportPath, mod), "/", 2)[0]
		for _, imp := range append(append(p.Imports, p.TestImports...), p.XTestImports...) {
			if !strings.HasPrefix(imp, mod) {
				continue
			}
			target := strings.SplitN(strings.TrimPrefix(imp, mod), "/", 2)[0]
			switch {
			case (room == "plugins" || room == "sdk") && target == "core":
				t.Errorf("%s imports %s: plugins and sdk may not import core", p.ImportPath, imp)
			case (room == "core" || room == "sdk") && target == "plugins":
				t.Errorf("%s imports %s: only cmd/ wires plugins in", p.ImportPath, imp)
			}
		}
		if p.ImportPath == mod+"core/session" {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, mod+"core/store") || imp == "database/sql" || strings.Contains(imp, "uptrace/bun") {
					t.Errorf("%s imports %s: core/session is pure, no I/O", p.ImportPath, imp)
				}
			}
		}
	}
	if checked < 10 {
		t.Fatalf("only %d packages listed; the check is not looking at the module", checked)
	}
}
